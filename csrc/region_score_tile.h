// Block code of the register-tiled region scoring kernel (region_score's CUDA kernel up to 64 classes,
// csrc/cuda/region_score_tiled.cu).
// Written once for both sides: the GPU runs it as a CUDA block, and csrc/cpu/region_score_tiled_emulated.cpp runs
// the same functions serially, thread by thread and phase by phase, so CI checks the kernel's logic without a GPU.
//
// A block owns a tile_w x tile_h tile of output pixels and works in two phases separated by one barrier:
//   1. pixel phase: the threads take the tile plus its k-pixel halo; for each pixel they interpolate all C logits
//      into registers (CMAX >= C, unrolled, so no shared-memory passes over C), and store its class and weighted
//      entropy in shared memory. At 16 and 19 classes, when resampling, each thread walks a column strip of seg_h
//      pixels and keeps the two input rows' horizontal interpolations in registers: consecutive output rows mostly
//      share them, which saves most of the loads and half the interpolation arithmetic (same floats);
//   2. window phase: every thread takes output pixels and reduces their windows from shared memory. The class
//      histogram is never materialised: a 64-bit mask of the classes already met finds each class's first cell,
//      and its share is summed from there on, in the same order as window_stats, so the result is the same float;
//      the flat 3x3 window counts its classes in bit planes instead (tile_window_flat3x3).
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
  int segments, seg_h;  // the halo's rows in `segments` strips of seg_h rows: kTileThreads = halo_w * segments
  int plane;            // h * w; offsets within an image are 32-bit (C * h * w < 2^31)
  bool flat;            // sigma = 0: every window weight is 1
  bool resample;        // out_size differs from the logits' size
  bool row_reuse;       // asked for and resampling: the pixel phase walks column strips at 16 and 19 classes
  bool scan_input;      // some logits are never interpolated from (downsampling): scan the owned input for NaN/inf
  float scale_y, scale_x, inv_log_c;
  float entropy_scale;  // -ln 2 / ln C: turns sum p log2(p + eps) into the normalised entropy
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

// The halo is 32, 64 or 128 pixels wide (tile plus 2k), so that a warp's lanes take consecutive columns of one row
// in the pixel phase, and kTileThreads / halo_w strips of seg_h >= 8 rows tall, at least max(16, 2k) + 2k rows, so the
// halo overhead stays small: (30+2) x (62+2) for k = 1. `logits_sizes`: (B, C, h, w), checked by
// prepare_region_score. `row_reuse`: walk column strips where the kernel can (see TileArgs).
inline TileArgs make_tile_args(c10::IntArrayRef logits_sizes, int64_t out_h, int64_t out_w, int64_t radius,
                               double sigma, bool row_reuse) {
  const int64_t C = logits_sizes[1], h = logits_sizes[2], w = logits_sizes[3];
  TORCH_CHECK(tiled_kernel_fits(logits_sizes), "the tiled region_score kernel takes at most ", kTileMaxClasses,
              " classes and fewer than 2^31 logits per image, got ", C, "x", h, "x", w);
  TileArgs a;
  a.C = static_cast<int>(C), a.h = static_cast<int>(h), a.w = static_cast<int>(w);
  a.H = static_cast<int>(out_h), a.W = static_cast<int>(out_w), a.k = static_cast<int>(radius);
  const int k = a.k;
  a.halo_w = k <= 4 ? 32 : (k <= 8 ? 64 : 128);  // the tile at least 3/4, 3/4 or 1/2 of it (k <= kMaxRadius = 32)
  a.tile_w = a.halo_w - 2 * k;
  a.segments = kTileThreads / a.halo_w;
  const int min_rows = 2 * k + (2 * k > 16 ? 2 * k : 16);
  a.seg_h = (min_rows + a.segments - 1) / a.segments;
  if (a.seg_h < 8) a.seg_h = 8;
  a.halo_h = a.segments * a.seg_h;
  a.tile_h = a.halo_h - 2 * k;
  a.plane = static_cast<int>(h * w);
  a.flat = sigma <= 0;
  a.resample = a.h != a.H || a.w != a.W;
  a.row_reuse = row_reuse && a.resample;
  a.scan_input = !(lerp_covers_input(a.h, a.H) && lerp_covers_input(a.w, a.W));
  a.scale_y = align_corners_scale(a.h, a.H);
  a.scale_x = align_corners_scale(a.w, a.W);
  const double log_c = std::log(static_cast<double>(C));
  a.inv_log_c = static_cast<float>(1.0 / log_c);
  a.entropy_scale = static_cast<float>(-std::log(2.0) / log_c);
  return a;
}

