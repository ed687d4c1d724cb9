#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "util/errors.h"

namespace untwist {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the format's own limit
constexpr int kMaxHeaderNesting = 4;

struct DtypeInfo {
  StoredDtype dtype;
  const char* name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {StoredDtype::F64, "F64", 8},         {StoredDtype::F32, "F32", 4},
    {StoredDtype::F16, "F16", 2},         {StoredDtype::BF16, "BF16", 2},
    {StoredDtype::F8_E4M3, "F8_E4M3", 1}, {StoredDtype::F8_E5M2, "F8_E5M2", 1},
    {StoredDtype::I64, "I64", 8},         {StoredDtype::I32, "I32", 4},
    {StoredDtype::I16, "I16", 2},         {StoredDtype::I8, "I8", 1},
    {StoredDtype::U8, "U8", 1},           {StoredDtype::BOOL, "BOOL", 1},
};

const DtypeInfo& info_of(StoredDtype dtype) {
  for (const auto& info : kDtypes) {
    if (info.dtype == dtype) return info;
  }
  throw std::logic_error("unhandled stored dtype");
}

bool parse_dtype(const std::string& name, StoredDtype* dtype) {
  for (const auto& info : kDtypes) {
    if (name == info.name) {
      *dtype = info.dtype;
      return true;
    }
  }
  return false;
}

// Torch dtype that holds the stored bytes as they are.
at::ScalarType storage_scalar_type(StoredDtype dtype) {
  switch (dtype) {
    case StoredDtype::F64: return at::kDouble;
    case StoredDtype::F32: return at::kFloat;
    case StoredDtype::F16: return at::kHalf;
    case StoredDtype::BF16: return at::kBFloat16;
    case StoredDtype::I64: return at::kLong;
    case StoredDtype::I32: return at::kInt;
    case StoredDtype::I16: return at::kShort;
    case StoredDtype::I8: return at::kChar;
    case StoredDtype::BOOL: return at::kBool;
    case StoredDtype::U8:
    case StoredDtype::F8_E4M3:
    case StoredDtype::F8_E5M2: return at::kByte;
  }
  throw std::logic_error("unhandled stored dtype");
}

bool stored_dtype_for(at::ScalarType type, StoredDtype* dtype) {
  switch (type) {
    case at::kDouble: *dtype = StoredDtype::F64; return true;
    case at::kFloat: *dtype = StoredDtype::F32; return true;
    case at::kHalf: *dtype = StoredDtype::F16; return true;
    case at::kBFloat16: *dtype = StoredDtype::BF16; return true;
    case at::kLong: *dtype = StoredDtype::I64; return true;
    case at::kInt: *dtype = StoredDtype::I32; return true;
    case at::kShort: *dtype = StoredDtype::I16; return true;
    case at::kChar: *dtype = StoredDtype::I8; return true;
    case at::kByte: *dtype = StoredDtype::U8; return true;
    case at::kBool: *dtype = StoredDtype::BOOL; return true;
    default: return false;
  }
}

// Deepest bracket nesting outside strings; stops counting past the limit.
int header_nesting(const char* text, size_t size) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < size; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxHeaderNesting) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

uint64_t read_u64_le(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

}  // namespace

const char* stored_dtype_name(StoredDtype dtype) { return info_of(dtype).name; }
size_t stored_dtype_size(StoredDtype dtype) { return info_of(dtype).size; }

