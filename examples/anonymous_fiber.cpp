// Go:      go func() { fmt.Println("Running concurrently") }()
// spindle: go(ctx, [](Context) -> Task<> { ...; co_return; })
#include <spindle/spindle.hpp>

#include <cstdio>

using namespace spindle;

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    WaitGroup wg;
    wg.add(1);
    go(ctx, [&wg](Context) -> Task<> {
      auto done = wg.done_on_exit();
      std::puts("Running concurrently");
      co_return;
    }).detach();  // fire and forget, like Go; the WaitGroup tells main when it is done
    co_await wg.wait(ctx);
  });
  return sched.shutdown().empty() ? 0 : 3;
}
