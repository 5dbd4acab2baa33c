// available_cpus(): the affinity mask capped by the cgroup CPU limit.
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "spindle/spindle.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;

namespace {

/// A scratch cgroup folder holding the given files.
struct FakeCgroup {
  explicit FakeCgroup(std::initializer_list<std::pair<const char*, const char*>> files)
      : dir(std::filesystem::temp_directory_path() / ("spindle-cgroup-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(counter++))) {
    std::filesystem::create_directories(dir);
    for (auto [name, text] : files) std::ofstream(dir / name) << text;
  }
  ~FakeCgroup() { std::filesystem::remove_all(dir); }
  std::string path() const { return dir.string(); }
  static inline int counter = 0;
  std::filesystem::path dir;
};

}  // namespace

SPINDLE_TEST("cgroup CPU limits: v2 cpu.max and v1 quota/period, rounded up; none when unlimited") {
  CHECK(detail::cgroup_cpu_limit(FakeCgroup({{"cpu.max", "200000 100000\n"}}).path()) == 2u);
  CHECK(detail::cgroup_cpu_limit(FakeCgroup({{"cpu.max", "150000 100000\n"}}).path()) == 2u);
  CHECK(detail::cgroup_cpu_limit(FakeCgroup({{"cpu.max", "50000 100000\n"}}).path()) == 1u);
  CHECK_FALSE(detail::cgroup_cpu_limit(FakeCgroup({{"cpu.max", "max 100000\n"}}).path()));
  CHECK(detail::cgroup_cpu_limit(FakeCgroup({{"cpu.cfs_quota_us", "300000\n"}, {"cpu.cfs_period_us", "100000\n"}}).path()) ==
        3u);
  CHECK_FALSE(detail::cgroup_cpu_limit(FakeCgroup({{"cpu.cfs_quota_us", "-1\n"}, {"cpu.cfs_period_us", "100000\n"}}).path()));
  CHECK_FALSE(detail::cgroup_cpu_limit(FakeCgroup({{"cpu.max", "garbage\n"}}).path()));
  CHECK_FALSE(detail::cgroup_cpu_limit(FakeCgroup({}).path()));
}

SPINDLE_TEST("available_cpus() follows the affinity mask, and a default Scheduler has that many threads") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  const unsigned allowed = static_cast<unsigned>(CPU_COUNT(&set));
  CHECK(available_cpus() >= 1u);
  CHECK(available_cpus() <= allowed);
  // Pinned to one CPU (in a thread of its own, so the test process keeps its mask).
  unsigned pinned = 0;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) {
        CPU_SET(c, &one);
        break;
      }
    if (sched_setaffinity(0, sizeof one, &one) == 0) pinned = available_cpus();
  }).join();
  CHECK(pinned == 1u);
  Scheduler sched;
  CHECK(sched.thread_count() == available_cpus());
}

TEST_SUITE_END();