namespace {

// The header's JSON object, checked for size, nesting and duplicate names.
nlohmann::json read_header(const std::string& path, const uint8_t* bytes, uint64_t file_size) {
  if (file_size < 8) {
    fail_file(path, "not a safetensors file: " + std::to_string(file_size) +
                        " bytes, shorter than the 8-byte header length");
  }
  const uint64_t header_size = read_u64_le(bytes);
  if (header_size > file_size - 8) {
    fail_file(path, "not a safetensors file or truncated: header length " + std::to_string(header_size) +
                        " is past the end of the file (" + std::to_string(file_size) + " bytes)");
  }
  if (header_size > kMaxHeaderBytes) {
    fail_file(path, "header length " + std::to_string(header_size) + " exceeds the format's limit of " +
                        std::to_string(kMaxHeaderBytes) + " bytes");
  }
  const char* header_text = reinterpret_cast<const char*>(bytes + 8);
  if (header_nesting(header_text, header_size) > kMaxHeaderNesting) {
    fail_file(path, "header JSON is nested deeper than a safetensors header can be");
  }
  std::set<std::string> seen_keys;
  const nlohmann::json::parser_callback_t reject_duplicates =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1) {
          const std::string key = parsed.get<std::string>();
          if (!seen_keys.insert(key).second) fail_file(path, "header names tensor '" + key + "' twice");
        }
        return true;
      };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text, header_text + header_size, reject_duplicates);
  } catch (const nlohmann::json::exception& error) {
    fail_file(path, std::string("header is not valid JSON: ") + error.what());
  }
  if (!header.is_object()) fail_file(path, "header JSON is not an object");
  return header;
}

// One tensor's header entry, checked against the data section's size.
TensorEntry read_entry(const std::string& path, const std::string& name, const nlohmann::json& value,
                       uint64_t data_size) {
  const std::string where = "tensor '" + name + "'";
  if (!value.is_object()) fail_file(path, where + ": entry is not an object");
  const auto dtype_field = value.find("dtype");
  const auto shape_field = value.find("shape");
  const auto offsets_field = value.find("data_offsets");
  if (dtype_field == value.end() || shape_field == value.end() || offsets_field == value.end()) {
    fail_file(path, where + ": entry needs 'dtype', 'shape' and 'data_offsets'");
  }
  TensorEntry entry;
  entry.name = name;
  if (!dtype_field->is_string() || !parse_dtype(dtype_field->get<std::string>(), &entry.dtype)) {
    fail_file(path, where + ": unknown dtype " + dtype_field->dump() +
                        " (expected F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8 or BOOL)");
  }
  if (!shape_field->is_array()) fail_file(path, where + ": shape is not an array");
  uint64_t element_count = 1;
  for (const auto& dim : *shape_field) {
    if (!dim.is_number_unsigned()) {
      fail_file(path, where + ": shape " + shape_field->dump() + " holds a value that is not a non-negative integer");
    }
    const uint64_t extent = dim.get<uint64_t>();
    if (extent > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(element_count, extent, &element_count)) {
      fail_file(path, where + ": shape " + shape_field->dump() + " has more elements than 64 bits can count");
    }
    entry.shape.push_back(static_cast<int64_t>(extent));
  }
  if (!offsets_field->is_array() || offsets_field->size() != 2 || !(*offsets_field)[0].is_number_unsigned() ||
      !(*offsets_field)[1].is_number_unsigned()) {
    fail_file(path, where + ": data_offsets " + offsets_field->dump() + " is not a pair of non-negative integers");
  }
  entry.begin = (*offsets_field)[0].get<uint64_t>();
  entry.end = (*offsets_field)[1].get<uint64_t>();
  if (entry.end < entry.begin) {
    fail_file(path, where + ": data_offsets " + offsets_field->dump() + " end before they begin");
  }
  if (entry.end > data_size) {
    fail_file(path, where + ": data_offsets " + offsets_field->dump() + " reach past the data section (" +
                        std::to_string(data_size) + " bytes); the file is truncated or corrupt");
  }
  uint64_t byte_count = 0;
  if (__builtin_mul_overflow(element_count, stored_dtype_size(entry.dtype), &byte_count) ||
      byte_count != entry.end - entry.begin) {
    fail_file(path, where + ": shape " + shape_string(entry.shape) + " of " + stored_dtype_name(entry.dtype) +
                        " needs " + std::to_string(element_count) + " x " +
                        std::to_string(stored_dtype_size(entry.dtype)) + " bytes but data_offsets span " +
                        std::to_string(entry.end - entry.begin));
  }
  return entry;
}

