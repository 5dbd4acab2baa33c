#include "spindle/detail/biased_lock.hpp"

#include <asio/post.hpp>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace spindle::detail {

/// The running workers and the revocations asked of each. Revocations are rare (at most one
/// per lock), so one process-wide mutex guards it all.
struct BiasRegistry {
  struct Mailbox {
    std::vector<BiasedLock*> pending;
    bool serve_posted = false;
  };

  static BiasRegistry& instance() {
    // Never destroyed: a worker of a scheduler with static storage may stop after exit().
    static BiasRegistry* registry = new BiasRegistry;
    return *registry;
  }

  /// Under mu: drops the bias of every lock asked of `box`'s worker.
  static void serve(Mailbox& box) noexcept {
    for (BiasedLock* lock : box.pending) lock->drop_bias();
    box.pending.clear();
  }

  /// On `io`'s worker thread (or, harmlessly, on whatever thread runs `io` after its worker
  /// stopped): serves what was asked of it.
  void serve(asio::io_context* io) noexcept {
    std::lock_guard lock(mu);
    auto it = workers.find(io);
    if (it == workers.end()) return;
    it->second.serve_posted = false;
    serve(it->second);
  }

  /// Asks for `lock`'s bias to be dropped; true when the caller must wait for it.
  bool ask(BiasedLock& lock) noexcept {
    std::lock_guard guard(mu);
    asio::io_context* owner = lock.owner_.load(std::memory_order_relaxed);
    if (owner == nullptr) return false;  // revoked meanwhile (drops happen under mu)
    auto it = workers.find(owner);
    if (it == workers.end()) {
      // The worker is not running: its last writes happened before it left, under mu.
      lock.drop_bias();
      return false;
    }
    Mailbox& box = it->second;
    box.pending.push_back(&lock);
    if (!box.serve_posted) {
      box.serve_posted = true;
      asio::post(*owner, [owner] { instance().serve(owner); });
    }
    return true;
  }

  std::mutex mu;
  std::unordered_map<asio::io_context*, Mailbox> workers;
};

void BiasedLock::revoke() noexcept {
  BiasRegistry& registry = BiasRegistry::instance();
  if (!registry.ask(*this)) return;
  // The owner serves at its next handler boundary: within a run-queue batch (100 µs) unless
  // one of its fibers blocks its thread. A worker waiting here serves its own worker's
  // revocations meanwhile, so two workers revoking each other's locks both go on.
  asio::io_context* self = current_io();
  for (int spins = 0; owner_.load(std::memory_order_acquire) != nullptr; ++spins) {
    if (self && spins % 16 == 0) registry.serve(self);
    backoff(spins);
  }
}

BiasHome::BiasHome(asio::io_context& io) : io_(io) {
  BiasRegistry& registry = BiasRegistry::instance();
  std::lock_guard lock(registry.mu);
  registry.workers.try_emplace(&io_);
}

BiasHome::~BiasHome() {
  BiasRegistry& registry = BiasRegistry::instance();
  std::lock_guard lock(registry.mu);
  auto it = registry.workers.find(&io_);
  if (it == registry.workers.end()) return;
  BiasRegistry::serve(it->second);
  registry.workers.erase(it);
}

}  // namespace spindle::detail
