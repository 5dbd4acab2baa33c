// runtime_bench: spindle's fiber runtime measured the way ../go/microbench.go measures Go's,
// printing one "metric value unit" line per metric so bench/runtime.sh can put both side by
// side.
//
//   runtime_bench [--threads N] [--only|--skip PREFIX] [--spawn N] [--idle N] [--fanout N] [--reps N]
//                 [--pingpong N] [--seq N] [--jobs N] [--rep-ms MS]
//
// --rep-ms bounds one repetition of the one-at-a-time loops (spawn_join_seq, the ping-pongs):
// when a wake-up must cross threads, each iteration waits on the kernel's scheduler, and on a
// loaded machine that is 100 times slower; the repetition then stops early and divides by the
// iterations it did, so a run takes a bounded time whatever the load.
//
// Metrics (wall clock; warm figures are the median of --reps repetitions):
//   idle_rss_per_fiber        RSS delta per fiber for --idle fibers parked on ctx.wait()
//   spawn_join_*_ns_per_fiber go(f) --spawn times, each fiber calling wg.done(); then wg.wait()
//   spawn_join_seq_ns         wg.add(1); go(f); wg.wait() one at a time
//   ctx_cancel_fanout_*       --fanout fibers parked on ctx.wait(); cancel() until all exited
//   chan_pingpong_rtt_ns      unbuffered channel round trip between two fibers on one thread
//   chan_pingpong_cross_thread_rtt_ns  the same with the two fibers on different threads (--threads 2)
//   fanout_jobs_per_s         --jobs jobs through 8 workers over buffered channels, every fiber
//                             started with the default placement (the Go twin of this one is
//                             bench/go/chan_fanout.go)
//   fanout_spread_jobs_per_s  the same with the workers spread over the threads (--threads 2)
//   wg_add_done_ns            wg.add(1); wg.done() pair
//   wg_wait_zero_ns           co_await wg.wait() on a zero counter
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "spindle/spindle.hpp"

using namespace spindle;
using namespace std::chrono_literals;
using Ns = std::chrono::duration<double, std::nano>;

namespace {

struct Options {
  unsigned threads = 1;
  std::string only;
  std::string skip;
  int spawn = 1'000'000;
  int idle = 100'000;
  int fanout = 100'000;
  int seq = 200'000;
  int wg = 10'000'000;
  int pingpong = 1'000'000;
  int jobs = 1'000'000;
  int reps = 5;
  int rep_ms = 0;  // 0: no bound
};

void emit(const char* name, double value, const char* unit) {
  std::printf("%s %.1f %s\n", name, value, unit);
  std::fflush(stdout);
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const auto n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

long rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long kib = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> kib;
      return kib * 1024;
    }
    status.ignore(4096, '\n');
  }
  return -1;
}

// True when a repetition that started at t0 has used its --rep-ms; checked every 256
// iterations so the clock read costs nothing measurable.
bool rep_over(const Options& o, int i, Clock::time_point t0) {
  return o.rep_ms > 0 && (i & 255) == 255 && Clock::now() - t0 > std::chrono::milliseconds(o.rep_ms);
}

Placement placement(const Options& o) { return o.threads > 1 ? Placement::spread : Placement::inherit; }

Task<> test_idle(Context ctx, Options o) {
  const long rss0 = rss_bytes();
  auto [parked_ctx, cancel] = with_cancel(ctx);
  WaitGroup started, exited;
  started.add(o.idle);
  exited.add(o.idle);
  for (int i = 0; i < o.idle; ++i) {
    go({parked_ctx, "idle", placement(o)}, [&](Context c) -> Task<> {
      auto done = exited.done_on_exit();
      started.done();
      co_await c.wait();
    }).detach();
  }
  co_await started.wait(ctx);
  co_await sleep(ctx, 100ms);  // every fiber reaches its wait
  const long rss1 = rss_bytes();
  emit("idle_fibers", static_cast<double>(live_fiber_count() - 1), "count");
  emit("idle_rss_per_fiber", static_cast<double>(rss1 - rss0) / o.idle, "B");
  cancel();
  co_await exited.wait(ctx);
}

