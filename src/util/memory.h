// How the process gets memory for tensors from the system.
#pragma once
#include <cstddef>

namespace untwist {

// glibc serves every allocation above 32 MiB with its own mmap and unmaps it
// on free, so each large activation of a forward pass is page-faulted and
// zeroed by the kernel again (bench/RESULTS.md measures the cost). This
// installs libtorch's CPU
// allocator that keeps freed blocks of at least kMinCachedBytes, up to
// kMaxCachedBytes in all, and hands them out again for requests of the same
// rounded size; new ones ask for transparent huge pages (madvise), so that
// a first touch faults 2 MiB at a time. Smaller blocks come from glibc's heap, which is set to keep
// them too: no block below kMinCachedBytes gets an mmap of its own, and the
// heap hands freed memory back to the system only beyond kMaxCachedBytes
// (glibc's defaults unmapped and trimmed them every training step of the toy
// model). Call once, early in main.
constexpr size_t kMinCachedBytes = size_t{32} << 20;
constexpr size_t kMaxCachedBytes = size_t{1} << 30;
void keep_freed_memory_for_reuse();

// Frees the kept blocks and trims the heap (after a phase whose sizes will
// not come again, such as encoding the prompts).
void return_free_memory_to_system();

// Bytes held in freed blocks kept for reuse.
size_t cached_free_bytes();

}  // namespace untwist
