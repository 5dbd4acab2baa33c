// Go:      for i := 0; i < numWorkers; i++ { go worker(i, jobs, results) }
// spindle: for (int i = 0; i < workers; ++i) go(ctx, worker, i, jobs, results);
#include <spindle/spindle.hpp>

#include <cstdio>
#include <map>

using namespace spindle;

struct Result {
  int worker;
  long value;
};

Task<> worker(Context ctx, int id, Channel<int> jobs, Channel<Result> results) {
  while (auto job = co_await jobs.recv(ctx))  // for job := range jobs
    co_await results.send(ctx, Result{id, static_cast<long>(*job) * *job});
}

int main() {
  constexpr int workers = 4, job_count = 100;
  Scheduler sched;
  sched.block_on([](Context ctx) -> Task<> {
    Channel<int> jobs(workers);  // small buffer: the producer keeps pace with the workers
    Channel<Result> results(job_count);
    WaitGroup wg;
    for (int i = 0; i < workers; ++i) {
      wg.add(1);
      go({ctx, "worker " + std::to_string(i), Placement::spread},
         [&wg](Context c, int id, Channel<int> j, Channel<Result> r) -> Task<> {
           auto done = wg.done_on_exit();
           co_await worker(c, id, j, r);
         }, i, jobs, results).detach();
    }
    for (int j = 1; j <= job_count; ++j) co_await jobs.send(ctx, j);
    jobs.close();  // the workers' loops end once the jobs are drained
    co_await wg.wait(ctx);
    results.close();

    long sum = 0;
    std::map<int, int> per_worker;
    while (auto r = co_await results.recv(ctx)) {
      sum += r->value;
      ++per_worker[r->worker];
    }
    int handled = 0;
    for (auto& [id, n] : per_worker) handled += n;
    std::printf("%d jobs done; sum of squares = %ld\n", handled, sum);
    for (auto& [id, n] : per_worker) std::printf("  worker %d handled %d\n", id, n);
  });
  return sched.shutdown().empty() ? 0 : 3;
}
