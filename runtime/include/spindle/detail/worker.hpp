// What the calling thread knows about the scheduler worker it runs (if any).
#pragma once

#include <asio/io_context.hpp>
#include <memory>

namespace spindle::detail {

class DeadlineQueue;
class SchedulerCore;
struct Worker;

/// The scheduler worker the calling thread is, else nullptr.
Worker* current_worker() noexcept;
/// The io_context of the calling worker thread; constinit, so reading it inline is one
/// thread-local load with no initialisation check (every channel operation reads it).
extern constinit thread_local asio::io_context* this_thread_io;
/// The io_context run by the calling thread if it is a scheduler worker, else nullptr.
inline asio::io_context* current_io() noexcept { return this_thread_io; }
/// The scheduler whose worker the calling thread is, else nullptr.
SchedulerCore* current_scheduler() noexcept;
/// The io_context of spindle's own timer thread, for work posted from outside any scheduler.
asio::io_context& fallback_io();
/// The deadline queue of the calling worker thread, else nullptr.
std::shared_ptr<DeadlineQueue> current_worker_deadlines() noexcept;

}  // namespace spindle::detail
