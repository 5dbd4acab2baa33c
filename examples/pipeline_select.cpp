// A pipeline — numbers -> squares -> main — where main waits on the results with select and a
// timeout (Go: select { case v := <-squares: ...; case <-time.After(50 * time.Millisecond): ... }).
// The source stalls after five numbers, so the sixth wait times out and main cancels the
// pipeline, which stops both stages while they are blocked.
#include <spindle/spindle.hpp>

#include <cstdio>

using namespace spindle;
using namespace std::chrono_literals;

Task<> numbers(Context ctx, Channel<int> out) {
  for (int i = 1; i <= 5; ++i) co_await out.send(ctx, i);
  co_await ctx.wait();  // stalls: a slow upstream
}

Task<> squares(Context ctx, Channel<int> in, Channel<int> out) {
  while (auto v = co_await in.recv(ctx)) co_await out.send(ctx, *v * *v);
}

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    auto [pipeline, stop] = with_cancel(ctx);
    Channel<int> raw, squared;
    Fiber<> a = go(pipeline, numbers, raw);
    Fiber<> b = go(pipeline, squares, raw, squared);
    for (;;) {
      auto [wait_ctx, done_waiting] = with_timeout(ctx, 50ms);
      auto next = squared.recv_case();
      Selected s = co_await select(wait_ctx, next);
      if (s.index == 0) {
        std::printf("got %d\n", *next);
        continue;
      }
      std::printf("timeout: nothing within 50ms (%s), stopping the pipeline\n",
                  s.error.message().c_str());
      break;
    }
    stop();
    co_await a.join(ctx);
    co_await b.join(ctx);
    std::puts("pipeline stopped");
  });
  return sched.shutdown().empty() ? 0 : 3;
}
