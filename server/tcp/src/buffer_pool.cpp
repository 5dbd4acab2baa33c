#include "spindle/tcp/buffer_pool.hpp"

#include <vector>

namespace spindle::tcp {
namespace {

/// Buffers kept per thread; beyond that they are freed, so a burst does not pin memory.
constexpr std::size_t max_cached = 64;

std::vector<std::unique_ptr<char[]>>& cache() {
  thread_local std::vector<std::unique_ptr<char[]>> buffers;
  return buffers;
}

}  // namespace

PooledBuffer PooledBuffer::borrow() {
  auto& c = cache();
  if (c.empty()) return PooledBuffer(std::make_unique_for_overwrite<char[]>(size));
  auto data = std::move(c.back());
  c.pop_back();
  return PooledBuffer(std::move(data));
}

PooledBuffer::~PooledBuffer() {
  if (!data_) return;
  auto& c = cache();
  if (c.size() < max_cached) c.push_back(std::move(data_));
}

}  // namespace spindle::tcp
