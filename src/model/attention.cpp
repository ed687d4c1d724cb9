#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/rope.h"

namespace untwist {

namespace {

// 8 MiB of float32 scores at once: a chunk stays in cache from the score
// product through the softmax to the value product (bench_attention at FLUX.1's
// 4608 tokens: 3.7 s a call, against 6.4 s with 128 MiB chunks), but never
// fewer than 512 query rows, below which the products lose more than the
// cache gives (8704 keys: 240 rows 7.5 s, 481 rows 6.9 s, 120 rows 9.6 s).
constexpr int64_t kMaxScoreElements = 2ll << 20;
constexpr int64_t kMinQueryRows = 512;
// The blocked path's budget for one chunk of queries against one key block
// over every head (128 MiB); smaller chunks only add per-block overhead there.
constexpr int64_t kBlockedScoreElements = 32ll << 20;

}  // namespace

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#if __has_include(<ATen/ops/scaled_dot_product_attention.h>)
  // libtorch 2.x off the CPU: its fused kernels (flash or memory-efficient
  // attention), same 1/sqrt(D) scale.
  if (!q.device().is_cpu()) return at::scaled_dot_product_attention(q, k, v);
#endif
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2), keys = k.size(2), dim = q.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
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
      const at::Tensor scores = at::matmul(qq.narrow(0, p, pn).narrow(1, i, in), kt.narrow(0, p, pn));
      const at::Tensor weights = at::softmax(scores, -1, at::kFloat).to(v.scalar_type());  // [pn, in, Lk]
      columns.push_back(at::matmul(weights, vv.narrow(0, p, pn)));                         // [pn, in, Dv]
    }
    rows.push_back(columns.size() == 1 ? columns[0] : at::cat(columns, 1));
  }
  const at::Tensor out = rows.size() == 1 ? rows[0] : at::cat(rows, 0);  // [BH, Lq, Dv]
  return out.reshape({batch, heads, queries, v.size(3)});
}

at::Tensor blocked_attention(const at::Tensor& q, const std::vector<KeySegment>& segments) {
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2), dim = q.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  const int64_t dv = segments.at(0).v.size(3);
  constexpr int64_t kKeyBlock = 1024;
  const int64_t query_chunk = std::max<int64_t>(1, std::min(queries, kBlockedScoreElements / (heads * kKeyBlock)));
  at::Tensor out = at::empty({batch, heads, queries, dv}, q.options());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < queries; i += query_chunk) {
      const int64_t in = std::min(query_chunk, queries - i);
      const at::Tensor qb = q[b].narrow(1, i, in);  // [H, in, D]
      at::Tensor running_max = at::full({heads, in, 1}, -std::numeric_limits<float>::infinity(), at::kFloat);
      at::Tensor running_sum = at::zeros({heads, in, 1}, at::kFloat);
      at::Tensor acc = at::zeros({heads, in, dv}, at::kFloat);
      for (const KeySegment& segment : segments) {
        const int64_t row = segment.k.size(0) == 1 ? 0 : b;
        // q . (k * s) = (q * s) . k: the scales go on the queries of this chunk.
        const at::Tensor qs = (segment.scale.defined() ? qb * segment.scale.to(qb.scalar_type()) : qb) * scale;
        const int64_t keys = segment.k.size(2);
        for (int64_t j = 0; j < keys; j += kKeyBlock) {
          const int64_t kn = std::min(kKeyBlock, keys - j);
          const at::Tensor scores = at::matmul(qs, segment.k[row].narrow(1, j, kn).transpose(1, 2)).to(at::kFloat);
          const at::Tensor new_max = at::maximum(running_max, std::get<0>(scores.max(-1, true)));
          const at::Tensor correction = (running_max - new_max).exp_();  // [H, in, 1]
          const at::Tensor weights = (scores - new_max).exp_();           // [H, in, kn]
          running_sum.mul_(correction).add_(weights.sum(-1, true));
          acc.mul_(correction).baddbmm_(weights, segment.v[row].narrow(1, j, kn).to(at::kFloat));
          running_max = new_max;
        }
      }
      out[b].narrow(1, i, in).copy_(acc.div_(running_sum));
    }
  }
  return out;
}

at::Tensor merge_heads(const at::Tensor& x) {
  return x.permute({0, 2, 1, 3}).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

at::Tensor plain_attention(const AttentionCall& call) {
  const at::Tensor q = apply_rope(call.q, call.pe);
  const at::Tensor k = apply_rope(call.k, call.pe);
  return merge_heads(scaled_dot_product_attention(q, k, call.v));
}

}  // namespace untwist
