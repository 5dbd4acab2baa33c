// go(), Fiber handles, join, placement, and cancellation reaching pending awaits.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "spindle/spindle.hpp"
#include "support/log_capture.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

namespace {

Task<int> add(Context, int a, int b) { co_return a + b; }

Task<std::string> read_copy(Context ctx, std::string data) {
  co_await sleep(ctx, 10ms);  // the caller changes its variable meanwhile
  co_return data;
}

Task<void> fail(Context, std::string what) {
  throw std::runtime_error(what);
  co_return;
}

}  // namespace

SPINDLE_TEST("join yields the fiber's value") {
  Scheduler sched({.threads = 2});
  int v = sched.block_on([](Context ctx) -> Task<int> {
    auto f = go(ctx, add, 2, 3);
    CHECK(f.id() != 0);
    co_return co_await f.join(ctx);
  });
  CHECK(v == 5);
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("join rethrows the fiber's exception; a second join is an error") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    auto f = go(ctx, fail, std::string("boom"));
    CHECK_THROWS_WITH_AS(co_await f.join(ctx), "boom", std::runtime_error);
    CHECK_THROWS_AS(co_await f.join(ctx), std::logic_error);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("arguments are copied when go() is called, like Go's go f(x)") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    std::string data = "first";
    auto f = go(ctx, read_copy, data);
    data = "changed";
    CHECK(co_await f.join(ctx) == "first");

    // A lambda's captures are copied too, and live as long as the fiber.
    int counter = 1;
    auto g = go(ctx, [counter](Context c) -> Task<int> {
      co_await sleep(c, 5ms);
      co_return counter;
    });
    counter = 99;
    CHECK(co_await g.join(ctx) == 1);

    // Move-only arguments are moved in.
    auto h = go(ctx, [](Context, std::unique_ptr<int> p) -> Task<int> { co_return *p; },
                std::make_unique<int>(7));
    CHECK(co_await h.join(ctx) == 7);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a child fiber stays on its parent's thread; top-level fibers are spread") {
  Scheduler sched({.threads = 2});
  sched.start();
  auto thread_of = [](Context) -> Task<std::thread::id> { co_return std::this_thread::get_id(); };
  std::vector<Fiber<std::thread::id>> top;
  for (int i = 0; i < 4; ++i) top.push_back(go(sched.context(), thread_of));
  std::vector<std::thread::id> ids;
  for (auto& f : top) ids.push_back(f.wait_blocking());
  CHECK(ids[0] != ids[1]);  // round robin over two workers
  CHECK(ids[0] == ids[2]);

  bool same = sched.block_on([&](Context ctx) -> Task<bool> {
    auto here = std::this_thread::get_id();
    for (int i = 0; i < 8; ++i)
      if (co_await go(ctx, thread_of).join(ctx) != here) co_return false;
    co_return true;
  });
  CHECK(same);

  int spread_threads = sched.block_on([&](Context ctx) -> Task<int> {
    auto here = std::this_thread::get_id();
    int elsewhere = 0;
    for (int i = 0; i < 8; ++i)
      if (co_await go({ctx, "spread", Placement::spread}, thread_of).join(ctx) != here) ++elsewhere;
    co_return elsewhere;
  });
  CHECK(spread_threads == 4);
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("handle.cancel() stops a fiber parked in sleep") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    auto f = go(ctx, [](Context c) -> Task<std::error_code> { co_return co_await sleep(c, 1h); });
    co_await sleep(ctx, 5ms);
    CHECK(f.cancel());
    const auto start = Clock::now();
    CHECK(co_await f.join(ctx) == Errc::canceled);
    CHECK(Clock::now() - start < 1s);
    CHECK_FALSE(f.cancel());  // already ended
  });
  CHECK(sched.shutdown(1s).empty());
}

