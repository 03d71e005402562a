// The per-row softmax entropy loop and the flat window's impurity, in their own torch-free translation unit: quick
// to compile and to inspect with -fopt-info-vec. Each entry point is compiled twice, with fused multiply-adds (for
// AVX2 + FMA on x86-64) and without (the baseline target), and picks one by the CPU it runs on; the exp/log
// polynomials (vec_math.h) vectorise in both.
#include "region_score_entropy.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "region_math.h"
#include "vec_math.h"

// The fused build's functions: compiled for AVX2 + FMA on x86-64 (the rest of the extension targets the baseline).
#if defined(__x86_64__)
#define DW_FMA_TARGET __attribute__((target("avx2,fma")))
#else
#define DW_FMA_TARGET
#endif

namespace dwaca {
namespace {

// Class (first argmax) and weighted normalised entropy of one output row from its logits v (C x W, overwritten).
template <bool kFma>
__attribute__((always_inline)) inline void entropy_row_body(float* v, int C, int W, const float* cw, float inv_log_c,
                                                            float* mx, float* sum, float* ent, int* cls, float* we) {
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
      vc[x] = exp_nonpos<kFma>(vc[x] - mx[x]);
      sum[x] += vc[x];
    }
  }
  for (int x = 0; x < W; ++x) sum[x] = 1.f / sum[x];
  std::fill(ent, ent + W, 0.f);
  for (int c = 0; c < C; ++c) {
    const float* vc = v + static_cast<int64_t>(c) * W;
    for (int x = 0; x < W; ++x) {
      const float p = vc[x] * sum[x];
      ent[x] -= p * log_pos<kFma>(p + kEps);
    }
  }
  for (int x = 0; x < W; ++x) we[x] = (cw ? cw[cls[x]] : 1.f) * (ent[x] * inv_log_c);
}

// Impurity of a full (2K+1)^2 flat window without a histogram: cell j's class occurs h_j times, and the class's
// term -(h/n) log(h/n + eps) spread over its h cells is -(1/n) log(h_j/n + eps) per cell. The n logs are one log
// of their product (>= (1/25)^25 for K <= 2, a normal float). Branch-free, so the loop over x vectorises (the
// per-pixel histogram's scattered increments do not).
template <int K, bool kFma>
__attribute__((always_inline)) inline void flat_interior_body(const int* const* cls_rows, const float* const* we_rows,
                                                              int x0, int x1, float inv_log_c, float* impurity,
                                                              float* uncertainty) {
  static_assert(K <= 2, "the product of (2K+1)^2 cell factors must stay a normal float");
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
    float prod = 1.f;
#pragma GCC unroll 32
    for (int j = 0; j < N; ++j) {
      int h = 0;
#pragma GCC unroll 32
      for (int i = 0; i < N; ++i) h += c[i] == c[j] ? 1 : 0;
      prod *= static_cast<float>(h) / n + kEps;
    }
    impurity[x] = -(log_pos<kFma>(prod) / n) * inv_log_c;
    uncertainty[x] = swe / n;
  }
}

DW_FMA_TARGET void entropy_row_fma(float* v, int C, int W, const float* cw, float inv_log_c, float* mx, float* sum,
                                   float* ent, int* cls, float* we) {
  entropy_row_body<true>(v, C, W, cw, inv_log_c, mx, sum, ent, cls, we);
}

template <int K>
DW_FMA_TARGET void flat_interior_fma(const int* const* cls_rows, const float* const* we_rows, int x0, int x1,
                                     float inv_log_c, float* impurity, float* uncertainty) {
  flat_interior_body<K, true>(cls_rows, we_rows, x0, x1, inv_log_c, impurity, uncertainty);
}

}  // namespace

bool cpu_loops_use_fma() {
  static const bool yes = [] {
    const char* cap = std::getenv("ATEN_CPU_CAPABILITY");
    if (cap && std::strcmp(cap, "default") == 0) return false;
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(__aarch64__)
    return true;  // FMA is part of the base ARMv8 instruction set
#else
    return false;
#endif
  }();
  return yes;
}

void entropy_row(float* v, int C, int W, const float* cw, float inv_log_c, float* mx, float* sum, float* ent,
                 int* cls, float* we) {
  if (cpu_loops_use_fma()) return entropy_row_fma(v, C, W, cw, inv_log_c, mx, sum, ent, cls, we);
  entropy_row_body<false>(v, C, W, cw, inv_log_c, mx, sum, ent, cls, we);
}

void flat_window_row_k1(const int* const* cls_rows, const float* const* we_rows, int x0, int x1, float inv_log_c,
                        float* impurity, float* uncertainty) {
  if (cpu_loops_use_fma())
    return flat_interior_fma<1>(cls_rows, we_rows, x0, x1, inv_log_c, impurity, uncertainty);
  flat_interior_body<1, false>(cls_rows, we_rows, x0, x1, inv_log_c, impurity, uncertainty);
}

void flat_window_row_k2(const int* const* cls_rows, const float* const* we_rows, int x0, int x1, float inv_log_c,
                        float* impurity, float* uncertainty) {
  if (cpu_loops_use_fma())
    return flat_interior_fma<2>(cls_rows, we_rows, x0, x1, inv_log_c, impurity, uncertainty);
  flat_interior_body<2, false>(cls_rows, we_rows, x0, x1, inv_log_c, impurity, uncertainty);
}

}  // namespace dwaca
