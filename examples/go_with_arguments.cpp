// Go:      go process(data)          // data is evaluated now
// spindle: go(ctx, process, data)    // data is copied now
#include <spindle/spindle.hpp>

#include <cstdio>
#include <string>

using namespace spindle;
using namespace std::chrono_literals;

Task<> process(Context ctx, std::string data) {
  co_await sleep(ctx, 20ms);  // by now main has changed its variable...
  std::printf("processing \"%s\"\n", data.c_str());  // ...but this fiber has its own copy
}

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    std::string data = "first batch";
    Fiber<> f = go(ctx, process, data);
    data = "second batch";
    std::printf("main changed data to \"%s\"\n", data.c_str());
    co_await f.join(ctx);
  });
  return sched.shutdown().empty() ? 0 : 3;
}
