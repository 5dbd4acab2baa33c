// Go:      go doWork()
// spindle: go(ctx, do_work)
#include <spindle/spindle.hpp>

#include <cstdio>

using namespace spindle;

Task<> do_work(Context) {
  std::puts("doing work in fiber");
  co_return;
}

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    Fiber<> worker = go(ctx, do_work);  // starts now, runs concurrently
    co_await worker.join(ctx);           // Go has no join; spindle's handle offers one
    std::puts("main: worker finished");
  });
  return sched.shutdown().empty() ? 0 : 3;
}
