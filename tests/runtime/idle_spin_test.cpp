// SchedulerOptions::idle_spin: a busy worker out of work polls through short gaps instead of
// sleeping, still sleeps once a gap outlasts the spin, spins for at most a quarter of the time
// it works, and with 0 never polls.
#include <pthread.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <ctime>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "spindle/detail/idle_spin_budget.hpp"
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

/// What worker 0 did through a chain of timers.
struct GapsOutcome {
  long sleeps;                   ///< times the worker slept
  std::chrono::nanoseconds cpu;  ///< the worker's CPU time
};

/// Worker 0 works for `work` (a busy loop), then waits on a timer of `gap`, `gaps` times in a
/// row. The timers are the worker's own, so no other thread touches its io_context (and its
/// mutex) until the last one has fired.
GapsOutcome work_through_gaps(Scheduler& sched, int gaps, std::chrono::microseconds gap,
                              std::chrono::microseconds work) {
  const WorkerThread worker = worker_thread(sched);
  struct TimerChain {
    asio::steady_timer timer;
    std::chrono::microseconds gap, work;
    int left;
    std::promise<void> done;
    void work_then_wait() {
      const auto until = std::chrono::steady_clock::now() + work;
      while (std::chrono::steady_clock::now() < until) {
      }
      timer.expires_after(gap);
      timer.async_wait([this](std::error_code) {
        if (--left == 0) {
          done.set_value();
        } else {
          work_then_wait();
        }
      });
    }
  };
  TimerChain chain{asio::steady_timer(sched.io_context(0)), gap, work, gaps, {}};
  std::future<void> done = chain.done.get_future();
  const long slept_before = times_slept(worker.tid);
  const auto cpu_before = cpu_time(worker.handle);
  asio::post(sched.io_context(0), [&] { chain.work_then_wait(); });
  done.wait();
  return {times_slept(worker.tid) - slept_before, cpu_time(worker.handle) - cpu_before};
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

SPINDLE_TEST("idle_spin: a busy worker polls through gaps shorter than the spin instead of sleeping") {
  Scheduler sleeper({.threads = 1, .idle_spin = 0us});
  Scheduler spinner({.threads = 1, .idle_spin = 50ms});
  // 3 ms of work earn 0.75 ms of spin: more than each 0.4 ms gap takes.
  const long slept_at_once = work_through_gaps(sleeper, 50, 400us, 3ms).sleeps;
  const long slept_after_spin = work_through_gaps(spinner, 50, 400us, 3ms).sleeps;
  CAPTURE(slept_at_once);
  CAPTURE(slept_after_spin);
  CHECK(slept_at_once >= 45);  // it waited for nearly every timer in epoll_wait
  CHECK(slept_after_spin < 5);  // it polled through them
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

SPINDLE_TEST("idle_spin: a mostly idle worker spins for at most a quarter of the time it works") {
  Scheduler sched({.threads = 1, .idle_spin = 2ms});
  // 60 rounds of 0.4 ms of work and a 3 ms gap: a full spin in every gap would add 120 ms of
  // CPU to the 24 ms of work; the budget allows 6 ms (and the 2 ms it starts with).
  const GapsOutcome outcome = work_through_gaps(sched, 60, 3ms, 400us);
  CAPTURE(std::chrono::duration_cast<std::chrono::milliseconds>(outcome.cpu).count());
  CHECK(outcome.cpu < 70ms);
  CHECK(outcome.sleeps >= 50);
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("IdleSpinBudget: work earns a quarter of its time in spin, up to four spins' worth") {
  using detail::IdleSpinBudget;
  const IdleSpinBudget::Clock::time_point t0{};
  IdleSpinBudget budget(20us, t0);
  CHECK(budget.gap_started(t0) == 20us);  // a fresh worker may spin once in full
  budget.gap_ended(t0 + 20us, 20us);         // and did, in vain
  CHECK(budget.gap_started(t0 + 60us) == 10us);  // 40 µs of work earned 10 µs
  budget.gap_ended(t0 + 64us, 4us);                // work came after 4 µs of polling
  CHECK(budget.credit() == 6us);
  CHECK(budget.gap_started(t0 + 64us) == 6us);   // no work in between: only what is left
  budget.gap_ended(t0 + 1064us, 6us);              // spun 6 µs, then slept
  CHECK(budget.gap_started(t0 + 1064us) == 0us);  // nothing left: sleep at once
  budget.gap_ended(t0 + 2000us, 0us);
  CHECK(budget.gap_started(t0 + 12000us) == 20us);  // 10 ms of work: a full spin again,
  CHECK(budget.credit() == 80us);                   // and the credit is held at four spins
}