Task<double> spawn_join_once(Context ctx, const Options& o) {
  WaitGroup wg;
  const auto t0 = Clock::now();
  wg.add(o.spawn);
  for (int i = 0; i < o.spawn; ++i)
    go({ctx, "spawned", placement(o)}, [&wg](Context) -> Task<> {
      wg.done();
      co_return;
    }).detach();
  co_await wg.wait(ctx);
  co_return Ns(Clock::now() - t0).count() / o.spawn;
}

Task<> test_spawn(Context ctx, Options o) {
  emit("spawn_join_cold_ns_per_fiber", co_await spawn_join_once(ctx, o), "ns");
  std::vector<double> xs;
  for (int r = 0; r < o.reps; ++r) xs.push_back(co_await spawn_join_once(ctx, o));
  emit("spawn_join_warm_ns_per_fiber", median(xs), "ns");

  xs.clear();
  for (int r = 0; r < o.reps; ++r) {
    WaitGroup wg;
    const auto t0 = Clock::now();
    int n = 0;
    while (n < o.seq) {
      wg.add(1);
      go({ctx, "seq", placement(o)}, [&wg](Context) -> Task<> {
        wg.done();
        co_return;
      }).detach();
      co_await wg.wait(ctx);
      if (rep_over(o, n++, t0)) break;
    }
    xs.push_back(Ns(Clock::now() - t0).count() / n);
  }
  emit("spawn_join_seq_ns", median(xs), "ns");
}

Task<> test_fanout(Context ctx, Options o) {
  std::vector<double> total;
  for (int r = 0; r < o.reps; ++r) {
    auto [fan_ctx, cancel] = with_cancel(ctx);
    WaitGroup ready, done;
    ready.add(o.fanout);
    done.add(o.fanout);
    for (int i = 0; i < o.fanout; ++i)
      go({fan_ctx, "fanout", placement(o)}, [&](Context c) -> Task<> {
        ready.done();
        co_await c.wait();
        done.done();
      }).detach();
    co_await ready.wait(ctx);
    co_await sleep(ctx, 100ms);
    const auto t0 = Clock::now();
    cancel();
    co_await done.wait(ctx);
    total.push_back(Ns(Clock::now() - t0).count());
  }
  const double m = median(total);
  emit("ctx_cancel_fanout_total_ms", m / 1e6, "ms");
  emit("ctx_cancel_fanout_ns_per_fiber", m / o.fanout, "ns");
}

Task<double> pingpong_once(Context ctx, const Options& o, int echo_worker) {
  Channel<int> ping, pong;
  auto echo = [](Context c, Channel<int> in, Channel<int> out) -> Task<> {
    while (auto v = co_await in.recv(c)) co_await out.send(c, *v);
  };
  Fiber<> f = echo_worker < 0 ? go(ctx, echo, ping, pong)
                              : go({ctx, "echo", static_cast<unsigned>(echo_worker)}, echo, ping, pong);
  const auto t0 = Clock::now();
  int n = 0;
  while (n < o.pingpong) {
    co_await ping.send(ctx, n);
    co_await pong.recv(ctx);
    if (rep_over(o, n++, t0)) break;
  }
  const double ns = Ns(Clock::now() - t0).count() / n;
  ping.close();
  co_await f.join(ctx);
  co_return ns;
}

Task<> test_chan(Context ctx, Options o, unsigned main_worker) {
  std::vector<double> xs;
  co_await pingpong_once(ctx, o, -1);  // warm-up
  for (int r = 0; r < o.reps; ++r) xs.push_back(co_await pingpong_once(ctx, o, -1));
  emit("chan_pingpong_rtt_ns", median(xs), "ns");
  if (o.threads < 2) co_return;
  xs.clear();
  const int other = static_cast<int>((main_worker + 1) % o.threads);
  for (int r = 0; r < o.reps; ++r) xs.push_back(co_await pingpong_once(ctx, o, other));
  emit("chan_pingpong_cross_thread_rtt_ns", median(xs), "ns");
}

