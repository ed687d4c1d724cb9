// Which BLAS libtorch's float32 matmul runs on. Debian's libtorch links the
// generic libblas.so.3; without OpenBLAS behind it, matmul is ~30x slower.
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

}  // namespace untwist
