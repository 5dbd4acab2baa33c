// Context: the tree, cancellation, deadlines, values, causes, without_cancel, after_func.
#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <thread>

#include "spindle/spindle.hpp"
#include "support/process_stats.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

namespace {
const ContextKey<std::string> user_key{"user"};
const ContextKey<int> depth_key{"depth"};
const ContextKey<int> missing_key{"missing"};
}  // namespace

SPINDLE_TEST("background is never done and has no deadline or values") {
  Context bg = background();
  CHECK_FALSE(bg.done());
  CHECK_FALSE(bg.err());
  CHECK_FALSE(bg.deadline().has_value());
  CHECK(bg.value(user_key) == nullptr);
  CHECK(bg.cause() == nullptr);
}

SPINDLE_TEST("cancelling a node cancels its subtree and nothing above it") {
  auto [a, cancel_a] = with_cancel(background());
  auto [b, cancel_b] = with_cancel(a);
  auto [c, cancel_c] = with_cancel(b);
  auto [sibling, cancel_sibling] = with_cancel(a);

  cancel_b();
  CHECK_FALSE(a.done());
  CHECK(b.done());
  CHECK(c.done());
  CHECK_FALSE(sibling.done());
  CHECK(b.err() == Errc::canceled);
  CHECK(c.err() == Errc::canceled);
  CHECK(b.err().message() == "context canceled");

  cancel_a();
  CHECK(sibling.done());
  cancel_a();  // idempotent
  CHECK(a.err() == Errc::canceled);
}

SPINDLE_TEST("a child of a cancelled parent starts cancelled, with the parent's cause") {
  auto [parent, cancel] = with_cancel_cause(background());
  cancel(std::make_exception_ptr(std::runtime_error("upstream gone")));
  auto [child, cancel_child] = with_cancel(parent);
  CHECK(child.done());
  CHECK(child.err() == Errc::canceled);
  CHECK_THROWS_WITH(std::rethrow_exception(child.cause()), "upstream gone");
}

SPINDLE_TEST("cause(): the recorded cause, else err() as a ContextError") {
  auto [plain, cancel_plain] = with_cancel(background());
  CHECK(plain.cause() == nullptr);
  cancel_plain();
  CHECK_THROWS_AS(std::rethrow_exception(plain.cause()), ContextError);

  auto [with_cause, cancel_with_cause] = with_cancel_cause(background());
  auto [below, cancel_below] = with_cancel(with_cause);
  cancel_with_cause(std::make_exception_ptr(std::invalid_argument("bad input")));
  CHECK(with_cause.err() == Errc::canceled);
  CHECK_THROWS_AS(std::rethrow_exception(with_cause.cause()), std::invalid_argument);
  CHECK_THROWS_AS(std::rethrow_exception(below.cause()), std::invalid_argument);

  // The first cancellation wins; a later cause does not replace it.
  cancel_with_cause(std::make_exception_ptr(std::runtime_error("late")));
  CHECK_THROWS_AS(std::rethrow_exception(with_cause.cause()), std::invalid_argument);
}

SPINDLE_TEST("values are found through the tree; the nearest one wins") {
  Context root = with_value(background(), user_key, std::string("ada"));
  auto [mid, cancel] = with_cancel(root);
  Context leaf = with_value(mid, depth_key, 2);
  Context shadow = with_value(leaf, user_key, std::string("grace"));

  REQUIRE(leaf.value(user_key) != nullptr);
  CHECK(*leaf.value(user_key) == "ada");
  CHECK(*leaf.value(depth_key) == 2);
  CHECK(leaf.value(missing_key) == nullptr);
  CHECK(*shadow.value(user_key) == "grace");
  CHECK(mid.value(depth_key) == nullptr);  // values never flow upwards

  // A value node shares its parent's cancellation.
  cancel();
  CHECK(leaf.done());
  CHECK(shadow.err() == Errc::canceled);
}

SPINDLE_TEST("without_cancel keeps values and drops cancellation and deadline") {
  Context root = with_value(background(), user_key, std::string("ada"));
  auto [parent, cancel] = with_timeout(root, 1h);
  Context detached = without_cancel(parent);
  cancel();
  CHECK(parent.done());
  CHECK_FALSE(detached.done());
  CHECK_FALSE(detached.deadline().has_value());
  REQUIRE(detached.value(user_key) != nullptr);
  CHECK(*detached.value(user_key) == "ada");

  // Cancellation below a detached node works again.
  auto [below, cancel_below] = with_cancel(detached);
  cancel_below();
  CHECK(below.done());
  CHECK_FALSE(detached.done());
}

SPINDLE_TEST("deadline: expiry sets deadline_exceeded; the earliest deadline wins") {
  auto [outer, cancel_outer] = with_timeout(background(), 50ms);
  auto [later, cancel_later] = with_timeout(outer, 1h);
  auto [sooner, cancel_sooner] = with_timeout(outer, 10ms);
  REQUIRE(outer.deadline().has_value());
  CHECK(later.deadline() == outer.deadline());  // the parent's is earlier
  CHECK(*sooner.deadline() < *outer.deadline());

  const auto start = Clock::now();
  while (!sooner.done() && Clock::now() - start < 5s) std::this_thread::sleep_for(1ms);
  CHECK(sooner.err() == Errc::deadline_exceeded);
  CHECK(sooner.err().message() == "context deadline exceeded");
  CHECK_FALSE(outer.done());
  while (!outer.done() && Clock::now() - start < 5s) std::this_thread::sleep_for(1ms);
  CHECK(outer.err() == Errc::deadline_exceeded);
  CHECK(later.err() == Errc::deadline_exceeded);
  CHECK(Clock::now() - start >= 50ms);
}

