// SchedulerOptions::idle_spin: a worker out of work polls through short gaps instead of
// sleeping, still sleeps once a gap outlasts the spin, and with 0 never polls.
#include <pthread.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
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

/// Worker 0 waits on a 1 ms timer `gaps` times in a row, each armed when the last fired;
/// returns how many times the worker slept meanwhile. The timers are the worker's own, so no
/// other thread touches its io_context (and its mutex) until the last one has fired.
long sleeps_through_gaps(Scheduler& sched, int gaps) {
  const WorkerThread worker = worker_thread(sched);
  struct TimerChain {
    asio::steady_timer timer;
    int left;
    std::promise<void> done;
    void arm() {
      timer.expires_after(1ms);
      timer.async_wait([this](std::error_code) {
        if (--left == 0) {
          done.set_value();
        } else {
          arm();
        }
      });
    }
  };
  TimerChain chain{asio::steady_timer(sched.io_context(0)), gaps, {}};
  std::future<void> done = chain.done.get_future();
  const long before = times_slept(worker.tid);
  asio::post(sched.io_context(0), [&] { chain.arm(); });
  done.wait();
  return times_slept(worker.tid) - before;
}

/// A fiber on worker 0 sends `rounds` values to a fiber on worker 1 and waits for each to
/// come back; returns how many times worker 0 slept meanwhile.
long sleeps_in_ping_pong(Scheduler& sched, int rounds) {
  const WorkerThread worker = worker_thread(sched);
  const long before = times_slept(worker.tid);
  sched.block_on([rounds](Context ctx) -> Task<> {
    Channel<int> ping, pong;
    auto ponger = go({ctx, "ponger", 1u}, [](Context c, Channel<int> in, Channel<int> out) -> Task<> {
      while (auto v = co_await in.recv(c)) co_await out.send(c, *v);
    }, ping, pong);
    auto pinger = go({ctx, "pinger", 0u}, [rounds](Context c, Channel<int> out, Channel<int> in) -> Task<> {
      for (int i = 0; i < rounds; ++i) {
        co_await out.send(c, i);
        co_await in.recv(c);
      }
      out.close();
    }, ping, pong);
    co_await pinger.join(ctx);
    co_await ponger.join(ctx);
  });
  return times_slept(worker.tid) - before;
}

}  // namespace

SPINDLE_TEST("idle_spin: a worker polls through gaps shorter than the spin instead of sleeping") {
  Scheduler sleeper({.threads = 1, .idle_spin = 0us});
  Scheduler spinner({.threads = 1, .idle_spin = 50ms});
  const long slept_at_once = sleeps_through_gaps(sleeper, 100);
  const long slept_after_spin = sleeps_through_gaps(spinner, 100);
  CAPTURE(slept_at_once);
  CAPTURE(slept_after_spin);
  CHECK(slept_at_once >= 90);  // it waited for nearly every timer in epoll_wait
  CHECK(slept_after_spin < 10);  // it polled through them
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

SPINDLE_TEST("idle_spin 0: a worker waiting for another worker's reply sleeps instead of polling") {
  Scheduler sched({.threads = 2, .idle_spin = 0us});
  const long slept = sleeps_in_ping_pong(sched, 200);
  CAPTURE(slept);
  // Nearly every round leaves worker 0 with nothing to run until the reply: it sleeps then
  // (the odd reply may land before it has gone to sleep). Polling would have caught them all.
  CHECK(slept >= 100);
  CHECK(sched.shutdown(1s).empty());
}
