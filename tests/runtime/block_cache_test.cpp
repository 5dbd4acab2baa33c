// The per-thread block cache in front of the global allocator.
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "spindle/detail/block_cache.hpp"
#include "support/spindle_test.hpp"

TEST_SUITE_BEGIN("runtime");

using namespace spindle::detail;

TEST_CASE("block cache: a freed block serves the next request of its chunk size on the thread") {
  void* first = cached_allocate(120);
  std::memset(first, 0xab, 120);
  cached_deallocate(first, 120);
  // 113..120 bytes share glibc's 128-byte chunk: the cached block serves any of them.
  void* again = cached_allocate(113);
  std::memset(again, 0xcd, 113);
  void* other_size = cached_allocate(200);
  std::memset(other_size, 0xef, 200);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // sanitizers: the global allocator
  CHECK(again == first);
#endif
  CHECK(other_size != again);
  cached_deallocate(again, 113);
  cached_deallocate(other_size, 200);
}

TEST_CASE("block cache: large blocks, many blocks, and blocks freed on another thread") {
  void* large = cached_allocate(max_cached_block + 1);
  std::memset(large, 1, max_cached_block + 1);
  cached_deallocate(large, max_cached_block + 1);

  // More than the cache keeps per size, freed on a thread that then ends: the surplus goes
  // back to the global allocator at once, the cached ones when the thread ends (glibc aborts
  // on a block freed twice; ASan and TSan builds run this too).
  std::vector<void*> many;
  for (int i = 0; i < 1000; ++i) many.push_back(cached_allocate(64));
  std::thread other([&] {
    for (void* b : many) cached_deallocate(b, 64);  // cached by this thread, freed when it ends
  });
  other.join();
  std::vector<void*> again;
  for (int i = 0; i < 1000; ++i) {
    again.push_back(cached_allocate(64));
    std::memset(again.back(), 2, 64);
  }
  for (void* b : again) cached_deallocate(b, 64);
  cached_deallocate(nullptr, 64);  // like delete: nothing to do
}

TEST_CASE("block cache: an over-aligned class on the cache still gets its alignment") {
  struct alignas(64) Wide : CachedAllocation {
    virtual ~Wide() = default;
    char bytes[64];
  };
  std::vector<Wide*> made;
  for (int i = 0; i < 8; ++i) {
    made.push_back(new Wide);
    CHECK(reinterpret_cast<std::uintptr_t>(made.back()) % 64 == 0);
  }
  for (Wide* w : made) delete w;
}

TEST_SUITE_END();
