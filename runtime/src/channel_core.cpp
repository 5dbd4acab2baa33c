#include "spindle/detail/channel_core.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace spindle::detail {
namespace {

/// A per-thread xorshift generator for the start case of a select: Go picks among ready
/// cases at random so that none is starved, and so does spindle.
std::size_t random_start(std::size_t n) noexcept {
  if (n <= 1) return 0;
  thread_local std::uint64_t state =
      0x9E3779B97F4A7C15ull ^
      static_cast<std::uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())) ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<std::size_t>(state % n);
}

/// Storage for up to `inline_count` items without allocating.
template <class T, std::size_t inline_count = 4>
class SmallArray {
 public:
  explicit SmallArray(std::size_t n) : n_(n) {
    if (n > inline_count) heap_ = std::make_unique<T[]>(n);
  }
  T* data() noexcept { return heap_ ? heap_.get() : inline_.data(); }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  std::size_t size() const noexcept { return n_; }

 private:
  std::size_t n_;
  std::array<T, inline_count> inline_{};
  std::unique_ptr<T[]> heap_;
};

/// Holds the locks of every distinct channel of a select, taken in address order — the
/// order every select uses, so two selects over the same channels cannot deadlock. Biases
/// held by other workers are revoked first, while no lock is held (see BiasedLock).
class LockAll {
 public:
  LockAll(SelectCase* cases, std::size_t n) : channels_(n) {
    for (std::size_t i = 0; i < n; ++i) channels_[i] = cases[i].channel;
    auto* first = channels_.data();
    std::sort(first, first + n);
    count_ = static_cast<std::size_t>(std::unique(first, first + n) - first);
    for (std::size_t i = 0; i < count_; ++i) channels_[i]->unbias();
    for (std::size_t i = 0; i < count_; ++i) channels_[i]->lock();
  }
  ~LockAll() {
    for (std::size_t i = count_; i-- > 0;) channels_[i]->unlock();
  }
  LockAll(const LockAll&) = delete;
  LockAll& operator=(const LockAll&) = delete;

 private:
  SmallArray<ChannelBase*> channels_;
  std::size_t count_ = 0;
};

struct Attempt {
  int index = -1;
  CaseResult result = CaseResult::not_ready;
};

/// Under all the select's locks: tries each case once, from `start` on.
Attempt attempt(SelectCase* cases, std::size_t n, std::size_t start) noexcept {
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    const CaseResult r = cases[i].try_now(cases[i]);
    if (r != CaseResult::not_ready) return {static_cast<int>(i), r};
  }
  return {};
}

std::error_code outcome(CaseResult r) noexcept {
  return r == CaseResult::closed ? make_error_code(Errc::closed) : std::error_code{};
}

/// The parked form: one ParkOp and one list entry per case.
struct ParkedSelect {
  SelectCase* cases;
  SmallArray<ChanWaiter>* waiters;

  static void dequeue(ParkOp* op) noexcept {
    auto* self = static_cast<ParkedSelect*>(op->owner);
    for (std::size_t i = 0; i < self->waiters->size(); ++i) {
      ChanWaiter& w = (*self->waiters)[i];
      std::lock_guard lock(*self->cases[i].channel);
      if (w.linked()) List<ChanWaiter, ChanTag>::erase(&w);
    }
  }
};

}  // namespace

void SingleWait::dequeue(ParkOp* op) noexcept {
  // Completed through the channel (fired): whoever did it popped the waiter already.
  if (op->fired >= 0) return;
  auto* self = static_cast<SingleWait*>(op->owner);
  std::lock_guard lock(*self->channel);
  if (self->waiter.linked()) List<ChanWaiter, ChanTag>::erase(&self->waiter);
}

void link_single(ParkOp& op, SingleWait& wait, SelectCase& c) noexcept {
  wait.channel = c.channel;
  wait.waiter.op = &op;
  wait.waiter.slot = c.slot;
  wait.waiter.index = 0;
  (c.is_send ? c.channel->senders : c.channel->receivers).push_back(&wait.waiter);
}

void SingleAwait::prepare_park() {
  FiberRecord* fiber = current_fiber();
  if (!fiber) {
    ch_.unlock();
    throw std::logic_error("spindle: a channel operation that waits must run in a fiber started by go()");
  }
  keep_ = Ref<ChannelBase>(&ch_);
  cancel_ = CancelRef(ctx_.canceller());
  op_.bind(fiber, cancel_.get());
  op_.owner = &wait_;
  op_.dequeue = &SingleWait::dequeue;
  parked_ = true;
}

void SingleAwait::park(std::coroutine_handle<> waiter) noexcept {
  auto enqueue = [this](ParkOp& op) noexcept {
    link_single(op, wait_, case_);
    ch_.unlock();
    note_park(op.fiber(), where_);
  };
  op_.park(waiter, enqueue);
}

Selected try_select_cases(SelectCase* cases, std::size_t n) {
  LockAll locks(cases, n);
  const Attempt a = attempt(cases, n, random_start(n));
  return {a.index, outcome(a.result)};
}

Task<Selected> select_cases(const Context& ctx, std::source_location where, SelectCase* cases,
                            std::size_t n) {
  const std::size_t start = random_start(n);
  {
    LockAll locks(cases, n);
    const Attempt a = attempt(cases, n, start);
    if (a.index >= 0) co_return Selected{a.index, outcome(a.result)};
  }
  if (ctx.done()) co_return Selected{-1, ctx.err()};

  // The channels are kept alive by the cases, which the caller holds across the await.
  const CancelRef cancel(ctx.canceller());
  SmallArray<ChanWaiter> waiters(n);
  ParkedSelect parked{cases, &waiters};
  ParkOp op;
  op.owner = &parked;
  op.dequeue = &ParkedSelect::dequeue;
  co_await op.suspend(cancel.get(), where, [&](ParkOp& self) noexcept {
    LockAll locks(cases, n);
    // Nothing else can claim the op yet: it is in no list and not registered with ctx.
    const Attempt a = attempt(cases, n, start);
    if (a.index >= 0) {
      self.try_claim();
      self.fired = static_cast<std::int16_t>(a.index);
      self.complete(outcome(a.result));
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      waiters[i].op = &self;
      waiters[i].slot = cases[i].slot;
      waiters[i].index = static_cast<int>(i);
      auto& list = cases[i].is_send ? cases[i].channel->senders : cases[i].channel->receivers;
      list.push_back(&waiters[i]);
    }
  });
  if (op.fired < 0) co_return Selected{-1, op.result()};
  co_return Selected{op.fired, op.result()};
}

}  // namespace spindle::detail
