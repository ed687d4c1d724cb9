#include "io/gguf.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "io/mapped_file.h"
#include "io/quantized_blocks.h"
#include "util/errors.h"

namespace untwist {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read little-endian
constexpr uint64_t kMaxCount = 1u << 20;  // tensors, metadata entries
constexpr int kMaxArrayNesting = 4;
constexpr int kMaxDims = 4;

enum ValueType : uint32_t {
  kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64
};

struct TypeLayout {
  int64_t block_values;  // values per block
  int64_t block_bytes;
};

bool layout_of(uint32_t type, TypeLayout* layout) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: *layout = {1, 4}; return true;
    case GgmlType::F16: *layout = {1, 2}; return true;
    case GgmlType::BF16: *layout = {1, 2}; return true;
    case GgmlType::Q8_0: *layout = {32, 34}; return true;
    case GgmlType::Q4_0: *layout = {32, 18}; return true;
    case GgmlType::Q4_K: *layout = {256, 144}; return true;
  }
  return false;
}

// Reads little-endian values from the mapped header, failing at its end.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* bytes, uint64_t size) : path_(path), bytes_(bytes), size_(size) {}

  const uint8_t* take(uint64_t count, const char* what) {
    if (count > size_ - at_) fail_file(path_, std::string("truncated GGUF file: it ends inside ") + what);
    const uint8_t* start = bytes_ + at_;
    at_ += count;
    return start;
  }
  template <typename T>
  T read(const char* what) {
    T value;
    std::memcpy(&value, take(sizeof(T), what), sizeof(T));
    return value;
  }
  std::string string(const char* what) {
    const uint64_t length = read<uint64_t>(what);
    const uint8_t* start = take(length, what);
    return {reinterpret_cast<const char*>(start), static_cast<size_t>(length)};
  }
  uint64_t position() const { return at_; }

 private:
  const std::string& path_;
  const uint8_t* bytes_;
  uint64_t size_;
  uint64_t at_ = 0;
};

uint64_t scalar_size(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

// One metadata value, as text for strings and scalars ("" for arrays).
std::string read_value(Cursor& cursor, uint32_t type, int depth, const std::string& path, const std::string& key) {
  switch (type) {
    case kString: return cursor.string("a metadata string");
    case kU8: return std::to_string(cursor.read<uint8_t>("metadata"));
    case kI8: return std::to_string(cursor.read<int8_t>("metadata"));
    case kU16: return std::to_string(cursor.read<uint16_t>("metadata"));
    case kI16: return std::to_string(cursor.read<int16_t>("metadata"));
    case kU32: return std::to_string(cursor.read<uint32_t>("metadata"));
    case kI32: return std::to_string(cursor.read<int32_t>("metadata"));
    case kU64: return std::to_string(cursor.read<uint64_t>("metadata"));
    case kI64: return std::to_string(cursor.read<int64_t>("metadata"));
    case kF32: return std::to_string(cursor.read<float>("metadata"));
    case kF64: return std::to_string(cursor.read<double>("metadata"));
    case kBool: return cursor.read<uint8_t>("metadata") ? "true" : "false";
    case kArray: {
      if (depth >= kMaxArrayNesting) fail_file(path, "metadata '" + key + "' nests arrays too deeply");
      const uint32_t element = cursor.read<uint32_t>("a metadata array");
      const uint64_t count = cursor.read<uint64_t>("a metadata array");
      if (const uint64_t size = scalar_size(element)) {
        if (count > UINT64_MAX / size) fail_file(path, "metadata '" + key + "' has an impossible length");
        cursor.take(count * size, "a metadata array");
      } else {
        for (uint64_t i = 0; i < count; ++i) read_value(cursor, element, depth + 1, path, key);
      }
      return "";
    }
  }
  fail_file(path, "metadata '" + key + "' has unknown value type " + std::to_string(type));
}


// The metadata entries after the header into `metadata` (arrays are skipped):
// -> the data alignment (general.alignment, 32 when absent).
uint64_t read_metadata(Cursor& cursor, uint64_t count, const std::string& path,
                       std::map<std::string, std::string>& metadata) {
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string key = cursor.string("a metadata key");
    const uint32_t type = cursor.read<uint32_t>("a metadata entry");
    const std::string value = read_value(cursor, type, 0, path, key);
    if (key == "general.alignment") {
      if (type != kU32 || value == "0" || (std::stoull(value) & (std::stoull(value) - 1)) != 0) {
        fail_file(path, "general.alignment must be a power of two stored as uint32");
      }
      alignment = std::stoull(value);
    }
    if (type != kArray) metadata[key] = value;
  }
  return alignment;
}

