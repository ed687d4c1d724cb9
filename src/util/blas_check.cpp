#include "util/blas_check.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>

#include "util/cpu_features.h"

namespace untwist {

BlasInfo detect_blas() {
  BlasInfo info;
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info where{};
  if (sgemm && dladdr(sgemm, &where) && where.dli_fname) info.library = where.dli_fname;
  std::string lower = info.library;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  info.fast = dlsym(RTLD_DEFAULT, "openblas_get_config") != nullptr || lower.find("openblas") != std::string::npos ||
              lower.find("blis") != std::string::npos || lower.find("mkl") != std::string::npos;
  return info;
}

std::string slow_blas_warning() {
  const BlasInfo info = detect_blas();
  if (info.fast) return "";
  return "warning: libtorch is using the reference BLAS (" + (info.library.empty() ? "unknown" : info.library) +
         "); float32 matmul will be about 30x slower. Install libopenblas0-pthread (scripts/setup.sh does).";
}

std::string slow_bf16_warning() {
  const Bf16Support& support = bf16_support();
  if (support.native()) return "";
  return "warning: bfloat16 matmul is " + describe(support) +
         " on this CPU: libtorch emulates it, about 100x slower than float32 (--dtype auto picks float32 here).";
}

}  // namespace untwist
