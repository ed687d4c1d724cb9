#include "model/attention.h"

#include <algorithm>
#include <cmath>

#include "model/rope.h"

namespace untwist {

namespace {

constexpr int64_t kMaxScoreElements = 32ll << 20;  // 128 MiB of float32 scores at once

}  // namespace

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2), keys = k.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  at::Tensor out = at::empty(q.sizes(), q.options());
  const int64_t query_chunk = std::max<int64_t>(1, std::min(queries, kMaxScoreElements / std::max<int64_t>(keys, 1)));
  const int64_t head_chunk =
      std::max<int64_t>(1, std::min(heads, kMaxScoreElements / std::max<int64_t>(query_chunk * keys, 1)));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; h += head_chunk) {
      const int64_t hn = std::min(head_chunk, heads - h);
      const at::Tensor kk = k[b].narrow(0, h, hn);  // [hn, Lk, D]
      const at::Tensor vv = v[b].narrow(0, h, hn);
      for (int64_t i = 0; i < queries; i += query_chunk) {
        const int64_t in = std::min(query_chunk, queries - i);
        const at::Tensor qq = q[b].narrow(0, h, hn).narrow(1, i, in);           // [hn, in, D]
        const at::Tensor scores = at::matmul(qq, kk.transpose(1, 2)) * scale;  // [hn, in, Lk]
        const at::Tensor weights = at::softmax(scores, -1, at::kFloat).to(v.scalar_type());
        out[b].narrow(0, h, hn).narrow(1, i, in).copy_(at::matmul(weights, vv));  // [hn, in, D]
      }
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
