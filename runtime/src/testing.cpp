#include "spindle/testing.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "spindle/detail/scheduler_core.hpp"

namespace spindle::testing {
namespace {

std::vector<FiberInfo> unignored_live() {
  auto live = live_fibers();
  std::erase_if(live, [](const FiberInfo& f) { return leak_ignored(f); });
  return live;
}

}  // namespace

std::vector<FiberInfo> take_leaks() {
  auto leaks = detail::take_recorded_leaks();
  auto live = unignored_live();
  leaks.insert(leaks.end(), live.begin(), live.end());
  return leaks;
}

std::string describe_leaks(const std::vector<FiberInfo>& leaks) {
  if (leaks.empty()) return {};
  std::string out = std::to_string(leaks.size()) + " leaked fiber(s):";
  for (const auto& f : leaks) out += "\n  " + to_string(f);
  return out;
}

void verify_no_leaks(std::chrono::milliseconds settle) {
  // Like goleak, give fibers that are on their way out a moment to finish.
  const auto until = std::chrono::steady_clock::now() + settle;
  while (!unignored_live().empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto message = describe_leaks(take_leaks());
  if (!message.empty()) throw std::runtime_error(message);
}

}  // namespace spindle::testing
