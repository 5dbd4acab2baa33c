// SchedulerOptions::idle_spin: a worker out of work polls through short gaps instead of
// sleeping, and still sleeps once a gap outlasts the spin.
#include <pthread.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <ctime>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "spindle/spindle.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

namespace {

/// The kernel's and pthread's ids of worker 0's thread.
struct WorkerThread {
  pid_t tid;
  pthread_t handle;
};

WorkerThread worker_thread(Scheduler& sched) {
  sched.start();
  std::promise<WorkerThread> found;
  asio::post(sched.io_context(0), [&] { found.set_value({::gettid(), ::pthread_self()}); });
  return found.get_future().get();
}

/// How many times the thread has blocked (slept) so far: voluntary_ctxt_switches.
long times_slept(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string key;
  long value = -1;
  while (status >> key) {
    if (key == "voluntary_ctxt_switches:") {
      status >> value;
      break;
    }
    status.ignore(4096, '\n');
  }
  return value;
}

std::chrono::nanoseconds cpu_time(pthread_t thread) {
  clockid_t clock;
  REQUIRE(::pthread_getcpuclockid(thread, &clock) == 0);
  timespec ts{};
  REQUIRE(::clock_gettime(clock, &ts) == 0);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

/// Hands worker 0 `posts` empty handlers about 1 ms apart, each after the last has run;
/// returns how many times the worker slept meanwhile.
long sleeps_between_posts(Scheduler& sched, int posts) {
  const WorkerThread worker = worker_thread(sched);
  const long before = times_slept(worker.tid);
  for (int i = 0; i < posts; ++i) {
    std::this_thread::sleep_for(1ms);
    std::promise<void> ran;
    asio::post(sched.io_context(0), [&] { ran.set_value(); });
    ran.get_future().wait();
  }
  return times_slept(worker.tid) - before;
}

}  // namespace

SPINDLE_TEST("idle_spin: a worker polls through gaps shorter than the spin instead of sleeping") {
  Scheduler sleeper({.threads = 1, .idle_spin = 0us});
  Scheduler spinner({.threads = 1, .idle_spin = 50ms});
  const long slept_at_once = sleeps_between_posts(sleeper, 100);
  const long slept_after_spin = sleeps_between_posts(spinner, 100);
  CAPTURE(slept_at_once);
  CAPTURE(slept_after_spin);
  CHECK(slept_at_once >= 90);  // every post but the odd coalesced one found it asleep
  CHECK(slept_after_spin < slept_at_once / 4);
  CHECK(sleeper.shutdown(1s).empty());
  CHECK(spinner.shutdown(1s).empty());
}

SPINDLE_TEST("idle_spin: a worker with nothing to do sleeps once its spin is over") {
  Scheduler sched({.threads = 1, .idle_spin = 5ms});
  const WorkerThread worker = worker_thread(sched);  // ran a handler: the worker spins now
  const auto before = cpu_time(worker.handle);
  std::this_thread::sleep_for(300ms);
  const auto used = cpu_time(worker.handle) - before;
  CAPTURE(std::chrono::duration_cast<std::chrono::milliseconds>(used).count());
  CHECK(used < 100ms);  // spinning on would have used about 300 ms
  CHECK(sched.shutdown(1s).empty());
}
