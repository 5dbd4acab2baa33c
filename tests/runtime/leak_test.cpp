// The leak detector, the live view and the ignore list.
#include <atomic>
#include <string>
#include <thread>

#include "spindle/spindle.hpp"
#include "spindle/testing.hpp"
#include "support/log_capture.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

namespace {

// Parks on a context nobody cancels: shutdown's cancellation does not reach it.
constexpr int stuck_await_line = __LINE__ + 2;  // the await the report must name
Task<> stuck_forever(Context) {
  co_await background().wait();
}

}  // namespace

SPINDLE_TEST("shutdown names a leaked fiber by name, spawn line and await line") {
  test::LogCapture logs;
  Scheduler sched({.threads = 2});
  const int spawn_line = __LINE__ + 2;
  sched.block_on([](Context ctx) -> Task<> {
    go({ctx, "stubborn worker"}, stuck_forever).detach();
    co_return;
  });
  std::this_thread::sleep_for(10ms);
  const auto start = Clock::now();
  auto leaks = sched.shutdown(50ms);
  CHECK(Clock::now() - start >= 50ms);  // it waited the grace period
  REQUIRE(leaks.size() == 1);
  CHECK(leaks[0].name == "stubborn worker");
  CHECK(std::string(leaks[0].spawned_at.file_name()).ends_with("leak_test.cpp"));
  CHECK(leaks[0].spawned_at.line() == spawn_line);
  CHECK(std::string(leaks[0].parked_at.file_name()).ends_with("leak_test.cpp"));
  CHECK(leaks[0].parked_at.line() == stuck_await_line);
  CHECK(leaks[0].parent_id != 0);  // spawned by the main fiber
  CHECK(leaks[0].age >= 50ms);
  const auto text = logs.text();
  CHECK(text.find("error leaked fiber") != std::string::npos);
  CHECK(text.find("\"stubborn worker\"") != std::string::npos);
  CHECK(text.find("leak_test.cpp:" + std::to_string(spawn_line)) != std::string::npos);
  CHECK(text.find("parked at") != std::string::npos);
  // The shutdown destroyed it: nothing is left alive, and the recorded leak is reported once.
  CHECK(live_fiber_count() == 0);
  CHECK(testing::take_leaks().size() == 1);
  CHECK(testing::take_leaks().empty());
}

SPINDLE_TEST("a fiber stuck in an Asio wait without a context is reported and destroyed") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    go({ctx, "ignores ctx"}, [](Context c) -> Task<> {
      co_await sleep(background(), 1h);  // should have passed c
      (void)c;
    }).detach();
    co_return;
  });
  auto leaks = sched.shutdown(20ms);
  REQUIRE(leaks.size() == 1);
  CHECK(leaks[0].name == "ignores ctx");
  CHECK(leaks[0].canceled);  // its context was cancelled; it did not listen
  CHECK(live_fiber_count() == 0);
  testing::take_leaks();
}

SPINDLE_TEST("clean shutdowns report nothing") {
  for (int i = 0; i < 20; ++i) {
    Scheduler sched({.threads = 2});
    sched.block_on([](Context ctx) -> Task<> {
      for (int j = 0; j < 50; ++j)
        go(ctx, [](Context c) -> Task<> { co_await c.wait(); }).detach();
      co_return;
    });
    CHECK(sched.shutdown(1s).empty());
  }
  CHECK(testing::take_leaks().empty());
}

SPINDLE_TEST("a scheduler destroyed without shutdown still tears its fibers down") {
  {
    Scheduler sched({.threads = 2});
    sched.block_on([](Context ctx) -> Task<> {
      go(ctx, [](Context c) -> Task<> { co_await c.wait(); }).detach();
      go(ctx, [](Context c) -> Task<> { co_await sleep(c, 1h); }).detach();
      co_return;
    });
  }
  CHECK(live_fiber_count() == 0);
  testing::take_leaks();  // a zero grace may or may not let them finish in time
}

SPINDLE_TEST("the ignore list spares fibers meant to outlive shutdown") {
  ignore_leaks(LeakIgnore::named("background flusher"));
  ignore_leaks(LeakIgnore::spawned_at("leak_test.cpp:" + std::to_string(__LINE__ + 4)));
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    go({ctx, "background flusher"}, stuck_forever).detach();
    go({ctx, "other"}, stuck_forever).detach();
    co_return;
  });
  const auto start = Clock::now();
  auto leaks = sched.shutdown(5s);
  CHECK(Clock::now() - start < 5s);  // ignored fibers are not waited for
  CHECK(leaks.empty());
  clear_leak_ignores();
  CHECK(live_fiber_count() == 0);  // still destroyed at the end
}

SPINDLE_TEST("verify_no_leaks throws naming a live fiber") {
  Scheduler sched({.threads = 1});
  auto [ctx, cancel] = with_cancel(sched.context());
  sched.start();
  auto f = go({ctx, "lingering"}, [](Context c) -> Task<> { co_await c.wait(); });
  CHECK_THROWS_WITH(testing::verify_no_leaks(20ms),
                    doctest::Contains("\"lingering\""));
  cancel();
  f.wait_blocking();
  CHECK_NOTHROW(testing::verify_no_leaks());
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("the live view lists running fibers with their await site and deadline") {
  Scheduler sched({.threads = 2});
  sched.start();
  auto [ctx, cancel] = with_timeout(sched.context(), 1h);
  std::atomic<int> parked{0};
  std::vector<Fiber<>> fibers;
  for (int i = 0; i < 4; ++i)
    fibers.push_back(go({ctx, "viewed " + std::to_string(i)}, [&](Context c) -> Task<> {
      ++parked;
      co_await c.wait();
    }));
  while (parked < 4) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(5ms);
  // Read concurrently from several threads while the fibers run.
  std::vector<std::thread> readers;
  std::atomic<int> seen_ok{0};
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      for (int k = 0; k < 50; ++k) {
        int n = 0;
        for (const auto& f : live_fibers())
          if (f.name.starts_with("viewed ") && f.parked_at.line() != 0 && f.deadline_left &&
              *f.deadline_left > 59min)
            ++n;
        if (n == 4) ++seen_ok;
      }
    });
  for (auto& r : readers) r.join();
  CHECK(seen_ok == 200);
  const auto view = to_string(live_fibers().front());
  CHECK(view.find("parked at") != std::string::npos);
  cancel();
  for (auto& f : fibers) f.wait_blocking();
  CHECK(sched.shutdown(1s).empty());
}

TEST_SUITE_END();
