// The per-row softmax entropy loop, in its own torch-free translation unit: quick to compile and to inspect with
// -fopt-info-vec, and compiled for AVX2 and a baseline target picked at load time.
#include "entropy_row.h"

#include <algorithm>

#include "region_math.h"
#include "vec_math.h"

namespace dwaca {

// Class (first argmax) and weighted normalised entropy of one output row from its logits v (C x W, overwritten).
// Compiled for AVX2 and a baseline target, picked at load time; the exp/log loops vectorise (vec_math.h).
__attribute__((target_clones("avx2", "default"))) void entropy_row(float* v, int C, int W, const float* cw,
                                                                   float inv_log_c, float* mx, float* sum,
                                                                   float* ent, int* cls, float* we) {
  std::copy(v, v + W, mx);
  std::fill(cls, cls + W, 0);
  for (int c = 1; c < C; ++c) {
    const float* vc = v + static_cast<int64_t>(c) * W;
    for (int x = 0; x < W; ++x) {
      const bool gt = vc[x] > mx[x];  // strict: ties keep the first class, like torch.argmax
      mx[x] = gt ? vc[x] : mx[x];
      cls[x] = gt ? c : cls[x];
    }
  }
  std::fill(sum, sum + W, 0.f);
  for (int c = 0; c < C; ++c) {
    float* vc = v + static_cast<int64_t>(c) * W;
    for (int x = 0; x < W; ++x) {
      vc[x] = exp_nonpos(vc[x] - mx[x]);
      sum[x] += vc[x];
    }
  }
  for (int x = 0; x < W; ++x) sum[x] = 1.f / sum[x];
  std::fill(ent, ent + W, 0.f);
  for (int c = 0; c < C; ++c) {
    const float* vc = v + static_cast<int64_t>(c) * W;
    for (int x = 0; x < W; ++x) {
      const float p = vc[x] * sum[x];
      ent[x] -= p * log_pos(p + kEps);
    }
  }
  for (int x = 0; x < W; ++x) we[x] = (cw ? cw[cls[x]] : 1.f) * (ent[x] * inv_log_c);
}

namespace {

// Impurity of a full (2K+1)^2 flat window without a histogram: cell j's class occurs h_j times, and the class's
// term -(h/n) log(h/n + eps) spread over its h cells is -(1/n) log(h_j/n + eps) per cell. Branch-free, so the loop
// over x vectorises (the per-pixel histogram's scattered increments do not).
template <int K>
__attribute__((always_inline)) inline void flat_interior_body(const int* const* cls_rows, const float* const* we_rows,
                                                              int x0, int x1, float inv_log_c, float* impurity,
                                                              float* uncertainty) {
  constexpr int S = 2 * K + 1, N = S * S;
  constexpr float n = static_cast<float>(N);
#pragma omp simd
  for (int x = x0; x < x1; ++x) {
    int c[N];
    float swe = 0.f;
#pragma GCC unroll 8
    for (int r = 0; r < S; ++r)
#pragma GCC unroll 8
      for (int d = 0; d < S; ++d) {
        c[r * S + d] = cls_rows[r][x + d - K];
        swe += we_rows[r][x + d - K];
      }
    float s = 0.f;
#pragma GCC unroll 32
    for (int j = 0; j < N; ++j) {
      int h = 0;
#pragma GCC unroll 32
      for (int i = 0; i < N; ++i) h += c[i] == c[j] ? 1 : 0;
      s += log_pos(static_cast<float>(h) / n + kEps);
    }
    impurity[x] = -(s / n) * inv_log_c;
    uncertainty[x] = swe / n;
  }
}

}  // namespace

__attribute__((target_clones("avx2", "default"))) void flat_window_row_k1(const int* const* cls_rows,
                                                                          const float* const* we_rows, int x0, int x1,
                                                                          float inv_log_c, float* impurity,
                                                                          float* uncertainty) {
  flat_interior_body<1>(cls_rows, we_rows, x0, x1, inv_log_c, impurity, uncertainty);
}

__attribute__((target_clones("avx2", "default"))) void flat_window_row_k2(const int* const* cls_rows,
                                                                          const float* const* we_rows, int x0, int x1,
                                                                          float inv_log_c, float* impurity,
                                                                          float* uncertainty) {
  flat_interior_body<2>(cls_rows, we_rows, x0, x1, inv_log_c, impurity, uncertainty);
}

}  // namespace dwaca
