// Go:      func worker(ctx context.Context) { for { select { case <-ctx.Done(): return; default: work } } }
//          ctx, cancel := context.WithCancel(context.Background()); go worker(ctx); cancel()
// spindle: the same loop, and cancel() also aborts the await the worker is blocked in —
//          it does not wait for the current piece of work to finish.
#include <spindle/spindle.hpp>

#include <chrono>
#include <cstdio>

using namespace spindle;
using namespace std::chrono_literals;

Task<int> worker(Context ctx) {
  int rounds = 0;
  while (!ctx.done()) {
    if (co_await sleep(ctx, 1h)) break;  // "work" that blocks for an hour
    ++rounds;
  }
  std::printf("worker: stopping (%s)\n", ctx.err().message().c_str());
  co_return rounds;
}

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    auto [worker_ctx, cancel] = with_cancel(ctx);
    Fiber<int> w = go(worker_ctx, worker);
    co_await sleep(ctx, 30ms);
    const auto start = Clock::now();
    cancel();  // later: cancel() to stop the fiber
    const int rounds = co_await w.join(ctx);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    std::printf("main: worker stopped after %d rounds, %s\n", rounds,
                ms < 100ms ? "promptly, while blocked" : "late");
  });
  return sched.shutdown().empty() ? 0 : 3;
}
