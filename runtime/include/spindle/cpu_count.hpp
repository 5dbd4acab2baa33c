// How many CPUs this process may really use: what a default thread count should follow.
#pragma once

#include <optional>
#include <string>

namespace spindle {

/// The CPUs the process may run on (its affinity mask), capped by its cgroup's CPU limit
/// (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`) rounded up — so
/// that in a container limited to 2 CPUs on a 64-CPU node it is 2, not 64. At least 1.
unsigned available_cpus();

namespace detail {

/// The CPU limit of the cgroup at `dir` (a cgroup v2 folder holding `cpu.max`, or a v1
/// cpu-controller folder), rounded up; nullopt when it has none or cannot be read.
std::optional<unsigned> cgroup_cpu_limit(const std::string& dir);

}  // namespace detail
}  // namespace spindle