SPINDLE_TEST("a deadline already in the past is done at once") {
  auto [ctx, cancel] = with_deadline(background(), Clock::now() - 1s);
  CHECK(ctx.done());
  CHECK(ctx.err() == Errc::deadline_exceeded);
}

SPINDLE_TEST("cancel before the deadline reports canceled") {
  auto [ctx, cancel] = with_timeout(background(), 20ms);
  cancel();
  std::this_thread::sleep_for(40ms);
  CHECK(ctx.err() == Errc::canceled);
}

SPINDLE_TEST("deadlines made on scheduler workers fire there") {
  Scheduler sched({.threads = 2});
  auto err = sched.block_on([](Context ctx) -> Task<std::error_code> {
    auto [child, cancel] = with_timeout(ctx, 20ms);
    co_return co_await child.wait();
  });
  CHECK(err == Errc::deadline_exceeded);
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("many deadlines, most cancelled early: every other one fires, earlier ones re-arm") {
  // Deadlines later than the armed timer wait outside the heap until it fires; this mixes
  // them with earlier ones arriving afterwards and with cancellations on both sides.
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    std::vector<WithCancel<CancelFunc>> scopes;
    for (int i = 0; i < 600; ++i)  // 40..100 ms, then earlier ones (5..20 ms)
      scopes.push_back(with_timeout(ctx, i < 400 ? 40ms + std::chrono::milliseconds(i % 61)
                                                 : 5ms + std::chrono::milliseconds(i % 16)));
    for (std::size_t i = 0; i < scopes.size(); i += 2) scopes[i].cancel();  // half, from both groups
    co_await sleep(ctx, 150ms);
    for (std::size_t i = 0; i < scopes.size(); ++i)
      CHECK(scopes[i].ctx.err() == (i % 2 == 0 ? Errc::canceled : Errc::deadline_exceeded));

    auto [later, cancel_later] = with_timeout(ctx, 1h);  // arms the timer for an hour
    auto [soon, cancel_soon] = with_timeout(ctx, 10ms);  // earlier: must re-arm it
    co_await sleep(ctx, 100ms);
    CHECK(soon.err() == Errc::deadline_exceeded);
    CHECK_FALSE(later.done());
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("cancel() is safe from many threads at once") {
  for (int round = 0; round < 200; ++round) {
    auto [root, cancel_root] = with_cancel(background());
    auto [child, cancel_child] = with_cancel(root);
    std::latch go_now(3);
    std::thread t1([&] { go_now.arrive_and_wait(); cancel_root(); });
    std::thread t2([&] { go_now.arrive_and_wait(); cancel_child(); });
    Context grandchild;
    std::thread t3([&, c = child] {
      go_now.arrive_and_wait();
      grandchild = with_cancel(c).ctx;  // races with the cancellations above
    });
    t1.join();
    t2.join();
    t3.join();
    CHECK(child.done());
    CHECK(grandchild.done());  // made before or after: it ends up cancelled either way
  }
}

SPINDLE_TEST("a million children created and cancelled under one parent do not grow memory") {
  auto [parent, cancel_parent] = with_cancel(background());
  auto cycle = [&parent](int n) {
    for (int i = 0; i < n; ++i) {
      auto [child, cancel] = with_cancel(parent);
      cancel();
    }
  };
  auto cycle_timeouts = [&parent](int n) {
    for (int i = 0; i < n; ++i) {
      auto [child, cancel] = with_timeout(parent, 1h);
      cancel();
    }
  };
  cycle(100'000);  // warm the allocator
  const long before = test::rss_kib();
  cycle(1'000'000);
  cycle_timeouts(200'000);
  // Children that are dropped without cancel() leave their parent too.
  for (int i = 0; i < 200'000; ++i) (void)with_cancel(parent);
  const long after = test::rss_kib();
  MESSAGE("RSS before " << before << " KiB, after " << after << " KiB");
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("not checked under AddressSanitizer: its quarantine keeps freed memory resident");
#else
  CHECK(after - before < 4096);  // 1.4 million nodes that stayed would need > 100 MB
#endif
  CHECK_FALSE(parent.done());
}

SPINDLE_TEST("after_func runs once the context is done; stop prevents it") {
  Scheduler sched({.threads = 2});
  std::atomic<int> ran{0};
  sched.block_on([&](Context ctx) -> Task<> {
    auto [a, cancel_a] = with_cancel(ctx);
    auto [b, cancel_b] = with_cancel(ctx);
    auto stop_a = after_func(a, [&] { ran += 1; });
    auto stop_b = after_func(b, [&] { ran += 100; });
    CHECK(stop_b());         // stopped before it could run
    CHECK_FALSE(stop_b());   // a second stop reports it is no longer pending
    cancel_a();
    cancel_b();
    co_await sleep(ctx, 20ms);
    CHECK_FALSE(stop_a());  // it already ran
    // On an already-done context it runs at once.
    after_func(a, [&] { ran += 10; });
    co_await sleep(ctx, 20ms);
  });
  CHECK(ran == 11);
  CHECK(sched.shutdown(1s).empty());
}

TEST_SUITE_END();
