#include "io/layout_converter.h"

#include <algorithm>

#include "util/errors.h"

namespace untwist {

namespace {

int64_t value_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (const int64_t extent : shape) count *= extent;
  return count;
}

// Parts stacked along dimension 0 (their other dimensions checked equal by
// the caller). Parts of one encoding are joined as bytes: every part is
// whole blocks, and rows lie one after another. Plain parts are joined as
// tensors; a mix is decoded to float32 first.
StoredTensor join_rows(const std::vector<StoredTensor>& parts) {
  const StoredTensor& first = parts.front();
  std::vector<int64_t> shape = first.sizes();
  shape[0] = 0;
  bool one_encoding = first.encoded();
  for (const auto& part : parts) {
    shape[0] += part.sizes()[0];
    one_encoding = one_encoding && part.encoded() && part.encoding() == first.encoding();
  }
  std::vector<at::Tensor> pieces;
  for (const auto& part : parts) pieces.push_back(one_encoding ? part.as_bytes() : part.decoded());
  if (one_encoding) return StoredTensor(first.encoding(), at::cat(pieces, 0), shape);  // [bytes of every part]
  return StoredTensor(at::cat(pieces, 0));  // [sum of rows, ...]
}

// The two halves of dimension 0 exchanged; as bytes where each half is whole blocks.
StoredTensor swap_row_halves(const StoredTensor& tensor) {
  if (tensor.encoded() && (value_count(tensor.sizes()) / 2) % encoding_block_values(tensor.encoding()) == 0) {
    const auto halves = tensor.as_bytes().chunk(2, 0);
    return StoredTensor(tensor.encoding(), at::cat({halves[1], halves[0]}, 0), tensor.sizes());
  }
  const auto halves = tensor.decoded().chunk(2, 0);
  return StoredTensor(at::cat({halves[1], halves[0]}, 0));
}

}  // namespace

bool any_name_starts_with(const TensorMap& tensors, const std::string& prefix) {
  const auto it = tensors.lower_bound(prefix);
  return it != tensors.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

LayoutConverter::LayoutConverter(const StoredMap& source, std::string path, std::string model)
    : source_(source), path_(std::move(path)), model_(std::move(model)) {}

const StoredTensor& LayoutConverter::take(const std::string& name) {
  const auto it = source_.find(name);
  if (it == source_.end()) fail_file(path_, "diffusers layout: missing tensor '" + name + "'");
  used_.insert(name);
  return it->second;
}

void LayoutConverter::rename(const std::string& from, const std::string& to) {
  for (const char* suffix : {".weight", ".bias"}) {
    if (has(from + suffix)) out_[to + suffix] = take(from + suffix);
  }
}

void LayoutConverter::rename_scale(const std::string& from, const std::string& to) {
  out_[to + ".scale"] = take(from + ".weight");
}

void LayoutConverter::join(const std::vector<std::string>& parts, const std::string& to) {
  for (const char* suffix : {".weight", ".bias"}) {
    if (!has(parts.front() + suffix)) continue;
    std::vector<StoredTensor> pieces;
    for (const auto& part : parts) {
      pieces.push_back(take(part + suffix));
      const auto& shape = pieces.back().sizes();
      const auto& first = pieces.front().sizes();
      if (shape.empty() || shape.size() != first.size() ||
          !std::equal(shape.begin() + 1, shape.end(), first.begin() + 1)) {
        fail_file(path_, "diffusers layout: tensor '" + part + suffix + "' has shape " + shape_string(shape) +
                             ", which does not stack with '" + parts.front() + suffix + "' of shape " +
                             shape_string(first));
      }
    }
    out_[to + suffix] = join_rows(pieces);
  }
}

void LayoutConverter::rename_swapping_halves(const std::string& from, const std::string& to) {
  for (const char* suffix : {".weight", ".bias"}) {
    if (!has(from + suffix)) continue;
    const StoredTensor& tensor = take(from + suffix);
    if (tensor.sizes().empty() || tensor.sizes()[0] % 2 != 0) {
      fail_file(path_, "diffusers layout: tensor '" + from + suffix + "' has shape " + shape_string(tensor.sizes()) +
                           ", expected an even first dimension (scale and shift)");
    }
    out_[to + suffix] = swap_row_halves(tensor);
  }
}

void LayoutConverter::rename_as_conv1x1(const std::string& from, const std::string& to) {
  rename(from, to);
  StoredTensor& weight = out_.at(to + ".weight");
  const at::Tensor values = weight.decoded();
  if (values.dim() == 2) weight = StoredTensor(values.reshape({values.size(0), values.size(1), 1, 1}));
}

StoredMap LayoutConverter::finish() {
  for (const auto& entry : source_) {
    if (!used_.count(entry.first)) {
      fail_file(path_, "diffusers layout: tensor '" + entry.first + "' has no place in the " + model_ +
                           " reference model");
    }
  }
  return std::move(out_);
}

}  // namespace untwist
