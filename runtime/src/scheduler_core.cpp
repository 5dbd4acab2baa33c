#include "spindle/detail/scheduler_core.hpp"


#include <spdlog/spdlog.h>

#include <stdexcept>

#include "spindle/cpu_count.hpp"
#include "spindle/detail/biased_lock.hpp"
#include "spindle/detail/idle_spin_budget.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/registry.hpp"
#include "spindle/detail/worker.hpp"

namespace spindle::detail {

constinit thread_local asio::io_context* this_thread_io = nullptr;

namespace {

thread_local Worker* t_worker = nullptr;

struct LeakLog {
  std::mutex mu;
  std::vector<FiberInfo> leaks;
  std::atomic<std::uint64_t> total{0};
};

LeakLog& leak_log() {
  static LeakLog* log = new LeakLog;  // shutdowns may run during static destruction
  return *log;
}

}  // namespace

SchedulerCore* current_scheduler() noexcept { return t_worker ? &t_worker->core : nullptr; }
Worker* current_worker() noexcept { return t_worker; }
std::shared_ptr<DeadlineQueue> current_worker_deadlines() noexcept {
  return t_worker ? t_worker->deadlines : nullptr;
}

void record_leaks(const std::vector<FiberInfo>& leaks) {
  auto& log = leak_log();
  log.total.fetch_add(leaks.size(), std::memory_order_relaxed);
  std::lock_guard lock(log.mu);
  log.leaks.insert(log.leaks.end(), leaks.begin(), leaks.end());
}

std::vector<FiberInfo> take_recorded_leaks() {
  auto& log = leak_log();
  std::lock_guard lock(log.mu);
  return std::exchange(log.leaks, {});
}

Worker::Worker(SchedulerCore& core_, unsigned index_)
    : core(core_),
      index(index_),
      keep_running(io.get_executor()),
      deadlines(std::make_shared<DeadlineQueue>(io)),
      run_queue(io, &core_, index_, core_.idle_spin() > std::chrono::microseconds::zero()) {}

std::shared_ptr<SchedulerCore> SchedulerCore::make(unsigned threads, std::chrono::microseconds idle_spin) {
  std::shared_ptr<SchedulerCore> core(new SchedulerCore(threads, idle_spin));
  core->root_ = RootNode::make(core);
  return core;
}

SchedulerCore::SchedulerCore(unsigned threads, std::chrono::microseconds idle_spin)
    : idle_spin_(idle_spin) {
  if (threads == 0) threads = available_cpus();
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(*this, i));
}

SchedulerCore::~SchedulerCore() = default;

Worker& SchedulerCore::next_worker() noexcept {
  return *workers_[round_robin_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
}

void SchedulerCore::start() {
  std::lock_guard lock(lifecycle_);
  if (started_ || shut_down_) return;
  started_ = true;
  for (auto& w : workers_) {
    w->thread = std::thread([this, w = w.get()] {
      t_worker = w;
      this_thread_io = &w->io;
      const BiasHome bias_home(w->io);
      for (;;) {
        try {
          run_worker(*w);
          return;
        } catch (const std::exception& e) {
          // Fibers catch their own exceptions; this is a handler outside any fiber.
          spdlog::error("scheduler worker {}: handler threw: {}", w->index, e.what());
        }
      }
    });
  }
}

void SchedulerCore::run_worker(Worker& w) {
  if (idle_spin_.count() == 0) {
    w.io.run();
    return;
  }
  // poll() runs what is ready, epoll_wait(0) included, until nothing is. Out of work, keep
  // asking (one epoll_wait(0) each time) for as long as the spin budget allows, then block in
  // run_one() until the next handler. The clock is read only once a poll finds nothing: a
  // busy worker pays no clock read per poll.
  using Clock = IdleSpinBudget::Clock;
  IdleSpinBudget budget(idle_spin_, Clock::now());
  while (!w.io.stopped()) {
    if (w.io.poll() > 0) continue;
    const auto idle_since = Clock::now();
    const auto spin_until = idle_since + budget.gap_started(idle_since);
    auto now = idle_since;
    bool bridged = false;
    while (!w.io.stopped() && now < spin_until) {
      if (w.io.poll() > 0) {
        bridged = true;
        break;
      }
      now = Clock::now();
    }
    const auto spun = now - idle_since;
    if (!bridged) {
      w.io.run_one();
      now = Clock::now();
    }
    budget.gap_ended(now, spun);
  }
}

std::vector<FiberInfo> SchedulerCore::unignored_fibers() const {
  std::vector<FiberInfo> out;
  for_each_fiber([&](FiberRecord& f) {
    if (f.scheduler() != this) return;
    auto info = describe(f);
    if (!leak_ignored(info)) out.push_back(std::move(info));
  });
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::vector<FiberInfo> SchedulerCore::shutdown(std::chrono::nanoseconds grace) {
  if (current_scheduler() == this)
    throw std::logic_error("spindle: Scheduler::shutdown called from one of its own fibers");
  std::unique_lock lock(lifecycle_);
  if (shut_down_) return {};
  shut_down_ = true;
  const bool was_started = started_;
  lock.unlock();

  root_->cancel(Errc::canceled);

  std::vector<FiberInfo> leaks;
  if (live.load(std::memory_order_acquire) != 0) {
    const auto until = Clock::now() + grace;
    auto pause = std::chrono::microseconds(200);
    // Cheap counter first; the registry walk (which honours the ignore list) only when
    // fibers remain.
    while (was_started && Clock::now() < until) {
      if (live.load(std::memory_order_acquire) == 0 || unignored_fibers().empty()) break;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(10'000));
    }
    leaks = unignored_fibers();
  }
  for (const auto& f : leaks) spdlog::error("leaked {}", to_string(f));
  record_leaks(leaks);

  stop_workers();
  destroy_remaining_fibers();
  return leaks;
}

void SchedulerCore::stop_workers() {
  stopped_.store(true, std::memory_order_release);
  for (auto& w : workers_) {
    w->keep_running.reset();
    w->io.stop();
  }
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void SchedulerCore::destroy_remaining_fibers() {
  // Fibers parked in spindle waits: their frames are owned by the parked op.
  std::vector<ParkOp*> parked;
  for_each_fiber([&](FiberRecord& f) {
    if (f.scheduler() == this && f.parked) parked.push_back(f.parked);
  });
  // Destroying one fiber can wake (claim) another's op but never free it: a claimed op is
  // owned by its posted resumption, which the io_context shutdown below destroys.
  for (ParkOp* op : parked) op->destroy_parked();

  for (auto& w : workers_) w->deadlines->close();
  // Fibers parked in Asio operations, or queued to run: destroyed with the handlers. All
  // contexts are shut down before any is destroyed, as a frame on one worker may own an
  // object (timer, socket) of another.
  // Destroying a frame can queue work on another worker whose queues were already drained (a
  // waker in a destructor, an awaitable unwinding through its executor); further rounds
  // drain those.
  for (int round = 0; round < 4; ++round) {
    for (auto& w : workers_) w->run_queue.abandon_all();
    for (auto& w : workers_) w->io.shutdown();
  }
  for (auto& w : workers_) w->io.destroy();

  const auto stuck = live.load(std::memory_order_acquire);
  if (stuck != 0)
    spdlog::error("{} fiber(s) could not be destroyed: parked in an operation spindle does not own",
                  stuck);
}

}  // namespace spindle::detail

namespace spindle {
std::uint64_t leaked_fiber_count() noexcept {
  return detail::leak_log().total.load(std::memory_order_relaxed);
}
}  // namespace spindle