namespace {

// Runs `await(ctx)` in a fiber on worker 0 and cancels it, after it parked, from `canceller`.
template <class Await>
std::error_code cancel_parked(Await await, bool from_other_thread) {
  Scheduler sched({.threads = 2});
  sched.start();
  auto [ctx, cancel] = with_cancel(sched.context());
  std::atomic<bool> parked{false};
  auto waiter = go(Spawn(ctx, "waiter"), [&](Context c) -> Task<std::error_code> {
    parked = true;
    co_return co_await await(c);
  });
  while (!parked) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);  // into the await
  const auto start = Clock::now();
  if (from_other_thread) {
    std::thread([&] { cancel(); }).join();
  } else {
    // From a fiber on the waiter's own thread: placement inherit from a top-level spawn is
    // round robin, so spawn until one lands on the waiter's worker.
    go(sched.context(), [cancel = cancel](Context) -> Task<> { cancel(); co_return; }).wait_blocking();
  }
  auto ec = waiter.wait_blocking();
  CHECK(Clock::now() - start < 1s);
  CHECK(sched.shutdown(1s).empty());
  return ec;
}

}  // namespace

SPINDLE_TEST("cancellation aborts each kind of pending await, from any thread") {
  auto sleep_hour = [](Context c) { return sleep(c, 1h); };
  auto wait_ctx = [](Context c) { return c.wait(); };
  auto join_forever = [](Context c) -> Task<std::error_code> {
    auto [never, stop] = with_cancel(background());
    auto stuck = go(c, [n = never](Context) -> Task<> { co_await n.wait(); });
    std::error_code ec;
    try {
      co_await stuck.join(c);
    } catch (const ContextError& e) {
      ec = e.code();
    }
    stop();  // let the joined fiber end too
    co_await stuck.join(background());
    co_return ec;
  };
  for (bool other_thread : {false, true}) {
    CAPTURE(other_thread);
    CHECK(cancel_parked(sleep_hour, other_thread) == Errc::canceled);
    CHECK(cancel_parked(wait_ctx, other_thread) == Errc::canceled);
    CHECK(cancel_parked(join_forever, other_thread) == Errc::canceled);
  }
}

SPINDLE_TEST("sleep completes normally and reports the deadline when one cuts it short") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    const auto start = Clock::now();
    CHECK_FALSE(co_await sleep(ctx, 15ms));
    CHECK(Clock::now() - start >= 15ms);
    auto [short_ctx, cancel] = with_timeout(ctx, 10ms);
    CHECK(co_await sleep(short_ctx, 1h) == Errc::deadline_exceeded);
    CHECK(co_await sleep(short_ctx, 1h) == Errc::deadline_exceeded);  // already done
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("an exception escaping an unjoined fiber is logged with its name and spawn site") {
  test::LogCapture logs;
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    go({ctx, "doomed"}, fail, std::string("nobody saw this")).detach();
    auto kept = go({ctx, "joined"}, fail, std::string("seen by join"));
    CHECK_THROWS(co_await kept.join(ctx));
    co_await sleep(ctx, 10ms);
  });
  CHECK(sched.shutdown(1s).empty());
  const auto text = logs.text();
  CHECK(text.find("\"doomed\"") != std::string::npos);
  CHECK(text.find("fiber_test.cpp:") != std::string::npos);
  CHECK(text.find("nobody saw this") != std::string::npos);
  CHECK(text.find("seen by join") == std::string::npos);
}

SPINDLE_TEST("a fiber's context is cancelled with its parent's, and not the other way") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    auto [parent, cancel] = with_cancel(ctx);
    std::vector<Fiber<std::error_code>> children;
    for (int i = 0; i < 10; ++i)
      children.push_back(go(parent, [](Context c) { return c.wait(); }));
    auto child = go(ctx, [](Context c) -> Task<> { co_await sleep(c, 1ms); });
    child.cancel();
    co_await child.join(ctx);
    CHECK_FALSE(ctx.done());
    cancel();
    for (auto& c : children) CHECK(co_await c.join(ctx) == Errc::canceled);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("go() without a scheduler is a clear error") {
  CHECK_THROWS_AS(go(background(), [](Context) -> Task<> { co_return; }), std::logic_error);
}

