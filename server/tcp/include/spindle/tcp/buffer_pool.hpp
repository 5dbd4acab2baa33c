// Read buffers lent per thread, so an idle connection holds none.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace spindle::tcp {

/// A buffer borrowed from the calling thread's pool; goes back on destruction (to the pool of
/// the thread that destroys it). Connections borrow one only while bytes are flowing.
class PooledBuffer {
 public:
  /// Size of every pooled buffer.
  static constexpr std::size_t size = 16 * 1024;

  /// Takes a buffer from this thread's pool (allocating if it is empty).
  static PooledBuffer borrow();

  PooledBuffer(PooledBuffer&& o) noexcept : data_(std::move(o.data_)) {}
  PooledBuffer& operator=(PooledBuffer&&) = delete;
  PooledBuffer(const PooledBuffer&) = delete;
  ~PooledBuffer();

  std::span<char> span() noexcept { return {data_.get(), size}; }
  char* data() noexcept { return data_.get(); }

 private:
  explicit PooledBuffer(std::unique_ptr<char[]> data) noexcept : data_(std::move(data)) {}
  std::unique_ptr<char[]> data_;
};

}  // namespace spindle::tcp
