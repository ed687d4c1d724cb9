// How freed tensor memory is kept and returned: large blocks reused without
// the kernel faulting and zeroing their pages again, handed back on request.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "util/memory.h"

namespace untwist {
namespace {

constexpr int64_t kBlockFloats = 64 << 18;  // 64 MiB: far above glibc's largest mmap threshold (32 MiB)

long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// Page faults taken while a fresh 64 MiB tensor is allocated, written and freed.
long faults_of_one_block() {
  const long before = minor_page_faults();
  {
    at::Tensor block = at::empty({kBlockFloats});
    block.fill_(1.0f);
  }
  return minor_page_faults() - before;
}

TEST(Memory, FreedLargeBlocksAreReusedWithoutNewPageFaults) {
  keep_freed_memory_for_reuse();
  const long first = faults_of_one_block();
  const long second = faults_of_one_block();
  ASSERT_GT(first, 0) << "a fresh block must be faulted in";
  EXPECT_LT(second * 4, first) << "the second block should reuse the first one's pages";
  for (int i = 0; i < 4; ++i) faults_of_one_block();
  EXPECT_EQ(cached_free_bytes(), static_cast<size_t>(kBlockFloats) * sizeof(float)) << "one block, reused each time";
}

TEST(Memory, SmallBlocksAreNotKept) {
  keep_freed_memory_for_reuse();
  return_free_memory_to_system();
  { at::Tensor small = at::ones({static_cast<int64_t>(kMinCachedBytes / sizeof(float)) - 1}); }
  EXPECT_EQ(cached_free_bytes(), 0u);
}

TEST(Memory, KeptBlocksAreCapped) {
  keep_freed_memory_for_reuse();
  return_free_memory_to_system();
  {
    std::vector<at::Tensor> blocks;  // distinct sizes, together above the cap
    for (int64_t i = 1; static_cast<size_t>(i) * (kBlockFloats * 4) <= kMaxCachedBytes + (kBlockFloats * 4); ++i) {
      blocks.push_back(at::empty({kBlockFloats + i * 65536}));
    }
  }
  EXPECT_LE(cached_free_bytes(), kMaxCachedBytes);
  EXPECT_GT(cached_free_bytes(), kMaxCachedBytes / 2);
  return_free_memory_to_system();
  EXPECT_EQ(cached_free_bytes(), 0u);
}

TEST(Memory, FreePagesGoBackOnRequest) {
  keep_freed_memory_for_reuse();
  {
    at::Tensor block = at::empty({kBlockFloats});
    block.fill_(1.0f);
  }
  const double kept = resident_mib();
  return_free_memory_to_system();
  EXPECT_GT(kept - resident_mib(), 48.0) << "the freed 64 MiB block should leave the process";
}

}  // namespace
}  // namespace untwist