// Shared memory of a block, in bytes: window weights g[(2k+1)^2], the flat 3x3 window's share entropies, the halo's
// weighted entropies, then its classes as bytes (C <= kTileMaxClasses), which keeps k = 32 under 99 KiB.
constexpr int kShareEntropies = 100;
inline size_t tile_smem_bytes(const TileArgs& a) {
  const size_t side = 2 * a.k + 1, halo_n = static_cast<size_t>(a.halo_w) * a.halo_h;
  return sizeof(float) * (side * side + kShareEntropies + halo_n) + sizeof(uint8_t) * halo_n;
}

// entropy_term(count / n) at [n * 10 + count] for 1 <= count <= n <= 9, else 0 (the flat 3x3 window reads counts
// up to 9 for any n, with no class at those above n): the shares of the flat 3x3 window of n in-image cells, so its
// window phase needs no division or log per class. Thread `tid` of `nthreads` fills its part.
DW_HD void fill_share_entropies(float* t, int tid, int nthreads) {
  for (int i = tid; i < kShareEntropies; i += nthreads) {
    const int n = i / 10, count = i % 10;
    t[i] = count >= 1 && count <= n ? entropy_term(static_cast<float>(count) / static_cast<float>(n)) : 0.f;
  }
}

// A register capacity of CMAX classes; EXACT when C == CMAX, so the per-class loops carry no test of c < C and
// the compiler can put more of the pixel's loads in flight.
template <int CMAX_, bool EXACT_>
struct ClassCapacity {
  static constexpr int CMAX = CMAX_;
  static constexpr bool EXACT = EXACT_;
};

// Calls f(ClassCapacity<...>{}, std::bool_constant<row reuse>{}) with the smallest capacity of 16, 19, 32 and 64
// that holds a.C (<= kTileMaxClasses), exact for SYNTHIA's 16 and Cityscapes' 19 classes. Only those two exact
// capacities walk column strips: their three register arrays (top, bottom and the pixel's logits) fit 80 registers,
// where the c < C tests of the others spill.
template <typename F>
void dispatch_tile_code(const TileArgs& a, F&& f) {
  auto with_reuse = [&](auto capacity) {
    if constexpr (decltype(capacity)::EXACT)
      if (a.row_reuse) return f(capacity, std::true_type{});
    return f(capacity, std::false_type{});
  };
  const int C = a.C;
  if (C < 16) return with_reuse(ClassCapacity<16, false>{});
  if (C == 16) return with_reuse(ClassCapacity<16, true>{});
  if (C < 19) return with_reuse(ClassCapacity<19, false>{});
  if (C == 19) return with_reuse(ClassCapacity<19, true>{});
  if (C <= 32) return with_reuse(ClassCapacity<32, false>{});
  return with_reuse(ClassCapacity<64, false>{});
}

