#include "spindle/detail/deadline_queue.hpp"

#include <asio/post.hpp>
#include <mutex>
#include <thread>

#include "spindle/detail/worker.hpp"

namespace spindle::detail {
namespace {

constexpr std::size_t npos = static_cast<std::size_t>(-1);
/// A node's heap_index while it waits in the later list: this bit plus its position there.
constexpr std::size_t in_later = std::size_t{1} << 63;

/// Drives deadlines of contexts made outside any scheduler (e.g. on main() before start).
class TimerThread {
 public:
  TimerThread() : guard_(io_.get_executor()), queue_(std::make_shared<DeadlineQueue>(io_)) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TimerThread() {
    guard_.reset();
    io_.stop();
    thread_.join();
    queue_->close();
  }
  const std::shared_ptr<DeadlineQueue>& queue() const { return queue_; }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::shared_ptr<DeadlineQueue> queue_;
  std::thread thread_;
};

TimerThread& timer_thread() {
  static TimerThread thread;
  return thread;
}

}  // namespace

asio::io_context& fallback_io() { return timer_thread().io(); }

std::shared_ptr<DeadlineQueue> DeadlineQueue::for_current_thread() {
  if (auto q = current_worker_deadlines()) return q;
  return timer_thread().queue();
}

DeadlineQueue::DeadlineQueue(asio::io_context& io) : io_(io) { timer_.emplace(io); }

DeadlineQueue::~DeadlineQueue() = default;

void DeadlineQueue::add(DeadlineNode* node) {
  bool rearm_here = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (node->deadline() >= armed_for_) {
      // Not before the armed timer, so not due before it fires, when it joins the heap. Most
      // such deadlines (a request's, an idle wait's) are cancelled first, in O(1).
      node->heap_index = in_later | later_.size();
      later_.push_back(node);
      return;
    }
    node->heap_index = heap_.size();
    heap_.push_back(node);
    sift_up(node->heap_index);
    if (heap_.front() != node || node->deadline() >= armed_for_) return;
    if (io_.get_executor().running_in_this_thread()) {
      rearm_here = true;
    } else if (!rearm_posted_) {
      rearm_posted_ = true;
    } else {
      return;
    }
  }
  if (rearm_here) {
    rearm();
  } else {
    asio::post(io_, [self = shared_from_this()] {
      {
        std::lock_guard lock(self->mu_);
        self->rearm_posted_ = false;
      }
      self->rearm();
    });
  }
}

void DeadlineQueue::remove(DeadlineNode* node) noexcept {
  std::lock_guard lock(mu_);
  if (node->heap_index == npos) return;
  if (node->heap_index & in_later) erase_later(node->heap_index & ~in_later);
  else erase_at(node->heap_index);
}

void DeadlineQueue::close() noexcept {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (auto* n : heap_) n->heap_index = npos;
    for (auto* n : later_) n->heap_index = npos;
    heap_.clear();
    later_.clear();
  }
  timer_.reset();
}

void DeadlineQueue::rearm() {
  TimePoint next;
  {
    std::lock_guard lock(mu_);
    if (closed_ || heap_.empty()) return;
    next = heap_.front()->deadline();
    if (next >= armed_for_) return;
    armed_for_ = next;
  }
  // Re-arming cancels the pending wait, whose handler then sees operation_aborted.
  timer_->expires_at(next);
  timer_->async_wait([self = shared_from_this()](std::error_code ec) { self->on_timer(ec); });
}

void DeadlineQueue::on_timer(std::error_code ec) {
  if (ec == asio::error::operation_aborted) return;
  std::vector<Ref<CancelNode>> due;
  {
    std::lock_guard lock(mu_);
    armed_for_ = no_deadline;
    // The deadlines kept out of the heap join it now: to be due, or to arm the next wait.
    for (DeadlineNode* n : later_) {
      n->heap_index = heap_.size();
      heap_.push_back(n);
      sift_up(n->heap_index);
    }
    later_.clear();
    const auto now = Clock::now();
    while (!heap_.empty() && heap_.front()->deadline() <= now) {
      DeadlineNode* n = heap_.front();
      erase_at(0);
      // A node whose count reached zero is being destroyed and needs nothing more.
      if (n->try_add_ref()) due.emplace_back(n, adopt_ref);
    }
  }
  for (auto& n : due) n->cancel(Errc::deadline_exceeded);
  rearm();
}

void DeadlineQueue::swap_entries(std::size_t a, std::size_t b) noexcept {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->heap_index = a;
  heap_[b]->heap_index = b;
}

void DeadlineQueue::sift_up(std::size_t i) noexcept {
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline() <= heap_[i]->deadline()) break;
    swap_entries(i, parent);
    i = parent;
  }
}

void DeadlineQueue::sift_down(std::size_t i) noexcept {
  for (;;) {
    std::size_t smallest = i, l = 2 * i + 1, r = l + 1;
    if (l < heap_.size() && heap_[l]->deadline() < heap_[smallest]->deadline()) smallest = l;
    if (r < heap_.size() && heap_[r]->deadline() < heap_[smallest]->deadline()) smallest = r;
    if (smallest == i) return;
    swap_entries(i, smallest);
    i = smallest;
  }
}

void DeadlineQueue::erase_later(std::size_t i) noexcept {
  later_[i]->heap_index = npos;
  if (i != later_.size() - 1) {
    later_[i] = later_.back();
    later_[i]->heap_index = in_later | i;
  }
  later_.pop_back();
}

void DeadlineQueue::erase_at(std::size_t i) noexcept {
  heap_[i]->heap_index = npos;
  const std::size_t last = heap_.size() - 1;
  if (i != last) {
    heap_[i] = heap_[last];
    heap_[i]->heap_index = i;
  }
  heap_.pop_back();
  if (i < heap_.size()) {
    sift_down(i);
    sift_up(i);
  }
}

}  // namespace spindle::detail
