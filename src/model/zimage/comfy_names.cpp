#include "model/zimage/comfy_names.h"

#include <map>

#include "util/errors.h"

namespace untwist {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Rows [first, first + count) of a matrix as stored; encoded rows are whole
// blocks lying one after another.
StoredTensor rows_of(const StoredTensor& tensor, int64_t first, int64_t count) {
  std::vector<int64_t> shape = tensor.sizes();
  if (!tensor.encoded()) return StoredTensor(tensor.decoded().narrow(0, first, count));
  const int64_t row_bytes = tensor.as_bytes().numel() / shape[0];
  shape[0] = count;
  return StoredTensor(tensor.encoding(), tensor.as_bytes().narrow(0, first * row_bytes, count * row_bytes), shape);
}

}  // namespace

bool has_comfy_zimage_names(const Weights& weights) { return weights.has("x_embedder.weight") && weights.has("x_pad_token"); }

Weights zimage_reference_names(const Weights& weights) {
  if (!has_comfy_zimage_names(weights)) return weights;
  // The reference's embedder and final layer for patch 2, frame patch 1.
  const std::vector<std::pair<std::string, std::string>> prefixes = {{"x_embedder.", "all_x_embedder.2-1."},
                                                                     {"final_layer.", "all_final_layer.2-1."}};
  const std::vector<std::pair<std::string, std::string>> suffixes = {{".attention.out.weight", ".attention.to_out.0.weight"},
                                                                     {".attention.q_norm.weight", ".attention.norm_q.weight"},
                                                                     {".attention.k_norm.weight", ".attention.norm_k.weight"}};
  std::map<std::string, StoredTensor> named;
  for (const std::string& name : weights.names()) {
    const StoredTensor tensor = weights.stored(name, weights.shape(name));
    const std::string qkv = ".attention.qkv.weight";
    if (ends_with(name, qkv)) {
      const std::string block = name.substr(0, name.size() - qkv.size()) + ".attention.";
      const int64_t rows = tensor.sizes().at(0);
      if (rows % 3 != 0) {
        fail_file(weights.source(), "'" + name + "' has " + std::to_string(rows) + " rows, not q, k and v of equal size");
      }
      for (int part = 0; part < 3; ++part) {
        named[block + "to_" + "qkv"[part] + ".weight"] = rows_of(tensor, part * rows / 3, rows / 3);
      }
      continue;
    }
    std::string renamed = name;
    for (const auto& [from, to] : prefixes) {
      if (name.compare(0, from.size(), from) == 0) renamed = to + name.substr(from.size());
    }
    for (const auto& [from, to] : suffixes) {
      if (ends_with(name, from)) renamed = name.substr(0, name.size() - from.size()) + to;
    }
    named[renamed] = tensor;
  }
  return Weights::from_stored(named, weights.source());
}

}  // namespace untwist
