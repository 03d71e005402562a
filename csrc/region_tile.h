// Block code of the register-tiled region scoring kernel (region_score's CUDA kernel up to 64 classes,
// csrc/cuda/region_score_tiled.cu).
// Written once for both sides: the GPU runs it as a CUDA block, and csrc/cpu/region_score_tiled_emulated.cpp runs
// the same functions serially, thread by thread and phase by phase, so CI checks the kernel's logic without a GPU.
//
// A block owns a tile_w x tile_h tile of output pixels and works in two phases separated by one barrier:
//   1. pixel phase: every thread takes pixels of the tile plus its k-pixel halo; for each it interpolates all C
//      logits into registers (CMAX >= C, unrolled, so no shared-memory passes over C), and stores its class and
//      weighted entropy in shared memory;
//   2. window phase: every thread takes output pixels and reduces their windows from shared memory. The class
//      histogram is never materialised: a 64-bit mask of the classes already met finds each class's first cell,
//      and its share is summed from there on, in the same order as window_stats, so the result is the same float.
#pragma once
#include <c10/util/ArrayRef.h>
#include <c10/util/Exception.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "region_math.h"

namespace dwaca {

constexpr int kTileThreads = 256;
constexpr int kTileMaxClasses = 64;  // the window phase's class mask is 64 bits

struct TileArgs {
  int C, h, w, H, W, k;
  int tile_w, tile_h, halo_w, halo_h;
  int plane;         // h * w; offsets within an image are 32-bit (C * h * w < 2^31)
  bool flat;         // sigma = 0: every window weight is 1
  bool resample;     // out_size differs from the logits' size
  bool scan_input;   // some logits are never interpolated from (downsampling): scan the owned input for NaN/inf
  float scale_y, scale_x, inv_log_c;
};

// Whether interpolating out positions [0, out) touches every input index of [0, in) (each output reads taps i0
// and i1): then the pixel phase sees every logit and needs no separate NaN/inf scan.
inline bool lerp_covers_input(int in, int out) {
  if (in == out) return true;
  const float scale = align_corners_scale(in, out);
  int reached = -1;  // every index <= reached has been read
  for (int d = 0; d < out; ++d) {
    const Lerp l = lerp_at(d, scale, in);
    if (l.i0 > reached + 1) return false;
    reached = l.i1 > reached ? l.i1 : reached;
  }
  return reached == in - 1;
}

// Whether the tiled kernel takes these logits (B, C, h, w): its class mask is 64 bits and its offsets within an
// image are 32-bit. Others go to the general kernel (csrc/cuda/region_score.cu).
inline bool tiled_kernel_fits(c10::IntArrayRef logits_sizes) {
  return logits_sizes[1] <= kTileMaxClasses && logits_sizes[1] * logits_sizes[2] * logits_sizes[3] < (int64_t{1} << 31);
}

// Output tile 32 pixels wide (one warp per output row in the window phase) and as tall as fits a halo of about a
// multiple of kTileThreads pixels, at least max(16, 2k) rows, so the halo overhead stays small: (32+2)x30 for k = 1.
// `logits_sizes`: (B, C, h, w), already checked by prepare_region_score.
inline TileArgs make_tile_args(c10::IntArrayRef logits_sizes, int64_t out_h, int64_t out_w, int64_t radius,
                               double sigma) {
  const int64_t C = logits_sizes[1], h = logits_sizes[2], w = logits_sizes[3];
  TORCH_CHECK(tiled_kernel_fits(logits_sizes), "the tiled region_score kernel takes at most ", kTileMaxClasses,
              " classes and fewer than 2^31 logits per image, got ", C, "x", h, "x", w);
  TileArgs a;
  a.C = static_cast<int>(C), a.h = static_cast<int>(h), a.w = static_cast<int>(w);
  a.H = static_cast<int>(out_h), a.W = static_cast<int>(out_w), a.k = static_cast<int>(radius);
  const int k = a.k;
  a.tile_w = 32;
  a.halo_w = a.tile_w + 2 * k;
  const int min_rows = 2 * k + (2 * k > 16 ? 2 * k : 16);
  int rounds = 4;
  while (rounds * kTileThreads / a.halo_w < min_rows) ++rounds;
  a.halo_h = rounds * kTileThreads / a.halo_w;
  a.tile_h = a.halo_h - 2 * k;
  a.plane = static_cast<int>(h * w);
  a.flat = sigma <= 0;
  a.resample = a.h != a.H || a.w != a.W;
  a.scan_input = !(lerp_covers_input(a.h, a.H) && lerp_covers_input(a.w, a.W));
  a.scale_y = align_corners_scale(a.h, a.H);
  a.scale_x = align_corners_scale(a.w, a.W);
  a.inv_log_c = static_cast<float>(1.0 / std::log(static_cast<double>(C)));
  return a;
}

// A register capacity of CMAX classes; EXACT when C == CMAX, so the per-class loops carry no test of c < C and
// the compiler can put more of the pixel's loads in flight.
template <int CMAX_, bool EXACT_>
struct ClassCapacity {
  static constexpr int CMAX = CMAX_;
  static constexpr bool EXACT = EXACT_;
};

// Calls f(ClassCapacity<...>{}) with the smallest of 16, 19, 32 and 64 that holds C (C <= kTileMaxClasses), exact
// for SYNTHIA's 16 and Cityscapes' 19 classes.
template <typename F>
void dispatch_class_capacity(int C, F&& f) {
  if (C < 16) return f(ClassCapacity<16, false>{});
  if (C == 16) return f(ClassCapacity<16, true>{});
  if (C < 19) return f(ClassCapacity<19, false>{});
  if (C == 19) return f(ClassCapacity<19, true>{});
  if (C <= 32) return f(ClassCapacity<32, false>{});
  return f(ClassCapacity<64, false>{});
}

// Phase 1 for thread `tid` of `nthreads`: class (s_cls) and weighted entropy (s_we) of its halo pixels; returns
// whether it met a NaN or inf logit. `img` is this image's (C, h, w) logits, (tx0, ty0) the tile's origin.
template <typename scalar_t, class Capacity>
DW_HD bool tile_pixel_phase(const TileArgs& a, const scalar_t* __restrict__ img, const float* __restrict__ cw, int tx0,
                            int ty0, int tid, int nthreads, int* __restrict__ s_cls, float* __restrict__ s_we) {
  // this tile's share of the input, which covers logits no output pixel reads
  bool bad = a.scan_input && owned_input_nonfinite(img, a.C, a.h, a.w, a.H, a.W, ty0,
                                                   ty0 + a.tile_h < a.H ? ty0 + a.tile_h : a.H, tx0,
                                                   tx0 + a.tile_w < a.W ? tx0 + a.tile_w : a.W, tid, nthreads);
  constexpr int CMAX = Capacity::CMAX;
  const int C = Capacity::EXACT ? CMAX : a.C;
  const int halo_n = a.halo_w * a.halo_h;
  for (int p = tid; p < halo_n; p += nthreads) {
    const int gy = ty0 - a.k + p / a.halo_w, gx = tx0 - a.k + p % a.halo_w;
    if (gy < 0 || gy >= a.H || gx < 0 || gx >= a.W) continue;  // the window phase never reads outside the image
    float v[CMAX] = {};  // entries >= C stay unused
    if (a.resample) {
      const Lerp ly = lerp_at(gy, a.scale_y, a.h), lx = lerp_at(gx, a.scale_x, a.w);
      // 32-bit offsets within the image (make_tile_args checks C * h * w < 2^31): two instructions per address
      const int o00 = ly.i0 * a.w + lx.i0, o01 = ly.i0 * a.w + lx.i1;
      const int o10 = ly.i1 * a.w + lx.i0, o11 = ly.i1 * a.w + lx.i1;
DW_UNROLL
      for (int c = 0; c < CMAX; ++c) {
        if (c < C) {
          const int pc = c * a.plane;
          v[c] = bilerp(load_float(img + (pc + o00)), load_float(img + (pc + o01)), load_float(img + (pc + o10)),
                        load_float(img + (pc + o11)), ly, lx);
        }
      }
    } else {
      const int o = gy * a.w + gx;
DW_UNROLL
      for (int c = 0; c < CMAX; ++c)
        if (c < C) v[c] = load_float(img + (c * a.plane + o));
    }
    // Strict '>' keeps the first of tied classes, like torch.argmax. A NaN at class 0 makes mx NaN; elsewhere it
    // makes the entropy NaN; -inf shows in mn, +inf in mx: all are caught below without a separate pass.
    float mx = v[0], mn = v[0];
    int arg = 0;
DW_UNROLL
    for (int c = 1; c < CMAX; ++c) {
      if (c < C) {
        if (v[c] > mx) {
          mx = v[c];
          arg = c;
        }
        mn = v[c] < mn ? v[c] : mn;
      }
    }
    float sum = 0.f;
DW_UNROLL
    for (int c = 0; c < CMAX; ++c) {
      if (c < C) {
        v[c] = fast_exp(v[c] - mx);
        sum += v[c];
      }
    }
    const float inv_sum = 1.f / sum;
    float ent = 0.f;
DW_UNROLL
    for (int c = 0; c < CMAX; ++c)
      if (c < C) ent += entropy_term(v[c] * inv_sum);
    bad |= !(mx <= FLT_MAX && mn >= -FLT_MAX && ent == ent);
    s_cls[p] = arg;
    s_we[p] = (cw ? cw[arg] : 1.f) * (ent * a.inv_log_c);
  }
  return bad;
}

// Impurity (before the 1 / log C factor) and uncertainty of any window, from the halo's classes and weighted
// entropies: the first cell of each class is found with a 64-bit mask of the classes met, and its share is summed
// from there on, in the same order as window_stats, so the result is the same float.
DW_HD void tile_window_any(const TileArgs& a, const float* __restrict__ g, const int* __restrict__ s_cls,
                           const float* __restrict__ s_we, int tx0, int ty0, int y, int x, float* imp_out,
                           float* unc_out) {
  const int k = a.k, side = 2 * k + 1;
  const int ya = window_lo(y, k), yb = window_hi(y, k, a.H);
  const int xa = window_lo(x, k), xb = window_hi(x, k, a.W);
  // halo index of (yy, xx) = (yy - ty0 + k) * halo_w + (xx - tx0 + k); window weight index likewise
  const int hx = xa - tx0 + k, gx = xa - x + k;
  float n = 0.f, swe = 0.f;
  for (int yy = ya; yy <= yb; ++yy) {
    const int hrow = (yy - ty0 + k) * a.halo_w + hx, grow = (yy - y + k) * side + gx;
    for (int i = 0; i <= xb - xa; ++i) {
      const float gw = g[grow + i];
      n += gw;
      swe += gw * s_we[hrow + i];
    }
  }
  uint64_t seen = 0;
  float imp = 0.f;
  for (int yy = ya; yy <= yb; ++yy) {
    for (int xx = xa; xx <= xb; ++xx) {
      const int cls = s_cls[(yy - ty0 + k) * a.halo_w + (xx - tx0 + k)];
      const uint64_t bit = uint64_t{1} << cls;
      if (seen & bit) continue;
      seen |= bit;
      float share = 0.f;  // summed from the class's first cell on, in row-major order like window_stats
      for (int y2 = yy, x2 = xx; y2 <= yb; ++y2, x2 = xa) {
        const int hrow = (y2 - ty0 + k) * a.halo_w - tx0 + k, grow = (y2 - y + k) * side - x + k;
        for (; x2 <= xb; ++x2)
          if (s_cls[hrow + x2] == cls) share += g[grow + x2];
      }
      imp += entropy_term(share / n);
    }
  }
  *imp_out = imp;
  *unc_out = swe / n;
}

// The same for the flat 3x3 window (k = 1, sigma = 0: RIPU's and DWACA's default) with its 9 classes in registers:
// each cell's class count comes from pairwise comparisons instead of a rescan of the window per class. The floats
// are tile_window_any's: a share is a count of ones, exact in any order, and classes are taken in order of first
// appearance; cells outside the image are left out.
DW_HD void tile_window_flat3x3(const TileArgs& a, const int* __restrict__ s_cls, const float* __restrict__ s_we,
                               int tx0, int ty0, int y, int x, float* imp_out, float* unc_out) {
  const int centre = (y - ty0 + 1) * a.halo_w + (x - tx0 + 1);
  const bool row_in[3] = {y > 0, true, y + 1 < a.H}, col_in[3] = {x > 0, true, x + 1 < a.W};
  int cls[9];
  bool in[9];
  float n = 0.f, swe = 0.f;
DW_UNROLL
  for (int i = 0; i < 9; ++i) {
    in[i] = row_in[i / 3] && col_in[i % 3];
    const int o = centre + (i / 3 - 1) * a.halo_w + (i % 3 - 1);
    cls[i] = in[i] ? s_cls[o] : -1 - i;  // distinct negative classes: equal to no other cell
    if (in[i]) {
      n += 1.f;
      swe += s_we[o];
    }
  }
  float imp = 0.f;
DW_UNROLL
  for (int i = 0; i < 9; ++i) {
    bool first = in[i];
    int count = 1;
DW_UNROLL
    for (int j = 0; j < 9; ++j) {
      if (j < i) first = first && cls[j] != cls[i];
      if (j > i) count += cls[j] == cls[i];
    }
    if (first) imp += entropy_term(static_cast<float>(count) / n);
  }
  *imp_out = imp;
  *unc_out = swe / n;
}

// Phase 2 for thread `tid` of `nthreads`: impurity, uncertainty and score of its output pixels of the tile.
// `g` holds the (2k+1)^2 window weights; `bad` (any thread's phase-1 result) marks the tile's first pixel NaN.
DW_HD void tile_window_phase(const TileArgs& a, const float* __restrict__ g, const int* __restrict__ s_cls,
                             const float* __restrict__ s_we, const bool* __restrict__ labeled, int64_t image_offset,
                             int tx0, int ty0, int tid, int nthreads, bool bad, float* __restrict__ score,
                             float* __restrict__ impurity, float* __restrict__ uncertainty) {
  for (int q = tid; q < a.tile_w * a.tile_h; q += nthreads) {
    const int y = ty0 + q / a.tile_w, x = tx0 + q % a.tile_w;
    if (y >= a.H || x >= a.W) continue;
    float imp, unc;
    if (a.flat && a.k == 1)
      tile_window_flat3x3(a, s_cls, s_we, tx0, ty0, y, x, &imp, &unc);
    else
      tile_window_any(a, g, s_cls, s_we, tx0, ty0, y, x, &imp, &unc);
    imp *= a.inv_log_c;
    if (bad && q == 0) imp = NAN;
    const int64_t o = image_offset + static_cast<int64_t>(y) * a.W + x;
    impurity[o] = imp;
    uncertainty[o] = unc;
    score[o] = (labeled && labeled[o]) ? -INFINITY : imp * unc;
  }
}

}  // namespace dwaca