// Class and weighted entropy of one pixel from its interpolated logits v (overwritten); returns whether they hold a
// NaN or an inf. Strict '>' keeps the first of tied classes, like torch.argmax. A NaN at class 0 makes mx NaN;
// elsewhere it makes the entropy NaN; -inf shows in mn, +inf in mx: all are caught without a separate pass.
template <class Capacity>
DW_HD bool pixel_stats(const TileArgs& a, float (&v)[Capacity::CMAX], const float* __restrict__ cw, uint8_t* cls,
                       float* we) {
  constexpr int CMAX = Capacity::CMAX;
  const int C = Capacity::EXACT ? CMAX : a.C;
  float mx = v[0], mn = v[0];
  int arg = 0;
DW_UNROLL
  for (int c = 1; c < CMAX; ++c) {
    if (c < C) {
      if (v[c] > mx) {
        mx = v[c];
        arg = c;
      }
      mn = fminf(mn, v[c]);  // one instruction; a NaN it skips is caught by the entropy
    }
  }
  float sum = 0.f;
DW_UNROLL
  for (int c = 0; c < CMAX; ++c) {
    if (c < C) {
      v[c] = exp_ftz(v[c] - mx);
      sum += v[c];
    }
  }
  // With p = v / sum: sum_c p log2(p + eps) = (sum_c v log2(v + eps * sum)) / sum - log2(sum), which spends an add,
  // a log and a multiply-add per class, and one multiply by entropy_scale instead of one by ln 2 per class.
  const float eps_sum = kEps * sum;
  float vlogv = 0.f;
DW_UNROLL
  for (int c = 0; c < CMAX; ++c)
    if (c < C) vlogv += v[c] * log2_ftz(v[c] + eps_sum);
  const float ent = (vlogv / sum - log2_ftz(sum)) * a.entropy_scale;
  *cls = static_cast<uint8_t>(arg);
  *we = (cw ? cw[arg] : 1.f) * ent;
  return !(mx <= FLT_MAX && mn >= -FLT_MAX && ent == ent);
}

// The pixel phase one halo pixel at a time (other than 16 or 19 classes, or without resampling).
template <typename scalar_t, class Capacity>
DW_HD bool tile_pixels(const TileArgs& a, const scalar_t* __restrict__ img, const float* __restrict__ cw, int tx0,
                       int ty0, int tid, int nthreads, uint8_t* __restrict__ s_cls, float* __restrict__ s_we) {
  constexpr int CMAX = Capacity::CMAX;
  const int C = Capacity::EXACT ? CMAX : a.C;
  bool bad = false;
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
    bad |= pixel_stats<Capacity>(a, v, cw, s_cls + p, s_we + p);
  }
  return bad;
}

// Input row `row` interpolated between columns lx.i0 and lx.i1 for every class: bilerp's first step.
template <typename scalar_t, class Capacity>
DW_HD void lerp_input_row(const TileArgs& a, const scalar_t* __restrict__ img, int row, const Lerp& lx,
                          float (&out)[Capacity::CMAX]) {
  constexpr int CMAX = Capacity::CMAX;
  const int C = Capacity::EXACT ? CMAX : a.C;
  const int o0 = row * a.w + lx.i0, o1 = row * a.w + lx.i1;
DW_UNROLL
  for (int c = 0; c < CMAX; ++c) {
    if (c < C) {
      const int pc = c * a.plane;
      out[c] = lerp1(load_float(img + (pc + o0)), load_float(img + (pc + o1)), lx);
    }
  }
}

