// Whether this CPU multiplies bfloat16 matrices natively: AVX512-BF16
// (cpuid leaf 7 subleaf 1, EAX bit 5) or AMX-BF16 (leaf 7 subleaf 0, EDX
// bit 22), each only where the OS saves that register state (xgetbv: XCR0's
// AVX-512 opmask and ZMM bits, AMX's tile config and data bits). Elsewhere
// libtorch emulates bfloat16 matmul, about 100x slower than float32.
#pragma once
#include <string>

namespace untwist {

struct Bf16Support {
  bool avx512_bf16 = false;  // AVX512-BF16 instructions, usable here
  bool amx_bf16 = false;     // AMX-BF16 tiles, usable here
  bool native() const { return avx512_bf16 || amx_bf16; }
};

// Read once per process; false on non-x86 CPUs.
const Bf16Support& bf16_support();

// "native (AVX512-BF16, AMX-BF16)" or "not native (no AVX512-BF16 or AMX-BF16)".
std::string describe(const Bf16Support& support);

}  // namespace untwist
