// Image files: PNG/JPEG/BMP/... in (8- and 16-bit, grey, palette, alpha), PNG
// out with the settings in tEXt chunks, written atomically.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

namespace untwist {

// -> [3, H, W] float32 in [0, 1]; DataError naming the file when unreadable.
at::Tensor read_image(const std::string& path);

// rgb: [3, H, W] in [0, 1]. Each text entry becomes a PNG tEXt chunk.
void write_png(const std::string& path, const at::Tensor& rgb, const std::map<std::string, std::string>& text = {});

// The tEXt chunks of a PNG file (for tests and for reading a recipe back).
std::map<std::string, std::string> read_png_text(const std::string& path);

// One PNG chunk: length, type, data and CRC.
std::string png_chunk(const std::string& type, const std::string& data);

// [3, H, W] -> [3, height, width]: scaled so the shorter side fits, centre-cropped.
at::Tensor resize_and_crop(const at::Tensor& rgb, int64_t height, int64_t width);

}  // namespace untwist
