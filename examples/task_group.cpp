// Go's errgroup: g, ctx := errgroup.WithContext(ctx); g.Go(f)...; err := g.Wait()
// spindle: TaskGroup group(ctx); co_await group.spawn(f)...; co_await group.wait();
// One fetch fails; its siblings are cancelled at once instead of running to completion.
#include <spindle/spindle.hpp>

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>

using namespace spindle;
using namespace std::chrono_literals;

Task<> fetch(Context ctx, std::string name, std::chrono::milliseconds takes, bool fails,
             std::atomic<int>& cancelled) {
  if (auto err = co_await sleep(ctx, takes)) {
    std::printf("%s: cancelled (%s)\n", name.c_str(), err.message().c_str());
    ++cancelled;
    co_return;
  }
  if (fails) throw std::runtime_error(name + ": connection refused");
  std::printf("%s: done\n", name.c_str());
}

int main() {
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    std::atomic<int> cancelled{0};
    TaskGroup group(ctx);
    co_await group.spawn(fetch, std::string("fetch users"), 10s, false, std::ref(cancelled));
    co_await group.spawn(fetch, std::string("fetch orders"), 20ms, true, std::ref(cancelled));
    co_await group.spawn(fetch, std::string("fetch stock"), 10s, false, std::ref(cancelled));
    try {
      co_await group.wait();
    } catch (const std::exception& e) {
      std::printf("group failed: %s; %d sibling(s) cancelled\n", e.what(), cancelled.load());
    }
  });
  return sched.shutdown().empty() ? 0 : 3;
}
