// Conversion of diffusers key names and tensor arrangements to the reference
// (BFL) layout, for the FLUX.1 transformer and the FLUX autoencoders, on
// tensors as stored (see io/layout_converter.h).
#pragma once
#include <string>

#include "io/stored_tensor.h"
#include "io/weights.h"

namespace untwist {

bool looks_like_diffusers_flux(const TensorMap& tensors);
bool looks_like_diffusers_autoencoder(const TensorMap& tensors);

// Both throw DataError (naming `source`) on a tensor they cannot place.
StoredMap convert_diffusers_flux(const StoredMap& tensors, const std::string& source);
StoredMap convert_diffusers_autoencoder(const StoredMap& tensors, const std::string& source);

}  // namespace untwist
