// Test support: Go's goleak for spindle.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "spindle/fiber_info.hpp"

namespace spindle::testing {

/// The fibers alive now (minus the ignore list) plus every fiber a shutdown reported as
/// leaked since the last call — which it forgets. Empty means no leak.
std::vector<FiberInfo> take_leaks();

/// Throws std::runtime_error naming every leak take_leaks() finds (goleak.VerifyNone).
/// Fibers that are still ending are given up to `settle` to finish first.
void verify_no_leaks(std::chrono::milliseconds settle = std::chrono::milliseconds(500));

/// The message verify_no_leaks() would throw; empty when there is no leak.
std::string describe_leaks(const std::vector<FiberInfo>& leaks);

}  // namespace spindle::testing