SPINDLE_TEST("many fibers across threads all run and are joined") {
  Scheduler sched({.threads = 2});
  long total = sched.block_on([](Context ctx) -> Task<long> {
    std::vector<Fiber<int>> fibers;
    for (int i = 0; i < 10'000; ++i)
      fibers.push_back(go({ctx, "n", Placement::spread}, [](Context c, int n) -> Task<int> {
        co_await sleep(c, 1ms);
        co_return n;
      }, i));
    long sum = 0;
    for (auto& f : fibers) sum += co_await f.join(ctx);
    co_return sum;
  });
  CHECK(total == 10'000L * 9'999 / 2);
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("yield lets the fibers already runnable go first, then continues") {
  Scheduler sched({.threads = 1});
  std::string order = sched.block_on([](Context ctx) -> Task<std::string> {
    std::string log;
    auto a = go(ctx, [&log](Context) -> Task<> {
      log += "a1 ";
      co_await yield();
      log += "a2 ";
    });
    auto b = go(ctx, [&log](Context) -> Task<> {
      log += "b ";
      co_return;
    });
    co_await a.join(ctx);
    co_await b.join(ctx);
    co_return log;
  });
  CHECK(order == "a1 b a2 ");
  CHECK_THROWS_AS(yield().await_ready(), std::logic_error);  // outside a fiber
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a fiber that only yields is still stopped by its context, or reported at shutdown") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    auto polite = go(ctx, [](Context c) -> Task<int> {
      int turns = 0;
      while (!c.done()) {
        co_await yield();
        ++turns;
      }
      co_return turns;
    });
    co_await sleep(ctx, 5ms);  // the sleeping fiber's timer still fires between the turns
    polite.cancel();
    CHECK(co_await polite.join(ctx) > 0);
    go(ctx, [](Context) -> Task<> {
      for (;;) co_await yield();  // ignores its context: a leak
    }).detach();
  });
  const auto leaked = sched.shutdown(50ms);
  REQUIRE(leaked.size() == 1);
  CHECK(leaked[0].canceled);
  CHECK(live_fiber_count() == 0);  // destroyed while queued, not left running
  CHECK(testing::take_leaks().size() == 1);
}

SPINDLE_TEST("a park hook runs once, when the fiber first waits, and not once cleared") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    int runs = 0;
    const detail::ParkHook hook{[](void* n) noexcept { ++*static_cast<int*>(n); }, &runs};
    detail::set_park_hook(hook);
    CHECK(runs == 0);  // nothing waited yet
    co_await sleep(ctx, 1ms);
    CHECK(runs == 1);
    co_await sleep(ctx, 1ms);
    CHECK(runs == 1);  // one-shot
    // Through a channel wait (ParkOp) as well as through an Asio timer.
    Channel<int> ch;
    detail::set_park_hook(hook);
    auto sender = go(ctx, [](Context c, Channel<int> ch) -> Task<> {
      co_await sleep(c, 1ms);
      co_await ch.send(c, 7);
    }, ch);
    auto got = co_await ch.recv(ctx);
    CHECK(got.value() == 7);
    CHECK(runs == 2);
    co_await sender.join(ctx);
    // Cleared before any wait: never runs.
    detail::set_park_hook(hook);
    detail::clear_park_hook(&runs);
    co_await sleep(ctx, 1ms);
    CHECK(runs == 2);
    // Clearing someone else's hook leaves it in place.
    detail::set_park_hook(hook);
    int other = 0;
    detail::clear_park_hook(&other);
    co_await sleep(ctx, 1ms);
    CHECK(runs == 3);
  });
}

TEST_SUITE_END();
