// Reads a process's resident memory and CPU time from /proc, for tests that bound memory
// growth or CPU use (of this process or of a server child).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace spindle::test {

/// A /proc/<pid>/status field in KiB (VmRSS, VmHWM); pid 0 is this process. 0 if unreadable.
inline long status_kib(int pid, const std::string& field) {
  std::ifstream status(pid == 0 ? std::string("/proc/self/status") : "/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  while (status >> key) {
    if (key == field + ":") {
      status >> value;
      return value;
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

/// VmRSS of this process in KiB (0 if unreadable).
inline long rss_kib() { return status_kib(0, "VmRSS"); }

/// User + system CPU time of process `pid` so far, in clock ticks.
inline long cpu_ticks(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));  // the name may hold spaces
  std::string f;
  long ticks = 0;
  for (int i = 3; fields >> f && i <= 15; ++i)
    if (i == 14 || i == 15) ticks += std::stol(f);
  return ticks;
}

}  // namespace spindle::test
