// A per-thread cache of freed small blocks in front of the global allocator, for the objects
// made and dropped on every I/O wait and every request: coroutine frames, context nodes, the
// bridge between a context and an Asio operation, Asio's own operation objects.
//
// glibc keeps seven freed blocks of each size per thread; a worker that completes a batch of
// a few hundred waits frees a few hundred blocks of one size at once, and the rest of the
// batch then pays for malloc's shared bins. This cache keeps up to `max_blocks` per size
// class. A block is served from the class of its own glibc chunk size, so a cached block is
// never larger than the one malloc would have given: an idle connection holds no more
// memory than without the cache.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace spindle::detail {

/// Blocks up to this size (in bytes) are cached; larger ones go to the global allocator.
inline constexpr std::size_t max_cached_block = 1024;

/// A block of at least `size` bytes, aligned for any fundamental type.
void* cached_allocate(std::size_t size);
/// Gives back a block from cached_allocate(size), with the same size.
void cached_deallocate(void* block, std::size_t size) noexcept;

/// Base class that routes a class's `new` and `delete` through the cache. With a virtual
/// destructor, `delete` passes the size of the object's dynamic type.
struct CachedAllocation {
  static void* operator new(std::size_t size) { return cached_allocate(size); }
  static void operator delete(void* block, std::size_t size) noexcept { cached_deallocate(block, size); }
  // An over-aligned derived type (a fiber's result slot may be one) bypasses the cache: the
  // class-scope operator new above would otherwise be chosen for it, without the alignment.
  static void* operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
  static void operator delete(void* block, std::size_t size, std::align_val_t align) noexcept {
    ::operator delete(block, size, align);
  }
};

/// A standard allocator on the cache, for Asio's operation objects (a completion handler's
/// associated allocator).
template <class T>
struct CachedAllocator {
  using value_type = T;
  CachedAllocator() noexcept = default;
  template <class U>
  CachedAllocator(const CachedAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if constexpr (alignof(T) > alignof(std::max_align_t)) return std::allocator<T>().allocate(n);
    else return static_cast<T*>(cached_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if constexpr (alignof(T) > alignof(std::max_align_t)) std::allocator<T>().deallocate(p, n);
    else cached_deallocate(p, n * sizeof(T));
  }
  template <class U>
  bool operator==(const CachedAllocator<U>&) const noexcept { return true; }
};

}  // namespace spindle::detail
