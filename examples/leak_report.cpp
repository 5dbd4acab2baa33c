// A fiber leaked on purpose: it waits on a context nobody cancels, so shutdown's
// cancellation cannot reach it. spindle names it in the leak report — name, spawn line, the
// await it is stuck in — and the program exits with 3.
#include <spindle/spindle.hpp>

#include <cstdio>

using namespace spindle;
using namespace std::chrono_literals;

Task<> forgotten(Context) {
  co_await background().wait();  // bug: should wait on its own ctx
}

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    go({ctx, "forgotten worker"}, forgotten).detach();
    co_return;
  });
  auto leaks = sched.shutdown(100ms);  // also logged, one error line per fiber
  for (const auto& f : leaks) std::printf("leak: %s\n", to_string(f).c_str());
  return leaks.empty() ? 0 : 3;
}
