// Which BLAS libtorch's float32 matmul runs on. Debian's libtorch links the
// generic libblas.so.3; without OpenBLAS behind it, matmul is ~30x slower.
// Whether bfloat16 matmul is native on this CPU is in util/cpu_features.h.
#pragma once
#include <string>

namespace untwist {

struct BlasInfo {
  std::string library;  // file providing sgemm_, or "" when none was found
  bool fast = false;    // an optimised BLAS (OpenBLAS, BLIS, MKL)
};

BlasInfo detect_blas();

// One line for stderr when the BLAS in use is the slow reference one, else "".
std::string slow_blas_warning();

// One line for stderr when this CPU has no native bfloat16 matmul (for a run
// asked to compute in bfloat16 on the CPU), else "".
std::string slow_bf16_warning();

}  // namespace untwist
