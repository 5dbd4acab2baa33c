// Go:      var wg sync.WaitGroup; wg.Add(1); go func() { defer wg.Done(); doWork() }(); wg.Wait()
// spindle: WaitGroup wg; wg.add(1); go(ctx, ...{ auto done = wg.done_on_exit(); ... }); co_await wg.wait(ctx)
#include <spindle/spindle.hpp>

#include <atomic>
#include <cstdio>

using namespace spindle;
using namespace std::chrono_literals;

Task<> do_work(Context ctx, int id, std::atomic<int>& finished) {
  co_await sleep(ctx, std::chrono::milliseconds(5 * id));
  ++finished;
}

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    WaitGroup wg;
    std::atomic<int> finished{0};
    for (int i = 1; i <= 5; ++i) {
      wg.add(1);
      go(ctx, [&, i](Context c) -> Task<> {
        auto done = wg.done_on_exit();  // defer wg.Done()
        co_await do_work(c, i, finished);
      }).detach();
    }
    co_await wg.wait(ctx);
    std::printf("all %d workers done\n", finished.load());
  });
  return sched.shutdown().empty() ? 0 : 3;
}
