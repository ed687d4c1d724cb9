#include "util/memory.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>

#include <mutex>
#include <unordered_map>
#include <vector>

namespace untwist {

namespace {

constexpr size_t kSizeStep = size_t{64} << 10;  // requests are rounded up to 64 KiB, so near sizes share blocks

// The pointer is its own context (libtorch's raw_allocate requires it), so
// the sizes of handed-out blocks are looked up by address. Small blocks are
// freed directly, without the lock; give_back (the raw deleter) frees any
// block it did not hand out the same way.
class ReusingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (bytes < kMinCachedBytes) {
      void* data = c10::alloc_cpu(bytes);
      return {data, data, &c10::free_cpu, cpu};
    }
    const size_t rounded = (bytes + kSizeStep - 1) / kSizeStep * kSizeStep;
    void* data = take(rounded);
    if (!data) data = fresh(rounded);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_use_[data] = rounded;
    }
    return {data, data, &give_back, cpu};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &give_back; }

  // Never destroyed: tensors freed during exit still give their blocks back.
  static ReusingCpuAllocator& instance() {
    static ReusingCpuAllocator* const allocator = new ReusingCpuAllocator;
    return *allocator;
  }

  void release_all() {
    std::vector<void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& [bytes, list] : free_) blocks.insert(blocks.end(), list.begin(), list.end());
      free_.clear();
      free_bytes_ = 0;
    }
    for (void* data : blocks) c10::free_cpu(data);
  }

  size_t free_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_bytes_;
  }

 private:
  void* take(size_t bytes) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = free_.find(bytes);
    if (found == free_.end() || found->second.empty()) return nullptr;
    void* data = found->second.back();
    found->second.pop_back();
    free_bytes_ -= bytes;
    return data;
  }

  // A new large block, backed by 2 MiB pages where the kernel has them to
  // spare (transparent huge pages on request): its first touch then faults
  // and zeroes 512 times fewer pages.
  static void* fresh(size_t bytes) {
    void* data = c10::alloc_cpu(bytes);
    constexpr uintptr_t kPage = 4096;
    const uintptr_t start = reinterpret_cast<uintptr_t>(data) / kPage * kPage;
    madvise(reinterpret_cast<void*>(start), reinterpret_cast<uintptr_t>(data) + bytes - start, MADV_HUGEPAGE);
    return data;
  }

  static void give_back(void* data) {
    ReusingCpuAllocator& self = instance();
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      const auto used = self.in_use_.find(data);
      if (used != self.in_use_.end()) {
        const size_t bytes = used->second;
        self.in_use_.erase(used);
        if (self.free_bytes_ + bytes <= kMaxCachedBytes) {
          self.free_[bytes].push_back(data);
          self.free_bytes_ += bytes;
          return;
        }
      }
    }
    c10::free_cpu(data);
  }

  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> in_use_;              // handed-out large block -> its rounded size
  mutable std::unordered_map<size_t, std::vector<void*>> free_;  // rounded size -> freed blocks
  mutable size_t free_bytes_ = 0;
};

}  // namespace

void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMinCachedBytes));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(kMaxCachedBytes));
  c10::SetCPUAllocator(&ReusingCpuAllocator::instance(), /*priority=*/1);
}

void return_free_memory_to_system() {
  ReusingCpuAllocator::instance().release_all();
  malloc_trim(0);
}

size_t cached_free_bytes() { return ReusingCpuAllocator::instance().free_bytes(); }

}  // namespace untwist