// The pixel phase in column strips (a.row_reuse): thread `tid` walks down seg_h rows of one halo column and keeps
// the interpolated input rows above and below in registers, recomputing one only when the output row moves past
// it. A warp's lanes share their rows, so these branches do not diverge.
template <typename scalar_t, class Capacity>
DW_HD bool tile_pixel_strips(const TileArgs& a, const scalar_t* __restrict__ img, const float* __restrict__ cw,
                             int tx0, int ty0, int tid, int nthreads, uint8_t* __restrict__ s_cls,
                             float* __restrict__ s_we) {
  constexpr int CMAX = Capacity::CMAX;
  const int C = Capacity::EXACT ? CMAX : a.C;
  bool bad = false;
  for (int item = tid; item < a.halo_w * a.segments; item += nthreads) {
    const int hx = item % a.halo_w, r0 = item / a.halo_w * a.seg_h;
    const int gx = tx0 - a.k + hx;
    if (gx < 0 || gx >= a.W) continue;
    const Lerp lx = lerp_at(gx, a.scale_x, a.w);
    float top[CMAX] = {}, bot[CMAX] = {};  // input rows top_row and bot_row, interpolated at lx
    int top_row = -1, bot_row = -1;
    for (int r = r0; r < r0 + a.seg_h; ++r) {
      const int gy = ty0 - a.k + r;
      if (gy < 0 || gy >= a.H) continue;
      const Lerp ly = lerp_at(gy, a.scale_y, a.h);
      if (ly.i0 != top_row) {
        if (ly.i0 == bot_row) {
DW_UNROLL
          for (int c = 0; c < CMAX; ++c) top[c] = bot[c];
        } else {
          lerp_input_row<scalar_t, Capacity>(a, img, ly.i0, lx, top);
        }
        top_row = ly.i0;
      }
      if (ly.i1 != bot_row) {
        lerp_input_row<scalar_t, Capacity>(a, img, ly.i1, lx, bot);
        bot_row = ly.i1;
      }
      float v[CMAX] = {};
DW_UNROLL
      for (int c = 0; c < CMAX; ++c)
        if (c < C) v[c] = lerp1(top[c], bot[c], ly);
      const int p = r * a.halo_w + hx;
      bad |= pixel_stats<Capacity>(a, v, cw, s_cls + p, s_we + p);
    }
  }
  return bad;
}

// Phase 1 for thread `tid` of `nthreads`: class (s_cls) and weighted entropy (s_we) of its halo pixels; returns
// whether it met a NaN or inf logit. `img` is this image's (C, h, w) logits, (tx0, ty0) the tile's origin.
template <typename scalar_t, class Capacity, bool kRowReuse>
DW_HD bool tile_pixel_phase(const TileArgs& a, const scalar_t* __restrict__ img, const float* __restrict__ cw, int tx0,
                            int ty0, int tid, int nthreads, uint8_t* __restrict__ s_cls, float* __restrict__ s_we) {
  // this tile's share of the input, which covers logits no output pixel reads
  const bool bad = a.scan_input && owned_input_nonfinite(img, a.C, a.h, a.w, a.H, a.W, ty0,
                                                         ty0 + a.tile_h < a.H ? ty0 + a.tile_h : a.H, tx0,
                                                         tx0 + a.tile_w < a.W ? tx0 + a.tile_w : a.W, tid, nthreads);
  if constexpr (kRowReuse)
    return tile_pixel_strips<scalar_t, Capacity>(a, img, cw, tx0, ty0, tid, nthreads, s_cls, s_we) || bad;
  else
    return tile_pixels<scalar_t, Capacity>(a, img, cw, tx0, ty0, tid, nthreads, s_cls, s_we) || bad;
}