/// Jobs per second through 8 workers started with placement `where`.
Task<double> fanout_rate(Context ctx, Options o, Placement where) {
  constexpr int workers = 8;
  std::vector<double> rates;
  for (int r = 0; r < o.reps; ++r) {
    Channel<int> jobs(1024);
    Channel<long> results(1024);
    WaitGroup wg;
    wg.add(workers);
    const auto t0 = Clock::now();
    for (int w = 0; w < workers; ++w)
      go({ctx, "fanout worker", where}, [&wg](Context c, Channel<int> in, Channel<long> out) -> Task<> {
        auto done = wg.done_on_exit();
        while (auto j = co_await in.recv(c)) co_await out.send(c, static_cast<long>(*j) * 2);
      }, jobs, results).detach();
    go(ctx, [](Context c, Channel<int> out, int n) -> Task<> {
      for (int i = 0; i < n; ++i) co_await out.send(c, i);
      out.close();
    }, jobs, o.jobs).detach();
    long sum = 0;
    for (int i = 0; i < o.jobs; ++i) sum += *(co_await results.recv(ctx));
    rates.push_back(o.jobs / std::chrono::duration<double>(Clock::now() - t0).count());
    co_await wg.wait(ctx);
    if (sum != static_cast<long>(o.jobs) * (o.jobs - 1)) std::fprintf(stderr, "fanout: wrong sum\n");
  }
  co_return median(rates);
}

Task<> test_fanout_jobs(Context ctx, Options o) {
  emit("fanout_jobs_per_s", co_await fanout_rate(ctx, o, Placement::inherit), "jobs/s");
  if (o.threads > 1)
    emit("fanout_spread_jobs_per_s", co_await fanout_rate(ctx, o, Placement::spread), "jobs/s");
}

Task<> test_wg(Context ctx, Options o) {
  std::vector<double> xs, ys;
  for (int r = 0; r < o.reps; ++r) {
    WaitGroup wg;
    auto t0 = Clock::now();
    for (int i = 0; i < o.wg; ++i) {
      wg.add(1);
      wg.done();
    }
    xs.push_back(Ns(Clock::now() - t0).count() / o.wg);
    const int waits = o.wg / 10;
    t0 = Clock::now();
    for (int i = 0; i < waits; ++i) co_await wg.wait(ctx);
    ys.push_back(Ns(Clock::now() - t0).count() / waits);
  }
  emit("wg_add_done_ns", median(xs), "ns");
  emit("wg_wait_zero_ns", median(ys), "ns");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--only") o.only = value();
    else if (a == "--skip") o.skip = value();
    else if (a == "--spawn") o.spawn = std::stoi(value());
    else if (a == "--idle") o.idle = std::stoi(value());
    else if (a == "--fanout") o.fanout = std::stoi(value());
    else if (a == "--reps") o.reps = std::stoi(value());
    else if (a == "--pingpong") o.pingpong = std::stoi(value());
    else if (a == "--jobs") o.jobs = std::stoi(value());
    else if (a == "--seq") o.seq = std::stoi(value());
    else if (a == "--rep-ms") o.rep_ms = std::stoi(value());
    else {
      std::fprintf(stderr,
                   "usage: %s [--threads N] [--only|--skip idle|spawn|chan|ctx|fanout|wg] [--spawn N] "
                   "[--idle N] [--fanout N] [--pingpong N] [--seq N] [--jobs N] [--reps N] [--rep-ms MS]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  auto run = [&](const char* name) {
    const std::string n = name;
    return (o.only.empty() || n.starts_with(o.only)) && (o.skip.empty() || !n.starts_with(o.skip));
  };
  std::printf("# spindle threads=%u hardware=%u\n", o.threads, std::thread::hardware_concurrency());
  Scheduler sched({.threads = o.threads});
  sched.block_on([&](Context ctx) -> Task<> {
    if (run("idle")) co_await test_idle(ctx, o);
    if (run("spawn")) co_await test_spawn(ctx, o);
    if (run("chan")) co_await test_chan(ctx, o, live_fibers().front().worker);
    if (run("ctx")) co_await test_fanout(ctx, o);
    if (run("fanout")) co_await test_fanout_jobs(ctx, o);
    if (run("wg")) co_await test_wg(ctx, o);
  });
  return sched.shutdown(1s).empty() ? 0 : 3;
}
