#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/fused_attention_bf16.h"
#include "model/rope.h"

namespace untwist {

namespace {

// 8 MiB of float32 scores at once, so that a chunk stays in cache from the
// score product through the softmax to the value product, but never fewer
// than 512 query rows, below which the products lose more than the cache
// gives (bench/RESULTS.md, Attention).
constexpr int64_t kMaxScoreElements = 2ll << 20;
constexpr int64_t kMinQueryRows = 512;

}  // namespace

at::Tensor key_logit_bias(const at::Tensor& key_mask) {
  if (key_mask.is_floating_point()) return key_mask.to(at::kFloat);
  return at::zeros(key_mask.sizes(), key_mask.options().dtype(at::kFloat))
      .masked_fill_(at::logical_not(key_mask.to(at::kBool)), -std::numeric_limits<float>::infinity());
}

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const at::Tensor& key_mask) {
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2), keys = k.size(2), dim = q.size(3);
#if __has_include(<ATen/ops/scaled_dot_product_attention.h>)
  // libtorch 2.x off the CPU: its fused kernels (flash or memory-efficient
  // attention), same 1/sqrt(D) scale.
  if (!q.device().is_cpu()) {
    if (!key_mask.defined()) return at::scaled_dot_product_attention(q, k, v);
    const at::Tensor mask = key_mask.is_floating_point() ? key_mask.to(q.device(), q.scalar_type())
                                                         : key_mask.to(q.device());
    return at::scaled_dot_product_attention(q, k, v, mask.reshape({batch, 1, 1, keys}));
  }
#endif
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  // The keys' logit biases (masked keys: -inf), one row per problem.
  at::Tensor bias;
  if (key_mask.defined()) {
    bias = key_logit_bias(key_mask.to(q.device()))
               .reshape({batch, 1, keys})
               .expand({batch, heads, keys})
               .reshape({batch * heads, keys});  // [BH, Lk]
  }
  if (fused_bf16_attention_runs(q, k, v)) {
    return fused_bf16_attention(q.reshape({batch * heads, queries, dim}), k.reshape({batch * heads, keys, dim}),
                                v.reshape({batch * heads, keys, dim}), bias, scale)
        .reshape({batch, heads, queries, dim});
  }
  // Batch and heads flattened into one dimension of independent problems; the
  // scale goes on the queries (a pass over [L, D], not over the scores).
  const at::Tensor qq = (q * scale).reshape({batch * heads, queries, dim});
  const at::Tensor kt = k.reshape({batch * heads, keys, dim}).transpose(1, 2);  // [BH, D, Lk]
  const at::Tensor vv = v.reshape({batch * heads, keys, v.size(3)});
  const int64_t query_chunk =
      std::min(queries, std::max(kMinQueryRows, kMaxScoreElements / std::max<int64_t>(keys, 1)));
  const int64_t problem_chunk =
      std::max<int64_t>(1, std::min(batch * heads, kMaxScoreElements / std::max<int64_t>(query_chunk * keys, 1)));
  // Chunks are gathered with cat (not copied into slices of one buffer) so
  // that autograd, when it records, keeps one node per chunk.
  std::vector<at::Tensor> rows;
  for (int64_t p = 0; p < batch * heads; p += problem_chunk) {
    const int64_t pn = std::min(problem_chunk, batch * heads - p);
    std::vector<at::Tensor> columns;
    for (int64_t i = 0; i < queries; i += query_chunk) {
      const int64_t in = std::min(query_chunk, queries - i);
      at::Tensor scores = at::matmul(qq.narrow(0, p, pn).narrow(1, i, in), kt.narrow(0, p, pn));
      if (bias.defined()) scores = scores.to(at::kFloat) + bias.narrow(0, p, pn).unsqueeze(1);
      // libtorch's float32 and bfloat16 softmax kernels accumulate in float32
      // and write their own dtype; float16 goes through float32.
      const bool native = scores.scalar_type() == at::kFloat || scores.scalar_type() == at::kBFloat16;
      const at::Tensor weights = (native ? at::softmax(scores, -1) : at::softmax(scores, -1, at::kFloat))
                                     .to(v.scalar_type());  // [pn, in, Lk]
      columns.push_back(at::matmul(weights, vv.narrow(0, p, pn)));                         // [pn, in, Dv]
    }
    rows.push_back(columns.size() == 1 ? columns[0] : at::cat(columns, 1));
  }
  const at::Tensor out = rows.size() == 1 ? rows[0] : at::cat(rows, 0);  // [BH, Lq, Dv]
  return out.reshape({batch, heads, queries, v.size(3)});
}

at::Tensor merge_heads(const at::Tensor& x) {
  return x.permute({0, 2, 1, 3}).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

at::Tensor plain_attention(const AttentionCall& call) {
  const at::Tensor q = apply_rope(call.q, call.pe);
  const at::Tensor k = apply_rope(call.k, call.pe);
  return merge_heads(scaled_dot_product_attention(q, k, call.v, call.key_mask));
}

}  // namespace untwist
