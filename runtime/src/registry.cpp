#include "spindle/detail/registry.hpp"

#include <algorithm>
#include <array>
#include <mutex>

#include "spindle/detail/scheduler_core.hpp"
#include "spindle/detail/spin_mutex.hpp"

namespace spindle::detail {
namespace {

struct alignas(64) Shard {
  SpinMutex mu;
  List<FiberRecord, RegistryTag> fibers;
};

constexpr std::size_t shard_count = 64;

struct Registry {
  std::array<Shard, shard_count> shards;
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::size_t> live{0};
};

Registry& registry() {
  // Never destroyed: fibers may still unregister while static destructors run.
  static Registry* r = new Registry;
  return *r;
}

Shard& shard_of(const FiberRecord* f) { return registry().shards[f->id % shard_count]; }

}  // namespace

std::uint64_t next_fiber_id() noexcept {
  return registry().next_id.fetch_add(1, std::memory_order_relaxed);
}

void register_fiber(FiberRecord* f) noexcept {
  Shard& s = shard_of(f);
  {
    std::lock_guard lock(s.mu);
    s.fibers.push_back(f);
  }
  registry().live.fetch_add(1, std::memory_order_relaxed);
  f->scheduler()->live.fetch_add(1, std::memory_order_relaxed);
}

void unregister_fiber(FiberRecord* f) noexcept {
  Shard& s = shard_of(f);
  {
    std::lock_guard lock(s.mu);
    if (static_cast<Hook<RegistryTag>*>(f)->linked()) List<FiberRecord, RegistryTag>::erase(f);
  }
  registry().live.fetch_sub(1, std::memory_order_release);
  // Last touch of the scheduler: once its count reaches zero, shutdown may proceed.
  f->scheduler()->live.fetch_sub(1, std::memory_order_release);
}

void for_each_fiber(const std::function<void(FiberRecord&)>& visit) {
  for (Shard& s : registry().shards) {
    std::lock_guard lock(s.mu);
    for (FiberRecord* f = s.fibers.front(); f; f = s.fibers.next(f)) visit(*f);
  }
}

FiberInfo describe(const FiberRecord& f) {
  FiberInfo info;
  info.id = f.id;
  info.parent_id = f.parent_id;
  info.name = std::string(f.name.view());
  info.spawned_at = f.spawned_at;
  info.parked_at = f.await_site.load(std::memory_order_relaxed);
  const auto now = Clock::now();
  info.age = now - f.started;
  info.worker = f.worker();
  info.canceled = f.done();
  if (f.deadline() != no_deadline) info.deadline_left = f.deadline() - now;
  return info;
}

}  // namespace spindle::detail

namespace spindle {

std::vector<FiberInfo> live_fibers() {
  std::vector<FiberInfo> out;
  detail::for_each_fiber([&](detail::FiberRecord& f) { out.push_back(detail::describe(f)); });
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::size_t live_fiber_count() noexcept {
  return detail::registry().live.load(std::memory_order_acquire);
}

std::uint64_t spawned_fiber_count() noexcept {
  return detail::registry().next_id.load(std::memory_order_relaxed) - 1;
}

}  // namespace spindle