// One tensor-info entry: name, shape (outermost first), type, byte size and
// offset from the start of the data.
GgufTensorEntry read_tensor_entry(Cursor& cursor, const std::string& path, uint64_t alignment) {
  GgufTensorEntry entry;
  entry.name = cursor.string("a tensor name");
  const uint32_t dims = cursor.read<uint32_t>("a tensor entry");
  if (dims == 0 || dims > kMaxDims) {
    fail_file(path, "tensor '" + entry.name + "' has " + std::to_string(dims) + " dimensions (1 to 4 expected)");
  }
  uint64_t values = 1;
  for (uint32_t d = 0; d < dims; ++d) {
    const uint64_t extent = cursor.read<uint64_t>("a tensor entry");
    if (extent == 0 || extent > (1ull << 40) || values > (1ull << 40) / extent) {
      fail_file(path, "tensor '" + entry.name + "' has an empty or impossibly large dimension");
    }
    values *= extent;
    entry.shape.insert(entry.shape.begin(), static_cast<int64_t>(extent));
  }
  const uint32_t type = cursor.read<uint32_t>("a tensor entry");
  TypeLayout layout{};
  if (!layout_of(type, &layout)) {
    fail_file(path, "tensor '" + entry.name + "' has ggml type " + std::to_string(type) +
                        ", not one of F32, F16, BF16, Q8_0, Q4_0, Q4_K");
  }
  entry.type = static_cast<GgmlType>(type);
  if (entry.shape.back() % layout.block_values != 0) {
    fail_file(path, "tensor '" + entry.name + "' has rows of " + std::to_string(entry.shape.back()) +
                        " values, not whole blocks of " + std::to_string(layout.block_values));
  }
  entry.bytes = values / static_cast<uint64_t>(layout.block_values) * static_cast<uint64_t>(layout.block_bytes);
  entry.offset = cursor.read<uint64_t>("a tensor entry");
  if (entry.offset % alignment != 0) fail_file(path, "tensor '" + entry.name + "' is not aligned");
  return entry;
}

// Makes the entries' offsets absolute (the data starts at `data_start`);
// DataError for a tensor past the end of the file or two that overlap.
void place_tensors(std::vector<GgufTensorEntry>& entries, uint64_t data_start, uint64_t file_size,
                   const std::string& path) {
  std::vector<const GgufTensorEntry*> by_offset;
  for (auto& entry : entries) {
    if (entry.offset > file_size || data_start > file_size - entry.offset ||
        entry.bytes > file_size - data_start - entry.offset) {
      fail_file(path, "truncated GGUF file: tensor '" + entry.name + "' ends past the end of the file");
    }
    entry.offset += data_start;
    by_offset.push_back(&entry);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->offset + by_offset[i - 1]->bytes > by_offset[i]->offset) {
      fail_file(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
    }
  }
}

}  // namespace

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::shared_ptr<const GgufFile> GgufFile::open(const std::string& path) {
  std::shared_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->mapping_ = std::make_shared<MappedFile>(path);
  const uint64_t file_size = file->mapping_->size();
  Cursor cursor(path, file->mapping_->bytes(), file_size);

  if (cursor.read<uint32_t>("the header") != kMagic) fail_file(path, "not a GGUF file (no 'GGUF' magic)");
  const uint32_t version = cursor.read<uint32_t>("the header");
  if (version < 2 || version > 3) fail_file(path, "GGUF version " + std::to_string(version) + " is not 2 or 3");
  const uint64_t tensor_count = cursor.read<uint64_t>("the header");
  const uint64_t metadata_count = cursor.read<uint64_t>("the header");
  if (tensor_count > kMaxCount || metadata_count > kMaxCount) {
    fail_file(path, "GGUF header claims " + std::to_string(tensor_count) + " tensors and " +
                        std::to_string(metadata_count) + " metadata entries");
  }
  const uint64_t alignment = read_metadata(cursor, metadata_count, path, file->metadata_);
  std::set<std::string> names;
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorEntry entry = read_tensor_entry(cursor, path, alignment);
    if (!names.insert(entry.name).second) fail_file(path, "tensor '" + entry.name + "' appears twice");
    file->entries_.push_back(std::move(entry));
  }
  place_tensors(file->entries_, (cursor.position() + alignment - 1) / alignment * alignment, file_size, path);
  return file;
}

StoredTensor GgufFile::stored(const GgufTensorEntry& entry) const {
  const uint8_t* data = mapping_->bytes() + entry.offset;
  std::shared_ptr<MappedFile> keep_alive = mapping_;
  const auto wrap = [&](at::ScalarType type, std::vector<int64_t> shape, size_t element_size) {
    if (reinterpret_cast<uintptr_t>(data) % element_size != 0) {  // unaligned: copy out
      at::Tensor copy = at::empty(shape, type);
      std::memcpy(copy.data_ptr(), data, entry.bytes);
      return copy;
    }
    return at::from_blob(const_cast<uint8_t*>(data), shape, [keep_alive](void*) {}, at::TensorOptions().dtype(type));
  };
  switch (entry.type) {
    case GgmlType::F32: return StoredTensor(wrap(at::kFloat, entry.shape, 4));
    case GgmlType::F16: return StoredTensor(wrap(at::kHalf, entry.shape, 2));
    case GgmlType::BF16: return StoredTensor(wrap(at::kBFloat16, entry.shape, 2));
    case GgmlType::Q8_0: return StoredTensor(Encoding::Q8_0, wrap(at::kByte, {int64_t(entry.bytes)}, 1), entry.shape);
    case GgmlType::Q4_0: return StoredTensor(Encoding::Q4_0, wrap(at::kByte, {int64_t(entry.bytes)}, 1), entry.shape);
    case GgmlType::Q4_K: return StoredTensor(Encoding::Q4_K, wrap(at::kByte, {int64_t(entry.bytes)}, 1), entry.shape);
  }
  fail_file(path_, "tensor '" + entry.name + "' has an unsupported type");
}

at::Tensor GgufFile::tensor(const GgufTensorEntry& entry) const { return stored(entry).as(at::kFloat); }

}  // namespace untwist