// No two tensors may share bytes.
void require_disjoint(const std::string& path, const std::vector<TensorEntry>& entries) {
  std::vector<const TensorEntry*> by_offset;
  for (const auto& entry : entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      fail_file(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                          "' overlap in the data section");
    }
  }
}

}  // namespace

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = std::make_shared<MappedFile>(path);
  const uint64_t file_size = file->mapping_->size();
  const uint8_t* bytes = file->mapping_->bytes();
  const nlohmann::json header = read_header(path, bytes, file_size);
  const uint64_t header_size = read_u64_le(bytes);
  const uint64_t data_size = file_size - 8 - header_size;
  file->data_ = bytes + 8 + header_size;

  for (auto item = header.begin(); item != header.end(); ++item) {
    if (item.key() != "__metadata__") {
      file->entries_.push_back(read_entry(path, item.key(), item.value(), data_size));
      continue;
    }
    if (!item.value().is_object()) fail_file(path, "__metadata__ is not an object of strings");
    for (auto field = item.value().begin(); field != item.value().end(); ++field) {
      if (!field.value().is_string()) fail_file(path, "__metadata__ value of '" + field.key() + "' is not a string");
      file->metadata_[field.key()] = field.value().get<std::string>();
    }
  }
  require_disjoint(path, file->entries_);
  for (size_t i = 0; i < file->entries_.size(); ++i) file->index_[file->entries_[i].name] = i;
  return file;
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

StoredTensor SafetensorsFile::stored(const std::string& name) const {
  const TensorEntry* entry = find(name);
  if (!entry) fail_file(path_, "no tensor named '" + name + "'");
  const bool float8 = entry->dtype == StoredDtype::F8_E4M3 || entry->dtype == StoredDtype::F8_E5M2;
  std::vector<int64_t> shape = entry->shape;
  if (float8) shape = {static_cast<int64_t>(entry->end - entry->begin)};
  const at::ScalarType type = storage_scalar_type(entry->dtype);
  const uint8_t* start = data_ + entry->begin;
  const size_t element_size = stored_dtype_size(entry->dtype);
  at::Tensor stored;
  if (reinterpret_cast<uintptr_t>(start) % element_size == 0) {
    std::shared_ptr<MappedFile> keep_alive = mapping_;
    stored = at::from_blob(
        const_cast<uint8_t*>(start), shape, [keep_alive](void*) {}, at::TensorOptions().dtype(type));
  } else {  // unaligned data: copy out
    stored = at::empty(shape, at::TensorOptions().dtype(type));
    std::memcpy(stored.data_ptr(), start, entry->end - entry->begin);
  }
  if (entry->dtype == StoredDtype::F8_E4M3) return StoredTensor(Encoding::F8_E4M3, stored, entry->shape);
  if (entry->dtype == StoredDtype::F8_E5M2) return StoredTensor(Encoding::F8_E5M2, stored, entry->shape);
  return StoredTensor(stored);
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const { return stored(name).decoded(); }

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> payloads;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    if (!names.insert(name).second) fail_file(path, "cannot write tensor '" + name + "' twice");
    StoredDtype dtype;
    if (!stored_dtype_for(tensor.scalar_type(), &dtype)) {
      fail_file(path, "cannot store tensor '" + name + "' of type " + std::string(c10::toString(tensor.scalar_type())));
    }
    at::Tensor payload = tensor.to(at::kCPU).contiguous();
    const uint64_t size = payload.numel() * payload.element_size();
    header[name] = {{"dtype", stored_dtype_name(dtype)},
                    {"shape", payload.sizes().vec()},
                    {"data_offsets", {offset, offset + size}}};
    offset += size;
    payloads.push_back(payload);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>((header_text.size() >> (8 * i)) & 0xFF);

  AtomicFile file(path);
  file.write(length, sizeof(length));
  file.write(header_text.data(), header_text.size());
  for (const auto& payload : payloads) file.write(payload.data_ptr(), payload.numel() * payload.element_size());
  file.commit();
}

}  // namespace untwist
