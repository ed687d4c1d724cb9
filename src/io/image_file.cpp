#include "io/image_file.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cmath>

#include "io/atomic_file.h"
#include "io/file_bytes.h"
#include "io/jpeg_check.h"
#include "util/errors.h"

namespace untwist {

namespace {

constexpr int64_t kMaxPixels = 1ll << 26;  // 8192 x 8192
constexpr uint64_t kMaxImageFileBytes = 1ull << 30;

void append_u32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xFF));
}

uint32_t read_u32(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string chunk;
  append_u32(chunk, static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  chunk += body;
  append_u32(chunk, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
  return chunk;
}

at::Tensor read_image(const std::string& path) {
  const std::string bytes = read_file_bytes(path, kMaxImageFileBytes);
  if (bytes.empty()) fail_file(path, "empty file, not an image");
  // Checked before stb sees the bytes (see jpeg_check.h). stb pads a cut-off
  // JPEG with grey; a complete one has an end-of-image marker after its last
  // scan (a thumbnail's own marker comes before).
  if (looks_like_jpeg(bytes)) {
    const std::string problem = jpeg_structure_problem(bytes);
    if (!problem.empty()) fail_file(path, "corrupt JPEG: " + problem);
    const size_t last_scan = bytes.rfind("\xFF\xDA");
    if (last_scan == std::string::npos || bytes.find("\xFF\xD9", last_scan) == std::string::npos) {
      fail_file(path, "truncated JPEG: the end-of-image marker is missing");
    }
  }
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  const auto reason = [] { return std::string(stbi_failure_reason() ? stbi_failure_reason() : "unknown reason"); };
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, size, &width, &height, &channels)) {
    fail_file(path, "not a readable image (PNG, JPEG, BMP, GIF, TGA, PSD, HDR, PNM): " + reason());
  }
  if (width <= 0 || height <= 0 || static_cast<int64_t>(width) * height > kMaxPixels) {
    fail_file(path, "image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels is empty or too large");
  }
  const bool wide = stbi_is_16_bit_from_memory(data, size);
  void* pixels = wide ? static_cast<void*>(stbi_load_16_from_memory(data, size, &width, &height, &channels, 3))
                      : static_cast<void*>(stbi_load_from_memory(data, size, &width, &height, &channels, 3));
  if (!pixels) fail_file(path, "cannot decode the image: " + reason());
  const at::Tensor raw = wide ? at::from_blob(pixels, {height, width, 3}, at::kShort).to(at::kInt).bitwise_and(0xFFFF)
                              : at::from_blob(pixels, {height, width, 3}, at::kByte).to(at::kInt);
  const at::Tensor rgb = (raw.to(at::kFloat) / (wide ? 65535.0 : 255.0)).permute({2, 0, 1}).contiguous();
  stbi_image_free(pixels);
  return rgb;  // [3, H, W]
}

void write_png(const std::string& path, const at::Tensor& rgb, const std::map<std::string, std::string>& text) {
  if (rgb.dim() != 3 || rgb.size(0) != 3) throw std::invalid_argument("write_png needs [3, H, W]");
  const at::Tensor bytes = (rgb.to(at::kFloat).clamp(0, 1) * 255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
  const int height = static_cast<int>(rgb.size(1)), width = static_cast<int>(rgb.size(2));
  std::string png;
  if (!stbi_write_png_to_func(append_bytes, &png, width, height, 3, bytes.data_ptr<uint8_t>(), width * 3)) {
    fail_file(path, "cannot encode the PNG");
  }
  // tEXt chunks go right after IHDR (8-byte signature + 25-byte IHDR chunk).
  std::string chunks;
  for (const auto& [key, value] : text) chunks += png_chunk("tEXt", key + std::string(1, '\0') + value);
  png.insert(8 + 25, chunks);
  write_file_atomically(path, png);
}

std::map<std::string, std::string> read_png_text(const std::string& path) {
  const std::string bytes = read_file_bytes(path, kMaxImageFileBytes);
  std::map<std::string, std::string> text;
  size_t at = 8;
  while (at + 12 <= bytes.size()) {
    const uint32_t length = read_u32(bytes, at);
    if (at + 12 + length > bytes.size()) break;
    const std::string type = bytes.substr(at + 4, 4);
    if (type == "tEXt") {
      const std::string body = bytes.substr(at + 8, length);
      const size_t zero = body.find('\0');
      if (zero != std::string::npos) text[body.substr(0, zero)] = body.substr(zero + 1);
    }
    at += 12 + length;
  }
  return text;
}

at::Tensor resize_and_crop(const at::Tensor& rgb, int64_t height, int64_t width) {
  // Crop the source to the target's aspect ratio first, so that an extreme
  // aspect ratio (1 x 100000) never scales up to a huge intermediate.
  const int64_t source_h = rgb.size(1), source_w = rgb.size(2);
  int64_t crop_h = source_h, crop_w = source_w;
  if (source_w * height > source_h * width) {
    crop_w = std::max<int64_t>(1, std::llround(static_cast<double>(source_h) * width / height));
  } else {
    crop_h = std::max<int64_t>(1, std::llround(static_cast<double>(source_w) * height / width));
  }
  const at::Tensor cropped =
      rgb.narrow(1, (source_h - crop_h) / 2, crop_h).narrow(2, (source_w - crop_w) / 2, crop_w);  // [3, ch, cw]
  const at::Tensor scaled =
      at::_upsample_bilinear2d_aa(cropped.unsqueeze(0), {height, width}, /*align_corners=*/false)[0];
  return scaled.clamp(0, 1).contiguous();  // [3, height, width]
}

}  // namespace untwist
