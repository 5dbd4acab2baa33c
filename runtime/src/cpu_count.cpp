#include "spindle/cpu_count.hpp"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace spindle {
namespace detail {
namespace {

/// ceil(quota / period), when both are positive numbers (a quota of "max" or -1: no limit).
std::optional<unsigned> cpus_from_quota(const std::string& quota, const std::string& period) {
  try {
    const long long q = std::stoll(quota), p = std::stoll(period);
    if (q <= 0 || p <= 0) return std::nullopt;
    return static_cast<unsigned>(std::max(1LL, (q + p - 1) / p));
  } catch (const std::exception&) {
    return std::nullopt;  // "max", or not a number
  }
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// The folders whose CPU limits apply to this process: its cgroup v2 folder and each parent
/// up to the mount (inside a container with its own cgroup namespace that is just the root),
/// then the cgroup v1 cpu controller's root.
std::vector<std::string> cgroup_folders() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("0::")) continue;
    std::string path = line.substr(3);
    for (;;) {
      out.push_back("/sys/fs/cgroup" + (path == "/" ? std::string() : path));
      if (path.empty() || path == "/") break;
      path = path.substr(0, path.rfind('/'));
      if (path.empty()) path = "/";
    }
  }
  out.push_back("/sys/fs/cgroup/cpu");
  out.push_back("/sys/fs/cgroup/cpu,cpuacct");
  return out;
}

}  // namespace

std::optional<unsigned> cgroup_cpu_limit(const std::string& dir) {
  std::istringstream v2(first_line(dir + "/cpu.max"));  // "max 100000" or "150000 100000"
  std::string quota, period;
  if (v2 >> quota >> period) return cpus_from_quota(quota, period);
  const std::string v1_quota = first_line(dir + "/cpu.cfs_quota_us");
  if (!v1_quota.empty()) return cpus_from_quota(v1_quota, first_line(dir + "/cpu.cfs_period_us"));
  return std::nullopt;
}

}  // namespace detail

unsigned available_cpus() {
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = std::max(1, CPU_COUNT(&set));
  for (const std::string& dir : detail::cgroup_folders())
    if (auto limit = detail::cgroup_cpu_limit(dir)) cpus = std::min(cpus, *limit);
  return cpus;
}

}  // namespace spindle
