// Conversion of diffusers key names and tensor arrangements to the reference
// (BFL) layout, for the FLUX transformer and the FLUX autoencoder.
#pragma once
#include <string>

#include "io/weights.h"

namespace untwist {

bool looks_like_diffusers_flux(const TensorMap& tensors);
bool looks_like_diffusers_autoencoder(const TensorMap& tensors);

// Both throw DataError (naming `source`) on a tensor they cannot place.
TensorMap convert_diffusers_flux(const TensorMap& tensors, const std::string& source);
TensorMap convert_diffusers_autoencoder(const TensorMap& tensors, const std::string& source);

}  // namespace untwist
