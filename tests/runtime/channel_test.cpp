// Channels and select: rendezvous, buffering, close, cancellation without loss or
// duplication, cross-thread use, fairness.
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "spindle/spindle.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle;
using namespace std::chrono_literals;

SPINDLE_TEST("an unbuffered send waits for a receiver; values arrive in order") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> ch;
    std::atomic<int> sent{0};
    auto producer = go(ctx, [&sent](Context c, Channel<int> out) -> Task<> {
      for (int i = 0; i < 5; ++i) {
        CHECK_FALSE(co_await out.send(c, i));
        ++sent;
      }
    }, ch);
    co_await sleep(ctx, 10ms);
    CHECK(sent == 0);  // nobody received yet: the first send is still waiting
    for (int i = 0; i < 5; ++i) {
      auto v = co_await ch.recv(ctx);
      REQUIRE(v);
      CHECK(*v == i);
    }
    co_await producer.join(ctx);
    CHECK(sent == 5);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a buffered channel holds up to its capacity") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<std::string> ch(2);
    CHECK(ch.capacity() == 2);
    CHECK(ch.try_send(std::string("a")));
    CHECK_FALSE(co_await ch.send(ctx, "b"));
    std::string c = "c";
    CHECK_FALSE(ch.try_send(c));  // full
    CHECK(c == "c");               // not moved from when it failed
    CHECK(ch.size() == 2);
    CHECK(*ch.try_recv() == "a");
    CHECK(ch.try_send(c));
    CHECK(*(co_await ch.recv(ctx)) == "b");
    CHECK(*(co_await ch.recv(ctx)) == "c");
    CHECK_FALSE(ch.try_recv().has_value());
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("close: receivers drain then see closed; send and second close are errors") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> ch(4);
    for (int i = 1; i <= 3; ++i) co_await ch.send(ctx, i);
    ch.close();
    CHECK(ch.closed());
    int sum = 0;
    while (auto v = co_await ch.recv(ctx)) sum += *v;  // Go's `for v := range ch`
    CHECK(sum == 6);
    auto after = co_await ch.recv(ctx);
    CHECK_FALSE(after);
    CHECK(after.closed());
    CHECK_THROWS_AS(co_await ch.send(ctx, 4), ChannelClosed);
    CHECK_THROWS_AS(ch.try_send(4), ChannelClosed);
    CHECK_THROWS_AS(ch.close(), ChannelClosed);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("close wakes parked receivers (closed) and parked senders (ChannelClosed)") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> ch;
    std::vector<Fiber<bool>> receivers, senders;
    for (int i = 0; i < 3; ++i) {
      receivers.push_back(go({ctx, "r", Placement::spread}, [](Context c, Channel<int> in) -> Task<bool> {
        co_return (co_await in.recv(c)).closed();
      }, ch));
    }
    Channel<int> full(1);
    co_await full.send(ctx, 0);
    for (int i = 0; i < 3; ++i) {
      senders.push_back(go({ctx, "s", Placement::spread}, [](Context c, Channel<int> out) -> Task<bool> {
        try {
          co_await out.send(c, 1);
        } catch (const ChannelClosed&) {
          co_return true;
        }
        co_return false;
      }, full));
    }
    co_await sleep(ctx, 20ms);
    ch.close();
    full.close();
    for (auto& r : receivers) CHECK(co_await r.join(ctx));
    for (auto& s : senders) CHECK(co_await s.join(ctx));
    CHECK(*full.try_recv() == 0);  // the buffered value survives the close
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a cancelled receive consumes nothing; a cancelled send delivers nothing") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> ch;
    auto [rctx, cancel_recv] = with_cancel(ctx);
    auto receiver = go(rctx, [](Context c, Channel<int> in) -> Task<std::error_code> {
      co_return (co_await in.recv(c)).error();
    }, ch);
    co_await sleep(ctx, 5ms);
    cancel_recv();
    CHECK(co_await receiver.join(ctx) == Errc::canceled);

    auto [sctx, cancel_send] = with_cancel(ctx);
    auto sender = go(sctx, [](Context c, Channel<int> out) -> Task<std::error_code> {
      co_return co_await out.send(c, 42);
    }, ch);
    co_await sleep(ctx, 5ms);
    cancel_send();
    CHECK(co_await sender.join(ctx) == Errc::canceled);
    CHECK_FALSE(ch.try_recv().has_value());  // 42 was not delivered

    // The channel still works afterwards, and the cancelled receiver took nothing.
    auto late = go(ctx, [](Context c, Channel<int> out) -> Task<> { co_await out.send(c, 7); }, ch);
    CHECK(*(co_await ch.recv(ctx)) == 7);
    co_await late.join(ctx);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a wait cancelled before its worker's batch ends is still woken") {
  // A parked fiber registers with its context only when its worker's run batch ends, since
  // most waits end sooner. A cancel in between — from the same worker, before the batch is
  // over, or from another thread — must reach it all the same.
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> ch;
    for (int i = 0; i < 200; ++i) {
      auto [rctx, cancel_recv] = with_cancel(ctx);
      auto receiver = go(rctx, [](Context c, Channel<int> in) -> Task<std::error_code> {
        co_return (co_await in.recv(c)).error();
      }, ch);
      auto waiter = go(rctx, [](Context c) -> Task<std::error_code> { co_return co_await c.wait(); });
      co_await yield();  // both park, in this batch
      if (i % 2 == 0) {
        cancel_recv();
      } else {
        std::thread other([&] { cancel_recv(); });
        other.join();
      }
      CHECK(co_await receiver.join(ctx) == Errc::canceled);
      CHECK(co_await waiter.join(ctx) == Errc::canceled);
    }
    CHECK_FALSE(ch.try_recv().has_value());
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a parked operation outlives the handle and context it was given") {
  // Operations borrow the channel handle and the context until they park; a parked one holds
  // its own references. Here both the only handle and the only reference to the wait's
  // context are replaced while a receiver and a sender are parked on them; the deadline
  // must still reach them (AddressSanitizer would see a freed channel or context here).
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    struct Shared {
      Channel<int> ch;
      Context wait_ctx;
    };
    for (const bool sending : {false, true}) {
      Shared shared;
      shared.wait_ctx = with_timeout(ctx, 30ms).ctx;  // the timeout's cancel function is dropped
      auto parked = go(ctx, [sending](Context, Shared& s) -> Task<std::error_code> {
        if (sending) co_return co_await s.ch.send(s.wait_ctx, 1);
        co_return (co_await s.ch.recv(s.wait_ctx)).error();
      }, std::ref(shared));
      co_await sleep(ctx, 5ms);
      shared.ch = Channel<int>();
      shared.wait_ctx = Context();
      // Bounded, so a wait that lost its context fails here instead of hanging.
      std::error_code got;
      try {
        got = co_await parked.join(with_timeout(ctx, 2s).ctx);
      } catch (const ContextError&) {
        FAIL_CHECK("the parked operation was not woken by its context's deadline");
      }
      CHECK(got == Errc::deadline_exceeded);
    }
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("no value is lost or duplicated when cancellations race with transfers") {
  // Senders and receivers on two threads, each op under its own short deadline, so many
  // operations are cancelled just as a partner arrives. Every send that reports success
  // must be received exactly once; nothing else may be.
  Scheduler sched({.threads = 2});
  constexpr int per_sender = 2000, senders = 4, receivers = 4;
  std::vector<std::atomic<int>> delivered(senders * per_sender), received(senders * per_sender);
  sched.block_on([&](Context ctx) -> Task<> {
    for (std::size_t capacity : {0u, 3u}) {
      for (auto& d : delivered) d = 0;
      for (auto& r : received) r = 0;
      Channel<int> ch(capacity);
      WaitGroup producers, consumers;
      producers.add(senders);
      consumers.add(receivers);
      for (int s = 0; s < senders; ++s)
        go({ctx, "sender", Placement::spread}, [&, s](Context c) -> Task<> {
          auto done = producers.done_on_exit();
          for (int i = 0; i < per_sender; ++i) {
            const int v = s * per_sender + i;
            auto [op_ctx, cancel] = with_timeout(c, std::chrono::microseconds(i % 50));
            if (!co_await ch.send(op_ctx, v)) ++delivered[v];
          }
        }).detach();
      for (int r = 0; r < receivers; ++r)
        go({ctx, "receiver", Placement::spread}, [&](Context c) -> Task<> {
          auto done = consumers.done_on_exit();
          for (;;) {
            auto [op_ctx, cancel] = with_timeout(c, std::chrono::microseconds(30));
            auto v = co_await ch.recv(op_ctx);
            if (v) ++received[*v];
            else if (v.closed()) co_return;
          }
        }).detach();
      co_await producers.wait(ctx);
      ch.close();
      co_await consumers.wait(ctx);
      int ok = 0, mismatched = 0;
      for (std::size_t i = 0; i < delivered.size(); ++i) {
        ok += delivered[i];
        if (delivered[i] != received[i]) ++mismatched;
      }
      CAPTURE(capacity);
      CHECK(mismatched == 0);
      MESSAGE("capacity " << capacity << ": " << ok << " of " << delivered.size()
                          << " sends delivered before their deadline");
    }
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("channels work between fibers on different threads") {
  Scheduler sched({.threads = 2});
  const long total = sched.block_on([](Context ctx) -> Task<long> {
    Channel<int> jobs(16), results(16);
    constexpr int n = 20'000;
    for (int w = 0; w < 4; ++w)
      go({ctx, "worker", Placement::spread}, [](Context c, Channel<int> in, Channel<int> out) -> Task<> {
        while (auto j = co_await in.recv(c)) co_await out.send(c, *j * 2);
      }, jobs, results).detach();
    go(ctx, [](Context c, Channel<int> out) -> Task<> {
      for (int i = 0; i < n; ++i) co_await out.send(c, i);
      out.close();
    }, jobs).detach();
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += *(co_await results.recv(ctx));
    co_return sum;
  });
  CHECK(total == 2L * (20'000L * 19'999 / 2));
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a channel of one worker's fibers works lock-free, then locked once another thread uses it") {
  Scheduler sched({.threads = 2});
  // Everything below runs on worker 0; "feeder" and "intruder" on worker 1.
  sched.block_on([](Context main_ctx) -> Task<> {
    co_await go({main_ctx, "home", 0u}, [](Context ctx) -> Task<> {
      // Values in order through a rendezvous and a buffered channel made here (biased to this
      // worker), with parks both ways.
      Channel<int> jobs;
      Channel<long> results(4);
      auto worker = go(ctx, [](Context c, Channel<int> in, Channel<long> out) -> Task<> {
        while (auto j = co_await in.recv(c)) co_await out.send(c, *j * 2L);
        out.close();
      }, jobs, results);
      auto producer = go(ctx, [](Context c, Channel<int> out) -> Task<> {
        for (int i = 0; i < 1000; ++i) co_await out.send(c, i);
        out.close();
      }, jobs);
      long expected = 0, sum = 0;
      while (auto r = co_await results.recv(ctx)) {
        CHECK(*r == expected);
        expected += 2;
        sum += *r;
      }
      CHECK(sum == 999L * 1000);
      co_await worker.join(ctx);
      co_await producer.join(ctx);

      // select over a channel biased here and one the other worker feeds.
      Channel<int> local(1), shared;
      auto feeder = go({ctx, "feeder", 1u}, [](Context c, Channel<int> out) -> Task<> {
        co_await out.send(c, 7);
      }, shared);
      auto from_local = local.recv_case();
      auto from_shared = shared.recv_case();
      CHECK((co_await select(ctx, from_local, from_shared)).index == 1);
      CHECK(*from_shared == 7);
      co_await feeder.join(ctx);

      // A receive parked on a biased channel is cancelled from another thread; nothing is lost.
      auto [rctx, cancel] = with_cancel(ctx);
      auto receiver = go(rctx, [](Context c, Channel<int> in) -> Task<std::error_code> {
        co_return (co_await in.recv(c)).error();
      }, local);
      co_await sleep(ctx, 5ms);
      std::thread([&] { cancel(); }).join();
      CHECK(co_await receiver.join(ctx) == Errc::canceled);
      CHECK(local.try_send(8));
      CHECK(*local.try_recv() == 8);

      // A fiber of the other worker parks on it (revoking the bias), and is served from here.
      auto intruder = go({ctx, "intruder", 1u}, [](Context c, Channel<int> ch) -> Task<int> {
        int sum = 0;
        for (int i = 0; i < 100; ++i) sum += *(co_await ch.recv(c));
        co_return sum;
      }, local);
      for (int i = 0; i < 100; ++i) CHECK_FALSE(co_await local.send(ctx, i));
      CHECK(co_await intruder.join(ctx) == 99 * 100 / 2);
      CHECK_FALSE(local.closed());
      CHECK(local.size() == 0);
    }).join(main_ctx);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("two workers revoking each other's channel biases at the same moment both go on") {
  // Each worker makes a channel (biased to it), then both — released together, and neither
  // yielding its thread — send on the other's channel: each revocation waits for the other
  // worker, which is itself waiting. Then a select over a channel biased elsewhere.
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    for (int round = 0; round < 50; ++round) {
      std::optional<Channel<int>> made[2];
      std::atomic<int> count{0};
      auto side = [&made, &count](Context c, int me) -> Task<int> {
        Channel<int> mine = made[me].emplace(1);
        count.fetch_add(1);
        while (count.load() < 2) std::this_thread::yield();  // holds the thread on purpose
        CHECK(made[1 - me]->try_send(1));  // revokes the other worker's bias
        co_return *(co_await mine.recv(c));
      };
      auto a = go({ctx, "side a", 0u}, side, 0);
      auto b = go({ctx, "side b", 1u}, side, 1);
      CHECK(co_await a.join(ctx) == 1);
      CHECK(co_await b.join(ctx) == 1);
      // A select over a channel biased to the other worker and one biased to neither.
      Channel<int> here(1);
      Channel<int> there = co_await go({ctx, "maker", 1u}, [](Context) -> Task<Channel<int>> {
        co_return Channel<int>(1);
      }).join(ctx);
      CHECK(there.try_send(5));
      auto from_here = here.recv_case();
      auto from_there = there.recv_case();
      CHECK((co_await select(ctx, from_here, from_there)).index == 1);
      CHECK(*from_there == 5);
    }
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("a channel made in a fiber serves plain threads, while its worker runs and after it stopped") {
  auto sched = std::make_unique<Scheduler>(SchedulerOptions{.threads = 1});
  Channel<int> ch = sched->block_on([](Context) -> Task<Channel<int>> { co_return Channel<int>(4); });
  // The worker is running: the first use from this thread asks it to drop the bias.
  CHECK(ch.try_send(1));
  CHECK(ch.size() == 1);
  sched->block_on([ch](Context ctx) -> Task<> { CHECK_FALSE(co_await ch.send(ctx, 2)); });
  // A second channel still biased when its worker stops: nobody is asked then.
  Channel<int> late = sched->block_on([](Context ctx) -> Task<Channel<int>> {
    Channel<int> made(2);
    CHECK_FALSE(co_await made.send(ctx, 3));
    co_return made;
  });
  CHECK(sched->shutdown(1s).empty());
  sched.reset();
  CHECK(*ch.try_recv() == 1);
  CHECK(*ch.try_recv() == 2);
  CHECK(*late.try_recv() == 3);
  late.close();
  CHECK(late.closed());
}

SPINDLE_TEST("select takes exactly one ready case and leaves the others untouched") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> a(1), b(1), out(1);
    co_await a.send(ctx, 1);
    co_await b.send(ctx, 2);
    auto from_a = a.recv_case();
    auto from_b = b.recv_case();
    auto to_out = out.send_case(3);
    auto s = co_await select(ctx, from_a, from_b, to_out);
    REQUIRE(s.index >= 0);
    CHECK_FALSE(s.error);
    // Exactly one happened: count the values still in the channels.
    const int left = static_cast<int>(a.size() + b.size()) + (out.size() == 0 ? 1 : 0);
    CHECK(left == 2);
    if (s.index == 0) CHECK(*from_a == 1);
    if (s.index == 1) CHECK(*from_b == 2);
    if (s.index != 2) CHECK(to_out.value() == 3);  // not sent: still ours
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("select parks until a case fires, or the context ends") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> a, b;
    go({ctx, "late sender", Placement::spread}, [](Context c, Channel<int> out) -> Task<> {
      co_await sleep(c, 10ms);
      co_await out.send(c, 9);
    }, b).detach();
    auto ra = a.recv_case();
    auto rb = b.recv_case();
    auto s = co_await select(ctx, ra, rb);
    CHECK(s.index == 1);
    CHECK(*rb == 9);

    auto [short_ctx, cancel] = with_timeout(ctx, 10ms);
    auto again = a.recv_case();
    auto t = co_await select(short_ctx, again);
    CHECK(t.index == -1);
    CHECK(t.error == Errc::deadline_exceeded);
    CHECK_FALSE(again);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("select with default (try_select) never waits; closed channels are ready") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> a, b(1);
    auto ra = a.recv_case();
    auto sb = b.send_case(5);
    CHECK(try_select(ra) == -1);  // nothing ready: the default branch
    CHECK(try_select(ra, sb) == 1);
    CHECK(*b.try_recv() == 5);
    a.close();
    CHECK(try_select(ra) == 0);
    CHECK(ra.closed());
    auto closed_recv = a.recv_case();
    auto s = co_await select(ctx, closed_recv);
    CHECK(s.index == 0);
    CHECK(closed_recv.closed());
    auto send_closed = a.send_case(1);
    CHECK_THROWS_AS(try_select(send_closed), ChannelClosed);
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("select is fair: every ready case is eventually taken") {
  Scheduler sched({.threads = 1});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> a(1), b(1), c(1);
    int taken[3] = {0, 0, 0};
    for (int i = 0; i < 3000; ++i) {
      if (a.size() == 0) co_await a.send(ctx, 0);
      if (b.size() == 0) co_await b.send(ctx, 1);
      if (c.size() == 0) co_await c.send(ctx, 2);
      auto ra = a.recv_case();
      auto rb = b.recv_case();
      auto rc = c.recv_case();
      auto s = co_await select(ctx, ra, rb, rc);
      ++taken[s.index];
    }
    for (int t : taken) CHECK(t > 700);  // about 1000 each
  });
  CHECK(sched.shutdown(1s).empty());
}

SPINDLE_TEST("two selects racing over the same channels never deadlock or lose a value") {
  Scheduler sched({.threads = 2});
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> x, y;
    constexpr int n = 5000;
    auto sender = go({ctx, "select sender", Placement::spread}, [](Context c, Channel<int> x, Channel<int> y) -> Task<int> {
      int sent = 0;
      for (int i = 0; i < n; ++i) {
        auto sx = x.send_case(i);
        auto sy = y.send_case(i);
        if ((co_await select(c, sx, sy)).index >= 0) ++sent;
      }
      co_return sent;
    }, x, y);
    long sum = 0;
    for (int i = 0; i < n; ++i) {
      auto rx = x.recv_case();
      auto ry = y.recv_case();
      auto s = co_await select(ctx, rx, ry);
      sum += s.index == 0 ? *rx : *ry;
    }
    CHECK(co_await sender.join(ctx) == n);
    CHECK(sum == static_cast<long>(n) * (n - 1) / 2);
  });
  CHECK(sched.shutdown(1s).empty());
}

TEST_SUITE_END();
