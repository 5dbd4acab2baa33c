#include "spindle/detail/block_cache.hpp"

#include <cstdint>

namespace spindle::detail {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Under the sanitizers every block goes to the global allocator, which they watch: a use
// after free must not land in a block the cache handed out again, and ThreadSanitizer must
// see a block's reuse as a new allocation.
void* cached_allocate(std::size_t size) { return ::operator new(size); }
void cached_deallocate(void* block, std::size_t) noexcept { ::operator delete(block); }
#else
namespace {

// glibc's chunk for a request of n bytes: n plus an 8-byte header, rounded up to 16, at least
// 32. Blocks are cached by that chunk size and allocated with the most it holds.
constexpr std::size_t chunk_of(std::size_t size) noexcept {
  const std::size_t chunk = (size + 8 + 15) & ~std::size_t{15};
  return chunk < 32 ? 32 : chunk;
}
constexpr std::size_t class_of(std::size_t size) noexcept { return chunk_of(size) / 16; }
constexpr std::size_t classes = class_of(max_cached_block) + 1;
constexpr std::uint32_t max_blocks = 256;  // per class and thread

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so a block freed while the thread's thread_local objects are being
// destroyed still finds it; `closed` then sends such blocks to the global allocator.
struct ThreadBlocks {
  FreeBlock* top[classes];
  std::uint32_t count[classes];
  bool closed;
  bool drain_registered;
};
constinit thread_local ThreadBlocks blocks{};

/// Returns the thread's cached blocks to the global allocator when the thread ends.
struct Drain {
  bool armed = false;
  ~Drain() {
    for (std::size_t c = 0; c < classes; ++c) {
      while (FreeBlock* b = blocks.top[c]) {
        blocks.top[c] = b->next;
        ::operator delete(b);
      }
      blocks.count[c] = 0;
    }
    blocks.closed = true;
  }
};
thread_local Drain drain;

}  // namespace

void* cached_allocate(std::size_t size) {
  if (size > max_cached_block) return ::operator new(size);
  const std::size_t c = class_of(size);
  if (FreeBlock* b = blocks.top[c]) {
    blocks.top[c] = b->next;
    --blocks.count[c];
    return b;
  }
  return ::operator new(c * 16 - 8);
}

void cached_deallocate(void* block, std::size_t size) noexcept {
  if (!block) return;
  if (size > max_cached_block) return ::operator delete(block);
  const std::size_t c = class_of(size);
  if (blocks.closed || blocks.count[c] == max_blocks) return ::operator delete(block);
  if (!blocks.drain_registered) {
    blocks.drain_registered = true;
    drain.armed = true;  // the first use constructs the thread's Drain, run at thread exit
  }
  auto* b = static_cast<FreeBlock*>(block);
  b->next = blocks.top[c];
  blocks.top[c] = b;
  ++blocks.count[c];
}
#endif

}  // namespace spindle::detail
