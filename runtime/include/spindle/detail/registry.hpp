// The process-wide registry of live fibers: sharded, so spawning on several threads rarely
// contends, and safe to walk from any thread for the live view and the leak detector.
#pragma once

#include <functional>

#include "spindle/detail/fiber_record.hpp"
#include "spindle/fiber_info.hpp"

namespace spindle::detail {

void register_fiber(FiberRecord* f) noexcept;
void unregister_fiber(FiberRecord* f) noexcept;
/// Calls `visit` for every registered fiber, under that fiber's shard lock: keep it short.
void for_each_fiber(const std::function<void(FiberRecord&)>& visit);
/// A snapshot of `f` (call under its shard lock, i.e. from for_each_fiber, or on its thread).
FiberInfo describe(const FiberRecord& f);
/// A new unique fiber id (never 0).
std::uint64_t next_fiber_id() noexcept;

}  // namespace spindle::detail
