// CPU region_score: one fused pass per band of output rows. Each band computes the per-pixel class and weighted
// entropy for its rows plus a k-row halo into small thread-local buffers, then the window statistics; the
// upsampled C x H x W logits are never materialised.
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "checks.h"
#include "region_math.h"
#include "region_score_entropy.h"
#include "vec_math.h"

namespace dwaca {
namespace {

constexpr int kBandRows = 16;

struct Geometry {
  int C, h, w, H, W, k;
  bool resample;
  float inv_log_c;
  std::vector<Lerp> lx;  // per output column
};

// Interpolated logits of output row y into v (C x W), then its classes and weighted entropies.
template <typename scalar_t>
void pixel_row(const scalar_t* img, const Geometry& G, const float* cw, int y, float* v, float* mx, float* sum,
               float* ent, int* cls, float* we) {
  const int W = G.W;
  const int64_t plane = static_cast<int64_t>(G.h) * G.w;
  const Lerp ly = G.resample ? lerp_at(y, align_corners_scale(G.h, G.H), G.h) : Lerp{y, y, 1.f, 0.f};
  for (int c = 0; c < G.C; ++c) {
    const scalar_t* r0 = img + c * plane + static_cast<int64_t>(ly.i0) * G.w;
    const scalar_t* r1 = img + c * plane + static_cast<int64_t>(ly.i1) * G.w;
    float* vc = v + static_cast<int64_t>(c) * W;
    if (G.resample) {
      for (int x = 0; x < W; ++x) {
        const Lerp& l = G.lx[x];
        vc[x] = bilerp(static_cast<float>(r0[l.i0]), static_cast<float>(r0[l.i1]), static_cast<float>(r1[l.i0]),
                       static_cast<float>(r1[l.i1]), ly, l);
      }
    } else {
      for (int x = 0; x < W; ++x) vc[x] = static_cast<float>(r0[x]);
    }
  }
  entropy_row(v, G.C, W, cw, G.inv_log_c, mx, sum, ent, cls, we);
}

// The flat (sigma = 0) window has integer class counts, so every class share is a table lookup:
// share[n][h] = -(h/n) log(h/n + eps) / h, summed once per window cell, adds up to the class's term without a
// log or a data-dependent branch per pixel.
class FlatShares {
 public:
  explicit FlatShares(int k) : cells_((2 * k + 1) * (2 * k + 1)), table_(static_cast<size_t>(cells_ + 1) * (cells_ + 1), 0.f) {
    for (int n = 1; n <= cells_; ++n)
      for (int h = 1; h <= n; ++h)
        table_[static_cast<size_t>(n) * (cells_ + 1) + h] =
            entropy_term(static_cast<float>(h) / static_cast<float>(n)) / static_cast<float>(h);
  }
  const float* row(int n) const { return table_.data() + static_cast<size_t>(n) * (cells_ + 1); }

