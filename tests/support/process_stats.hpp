// Reads this process's resident memory, for tests that bound memory growth.
#pragma once

#include <fstream>
#include <string>

namespace spindle::test {

/// VmRSS of this process in KiB (0 if unreadable).
inline long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      return value;
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

}  // namespace spindle::test
