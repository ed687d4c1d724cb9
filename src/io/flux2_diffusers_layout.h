// Conversion of the diffusers layout of the FLUX.2 transformer
// (Flux2Transformer2DModel) to the reference (BFL) names: q, k and v of the
// double blocks joined back into one qkv, norm_out's (scale, shift) turned
// into the final adaLN's (shift, scale), everything else renamed. Works on
// tensors as stored: float8 and quantised tensors stay encoded (their rows
// are joined and swapped as bytes), so a large encoded checkpoint is not
// widened to float32 by loading it.
#pragma once
#include <map>
#include <string>

#include "io/stored_tensor.h"
#include "io/weights.h"

namespace untwist {

// Names only are read: the FLUX.2 shared modulation layers or the combined
// time/guidance embedder under their diffusers names.
bool looks_like_diffusers_flux2(const TensorMap& tensors);

// Throws DataError (naming `source`) on a tensor it cannot place and on parts
// of one reference tensor whose shapes do not fit together.
StoredMap convert_diffusers_flux2(const StoredMap& tensors, const std::string& source);

}  // namespace untwist