// Impurity (before the 1 / log C factor) and uncertainty of any window, from the halo's classes and weighted
// entropies: the first cell of each class is found with a 64-bit mask of the classes met, and its share is summed
// from there on, in the same order as window_stats, so the result is the same float.
DW_HD void tile_window_any(const TileArgs& a, const float* __restrict__ g, const uint8_t* __restrict__ s_cls,
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

// The same for the flat 3x3 window (k = 1, sigma = 0: RIPU's and DWACA's default), without a pass per class: each
// cell is a one-hot mask of its class, and carry-save adders sum the 9 masks bitwise into four bit planes, so bit c of
// (b3 b2 b1 b0) is class c's count. The impurity is then, for each count v, (number of classes counted v) times the
// entropy of the share v / n: a fixed ~30 logic operations and 9 popcounts whatever the window holds, where
// pairwise class comparisons took 36 compares and grew with the classes present. Its float is tile_window_any's up to
// the order of the additions (a few ulp). Cells outside the image are left out. Mask: 32 bits up to 32 classes,
// else 64. `share_entropies`: fill_share_entropies' table.
template <typename Mask>
DW_HD void tile_window_flat3x3(const TileArgs& a, const float* __restrict__ share_entropies,
                               const uint8_t* __restrict__ s_cls, const float* __restrict__ s_we, int tx0, int ty0,
                               int y, int x, float* imp_out, float* unc_out) {
  const int centre = (y - ty0 + 1) * a.halo_w + (x - tx0 + 1);
  const bool row_in[3] = {y > 0, true, y + 1 < a.H}, col_in[3] = {x > 0, true, x + 1 < a.W};
  Mask m[9];
  int n = 0;
  float swe = 0.f;
DW_UNROLL
  for (int i = 0; i < 9; ++i) {
    const bool in = row_in[i / 3] && col_in[i % 3];
    const int o = centre + (i / 3 - 1) * a.halo_w + (i % 3 - 1);
    m[i] = in ? Mask{1} << s_cls[o] : Mask{0};
    if (in) {
      ++n;
      swe += s_we[o];
    }
  }
  // full adder of three masks: bitwise sum and carry
  auto add3 = [](Mask p, Mask q, Mask r, Mask& sum, Mask& carry) {
    sum = p ^ q ^ r;
    carry = (p & q) | (r & (p ^ q));
  };
  Mask s0, s1, s2, c0, c1, c2, b0, c3, t, c4;
  add3(m[0], m[1], m[2], s0, c0);
  add3(m[3], m[4], m[5], s1, c1);
  add3(m[6], m[7], m[8], s2, c2);
  add3(s0, s1, s2, b0, c3);  // ones
  add3(c0, c1, c2, t, c4);   // twos, plus c3 below
  const Mask b1 = t ^ c3, c5 = t & c3;
  const Mask b2 = c4 ^ c5, b3 = c4 & c5;
  const float* shares = share_entropies + n * 10;
  float imp = 0.f;
DW_UNROLL
  for (int v = 1; v <= 9; ++v) {
    const Mask counted_v = (v & 1 ? b0 : ~b0) & (v & 2 ? b1 : ~b1) & (v & 4 ? b2 : ~b2) & (v & 8 ? b3 : ~b3);
    imp += static_cast<float>(popcount(counted_v)) * shares[v];
  }
  *imp_out = imp;
  *unc_out = swe / static_cast<float>(n);
}

// Phase 2 for thread `tid` of `nthreads`: impurity, uncertainty and score of its output pixels of the tile.
// `g` holds the (2k+1)^2 window weights and `share_entropies` fill_share_entropies' table; `bad` (any thread's
// phase-1 result) marks the tile's first pixel NaN. Capacity: the pixel phase's (C <= CMAX), which sizes the flat
// window's class masks.
template <class Capacity>
DW_HD void tile_window_phase(const TileArgs& a, const float* __restrict__ g, const float* __restrict__ share_entropies,
                             const uint8_t* __restrict__ s_cls, const float* __restrict__ s_we,
                             const bool* __restrict__ labeled, int64_t image_offset, int tx0, int ty0, int tid,
                             int nthreads, bool bad, float* __restrict__ score, float* __restrict__ impurity,
                             float* __restrict__ uncertainty) {
  using FlatMask = std::conditional_t<Capacity::CMAX <= 32, uint32_t, uint64_t>;
  // tile pixel q = row * tile_w + col, stepped by nthreads without a division per pixel
  const int step_row = nthreads / a.tile_w, step_col = nthreads % a.tile_w;
  for (int q = tid, row = tid / a.tile_w, col = tid % a.tile_w; q < a.tile_w * a.tile_h;
       q += nthreads, row += step_row, col += step_col) {
    if (col >= a.tile_w) {
      col -= a.tile_w;
      ++row;
    }
    const int y = ty0 + row, x = tx0 + col;
    if (y >= a.H || x >= a.W) continue;
    float imp, unc;
    if (a.flat && a.k == 1)
      tile_window_flat3x3<FlatMask>(a, share_entropies, s_cls, s_we, tx0, ty0, y, x, &imp, &unc);
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
