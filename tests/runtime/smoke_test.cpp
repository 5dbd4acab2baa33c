#include "spindle/spindle.hpp"
#include "support/spindle_test.hpp"

using namespace spindle;
using namespace std::chrono_literals;

SPINDLE_TEST("block_on runs a fiber and returns its value") {
  Scheduler sched({.threads = 2});
  int v = sched.block_on([](Context) -> Task<int> { co_return 42; });
  CHECK(v == 42);
  CHECK(sched.shutdown(1s).empty());
}