 private:
  int cells_;
  std::vector<float> table_;
};

template <typename ClsAt, typename WeAt>
inline void flat_window_stats(int y, int x, int H, int W, int k, const FlatShares& shares, const ClsAt& cls,
                              const WeAt& we, int* hist, float inv_log_c, float* impurity, float* uncertainty) {
  const int ya = window_lo(y, k), yb = window_hi(y, k, H);
  const int xa = window_lo(x, k), xb = window_hi(x, k, W);
  const int n = (yb - ya + 1) * (xb - xa + 1);
  float swe = 0.f;
  for (int yy = ya; yy <= yb; ++yy)
    for (int xx = xa; xx <= xb; ++xx) {
      swe += we(yy, xx);
      ++hist[cls(yy, xx)];
    }
  const float* share = shares.row(n);
  float imp = 0.f;
  for (int yy = ya; yy <= yb; ++yy)
    for (int xx = xa; xx <= xb; ++xx) imp += share[hist[cls(yy, xx)]];
  for (int yy = ya; yy <= yb; ++yy)
    for (int xx = xa; xx <= xb; ++xx) hist[cls(yy, xx)] = 0;
  *impurity = imp * inv_log_c;
  *uncertainty = swe / static_cast<float>(n);
}

// True if rows [r0, r1) of every class plane hold only finite values. Tests the exponent bits (all ones for inf and
// NaN) with integer operations, which vectorise where float comparisons in a reduction do not.
template <typename scalar_t>
bool all_finite_rows(const scalar_t* img, const Geometry& G, int r0, int r1) {
  const int64_t plane = static_cast<int64_t>(G.h) * G.w;
  const int64_t n = static_cast<int64_t>(r1 - r0) * G.w;
  int32_t bad = 0;
  for (int c = 0; c < G.C; ++c) {
    const scalar_t* p = img + c * plane + static_cast<int64_t>(r0) * G.w;
    for (int64_t i = 0; i < n; ++i) bad |= (float_to_bits(static_cast<float>(p[i])) & 0x7f800000) == 0x7f800000;
  }
  return bad == 0;
}

template <typename scalar_t>
void region_score_impl(const at::Tensor& logits, const float* cw, const bool* labeled, const std::vector<float>& g,
                       const FlatShares* flat, const Geometry& G, const at::Tensor& score, const at::Tensor& impurity,
                       const at::Tensor& uncertainty) {
  const int64_t B = logits.size(0);
  const int H = G.H, W = G.W, k = G.k;
  const int64_t nbands = (int64_t{H} + kBandRows - 1) / kBandRows;  // 64-bit: H + 15 overflows an int near 2^31
  const scalar_t* x = logits.data_ptr<scalar_t>();
  float* s_out = score.data_ptr<float>();
  float* i_out = impurity.data_ptr<float>();
  float* u_out = uncertainty.data_ptr<float>();
  const int64_t in_img = static_cast<int64_t>(G.C) * G.h * G.w;
  const int64_t out_img = static_cast<int64_t>(H) * W;

  at::parallel_for(0, B * nbands, 1, [&](int64_t begin, int64_t end) {
    const int halo_rows = kBandRows + 2 * k;
    std::vector<float> v(static_cast<size_t>(G.C) * W), mx(W), sum(W), ent(W), hist(G.C, 0.f);
    std::vector<int> counts(G.C, 0);
    std::vector<int> cls(static_cast<size_t>(halo_rows) * W);
    std::vector<float> we(static_cast<size_t>(halo_rows) * W);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / nbands;
      const int y0 = static_cast<int>(task % nbands) * kBandRows, y1 = std::min(H, y0 + kBandRows);
      const int hy0 = std::max(0, y0 - k), hy1 = std::min(H, y1 + k);
      const scalar_t* img = x + b * in_img;
      for (int y = hy0; y < hy1; ++y) {
        const int64_t off = static_cast<int64_t>(y - hy0) * W;
        pixel_row(img, G, cw, y, v.data(), mx.data(), sum.data(), ent.data(), cls.data() + off, we.data() + off);
      }
      auto cls_at = [&](int yy, int xx) { return cls[static_cast<size_t>(yy - hy0) * W + xx]; };
      auto we_at = [&](int yy, int xx) { return we[static_cast<size_t>(yy - hy0) * W + xx]; };
      auto hist_at = [&](int c) -> float& { return hist[c]; };
      for (int y = y0; y < y1; ++y) {
        const int64_t row = b * out_img + static_cast<int64_t>(y) * W;
        // Rows and columns whose whole flat k = 1 or 2 window is inside the image take the vectorised path.
        int vx0 = 0, vx1 = 0;
        if (flat && (k == 1 || k == 2) && y - k >= 0 && y + k < H && W > 2 * k) {
          const int* crow[5];
          const float* wrow[5];
          for (int r = 0; r <= 2 * k; ++r) {
            crow[r] = cls.data() + static_cast<size_t>(y - k + r - hy0) * W;
            wrow[r] = we.data() + static_cast<size_t>(y - k + r - hy0) * W;
          }
          vx0 = k;
          vx1 = W - k;
          (k == 1 ? flat_window_row_k1 : flat_window_row_k2)(crow, wrow, vx0, vx1, G.inv_log_c, i_out + row,
                                                             u_out + row);
        }
        for (int xx = 0; xx < W; ++xx) {
          if (xx == vx0 && vx1 > vx0) xx = vx1;
          if (xx >= W) break;
          float imp, unc;
          if (flat)
            flat_window_stats(y, xx, H, W, k, *flat, cls_at, we_at, counts.data(), G.inv_log_c, &imp, &unc);
          else
            window_stats(y, xx, H, W, k, g.data(), cls_at, we_at, hist_at, G.inv_log_c, &imp, &unc);
          i_out[row + xx] = imp;
          u_out[row + xx] = unc;
        }
        for (int xx = 0; xx < W; ++xx)
          s_out[row + xx] = (labeled && labeled[row + xx]) ? -std::numeric_limits<float>::infinity()
                                                           : i_out[row + xx] * u_out[row + xx];
      }
      // NaN/inf anywhere in the logits is reported through a NaN impurity (never NaN otherwise): the Python
      // wrapper turns it into a ValueError.
      if (!all_finite_rows(img, G, owned_input(y0, H, G.h), owned_input(y1, H, G.h)))
        i_out[b * out_img + static_cast<int64_t>(y0) * W] = std::numeric_limits<float>::quiet_NaN();
    }
  });
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_cpu(const at::Tensor& logits,
                                                                 const std::optional<at::Tensor>& class_weights,
                                                                 const std::optional<at::Tensor>& labeled,
                                                                 int64_t radius, double sigma, int64_t out_h,
                                                                 int64_t out_w) {
  const RegionScoreCall call = prepare_region_score(logits, class_weights, labeled, radius, sigma, out_h, out_w);
  if (logits.size(0) == 0) return call.outputs();

  Geometry G;
  G.C = static_cast<int>(logits.size(1));
  G.h = static_cast<int>(logits.size(2));
  G.w = static_cast<int>(logits.size(3));
  G.H = static_cast<int>(out_h);
  G.W = static_cast<int>(out_w);
  G.k = static_cast<int>(radius);
  G.resample = G.h != G.H || G.w != G.W;
  G.inv_log_c = static_cast<float>(1.0 / std::log(static_cast<double>(G.C)));
  if (G.resample) {
    const float sx = align_corners_scale(G.w, G.W);
    G.lx.resize(G.W);
    for (int x = 0; x < G.W; ++x) G.lx[x] = lerp_at(x, sx, G.w);
  }
  const std::vector<float> g = window_weights(radius, sigma);
  std::optional<FlatShares> flat;  // its table has ((2k+1)^2 + 1)^2 entries: small windows only
  if (sigma == 0 && radius <= 4) flat.emplace(static_cast<int>(radius));
  DWACA_DISPATCH_LOGITS(logits.scalar_type(), "region_score_cpu", [&] {
    region_score_impl<scalar_t>(call.logits, call.class_weights_ptr(), call.labeled_ptr(), g, flat ? &*flat : nullptr,
                                G, call.score, call.impurity, call.uncertainty);
  });
  return call.outputs();
}

TORCH_LIBRARY_IMPL(dwaca, CPU, m) { m.impl("region_score", &region_score_cpu); }

}  // namespace dwaca
