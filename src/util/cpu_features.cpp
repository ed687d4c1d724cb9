#include "util/cpu_features.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace untwist {

namespace {

#if defined(__x86_64__) || defined(__i386__)

struct Registers {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Registers cpuid(uint32_t leaf, uint32_t subleaf) {
  Registers r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

// XCR0: which register state the OS saves and restores on context switches.
uint64_t enabled_state() {
  uint32_t low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (static_cast<uint64_t>(high) << 32) | low;
}

constexpr uint32_t kOsxsave = 1u << 27;     // leaf 1 ECX: xgetbv is available
constexpr uint32_t kAvx512Bf16 = 1u << 5;   // leaf 7 subleaf 1 EAX
constexpr uint32_t kAmxBf16 = 1u << 22;     // leaf 7 subleaf 0 EDX
constexpr uint64_t kAvx512State = 0xE6;     // XCR0: SSE, AVX, opmask, ZMM0-15 upper halves, ZMM16-31
constexpr uint64_t kAmxState = 0x60000;     // XCR0: tile config, tile data

Bf16Support detect() {
  Bf16Support support;
  if (static_cast<uint32_t>(__get_cpuid_max(0, nullptr)) < 7) return support;
  if (!(cpuid(1, 0).ecx & kOsxsave)) return support;
  const uint64_t state = enabled_state();
  const Registers leaf7 = cpuid(7, 0);  // EAX: the highest subleaf of leaf 7
  if ((state & kAmxState) == kAmxState) support.amx_bf16 = (leaf7.edx & kAmxBf16) != 0;
  if ((state & kAvx512State) == kAvx512State && leaf7.eax >= 1) {
    support.avx512_bf16 = (cpuid(7, 1).eax & kAvx512Bf16) != 0;
  }
  return support;
}

#else

Bf16Support detect() { return {}; }

#endif

}  // namespace

const Bf16Support& bf16_support() {
  static const Bf16Support support = detect();
  return support;
}

std::string describe(const Bf16Support& support) {
  if (!support.native()) return "not native (no AVX512-BF16 or AMX-BF16)";
  std::string units;
  if (support.avx512_bf16) units = "AVX512-BF16";
  if (support.amx_bf16) units += std::string(units.empty() ? "" : ", ") + "AMX-BF16";
  return "native (" + units + ")";
}

}  // namespace untwist
