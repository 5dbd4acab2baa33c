// WaitGroup: waiting, the defer-style guard, cancellation, and misuse.
#include <atomic>
#include <stdexcept>

#include "spindle/spindle.hpp"
#include "support/log_capture.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

SPINDLE_TEST("wait() returns when the count reaches zero, across threads") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    WaitGroup wg;
    CHECK_FALSE(co_await wg.wait(ctx));  // zero: at once
    std::atomic<int> done{0};
    for (int i = 0; i < 100; ++i) {
      wg.add(1);
      go({ctx, "worker", Placement::spread}, [&](Context c) -> Task<> {
        auto guard = wg.done_on_exit();
        co_await sleep(c, 1ms);
        ++done;
      }).detach();
    }
    CHECK_FALSE(co_await wg.wait(ctx));
    CHECK(done == 100);
    CHECK(wg.count() == 0);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a waiting fiber is released by its context, and the count is untouched") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    WaitGroup wg;
    wg.add(1);
    auto [short_ctx, cancel] = with_timeout(ctx, 10ms);
    CHECK(co_await wg.wait(short_ctx) == Errc::deadline_exceeded);
    CHECK(wg.count() == 1);
    wg.done();
    CHECK_FALSE(co_await wg.wait(ctx));
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("the counter going below zero is a clear error, not undefined behaviour") {
  WaitGroup wg;
  CHECK_THROWS_WITH_AS(wg.done(), doctest::Contains("counter below zero"), std::logic_error);
  CHECK(wg.count() == 0);  // unchanged
  wg.add(2);
  CHECK_THROWS_AS(wg.add(-3), std::logic_error);
  CHECK(wg.count() == 2);
  test::LogCapture logs;
  {
    WaitGroup other;
    auto guard = other.done_on_exit();  // done() without add(): logged by the guard
  }
  CHECK(logs.text().find("counter below zero") != std::string::npos);
}

TEST_SUITE_END();
