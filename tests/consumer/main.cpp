// Built against the installed spindle package by tests/consumer/check.sh.
#include <spindle/spindle.hpp>

#include <cstdio>

int main() {
  spindle::Scheduler sched({.threads = 1});
  int answer = sched.block_on([](spindle::Context ctx) -> spindle::Task<int> {
    auto child = spindle::go(ctx, [](spindle::Context) -> spindle::Task<int> { co_return 42; });
    co_return co_await child.join(ctx);
  });
  std::printf("consumer: %d\n", answer);
  return sched.shutdown().empty() && answer == 42 ? 0 : 1;
}
