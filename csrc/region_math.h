// Per-pixel maths shared by the CPU and CUDA kernels, so both devices compute the same function in the
// same operation order. Semantics are documented in dwaca/ops/__init__.py and mirrored by ops.reference.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

#if defined(__CUDACC__)
#define DW_HD __host__ __device__ __forceinline__
#else
#define DW_HD inline
#endif

// Full unrolling of a loop with a compile-time trip count (register arrays need constant indices).
#if defined(__CUDACC__)
#define DW_UNROLL _Pragma("unroll")
#else
#define DW_UNROLL _Pragma("GCC unroll 64")
#endif

namespace dwaca {

constexpr float kEps = 1e-6f;  // the published log(p + 1e-6)
constexpr int kMaxRadius = 32;  // neighbourhood radius limit (65x65 windows: RIPU's PA setting uses k = 32); checked in Python and C++
constexpr int kMaxClasses = 256;
// Pixels of one image (logits h * w, output and score H * W): the kernels index pixels, rows and columns of an image
// with 32-bit ints and add band, tile, halo and window offsets to them, which stays below 2^31.
constexpr int64_t kMaxImagePixels = int64_t{1} << 30;
// Elements of a tensor an op allocates (an output, a contiguous copy of its input): 64 GiB of float32, more than a
// scoring call's share of any one device. Indexing is 64-bit; the bound only turns a hopeless allocation into an
// error that names the argument.
constexpr int64_t kMaxElements = int64_t{1} << 34;
// select_regions' radius and exclusion_radius: 32-bit in the kernels; any radius >= the image side covers it whole.
constexpr int64_t kMaxSelectRadius = (int64_t{1} << 31) - 1;

// Products and sums that must not be contracted into FMAs: keeps the interpolated logits, and so the argmax,
// bit-identical on CPU, CUDA and ops.reference (the host side is compiled with -ffp-contract=off).
DW_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
DW_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// ln x for entropy_term: __logf on the GPU.
DW_HD float fast_log(float x) {
#if defined(__CUDA_ARCH__)
  return __logf(x);
#else
  return std::log(x);
#endif
}

// e^x (both CUDA kernels' softmax) and log2(x) (the tiled kernel's entropy). On the GPU: the special-function unit's
// ex2 and lg2 with denormals flushed, without the compare and two predicated instructions that __expf and __logf
// spend on them. A flushed exponential is below 2^-126, its entropy term below 1e-36 and its share of a softmax sum
// of at least 1 nothing; the log's argument is >= 1e-6.
DW_HD float exp_ftz(float x) {
#if defined(__CUDA_ARCH__)
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x * 1.4426950408889634f));
  return y;
#else
  return std::exp(x);
#endif
}
DW_HD float log2_ftz(float x) {
#if defined(__CUDA_ARCH__)
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#else
  return std::log2(x);
#endif
}

// Set bits of a 32- or 64-bit mask.
template <typename Mask>
DW_HD int popcount(Mask m) {
  static_assert(std::is_same_v<Mask, uint32_t> || std::is_same_v<Mask, uint64_t>, "a 32- or 64-bit mask");
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(Mask) == 8) return __popcll(m);
  else return __popc(m);
#else
  return __builtin_popcountll(m);
#endif
}

// One axis of bilinear interpolation with align_corners=True, as torch's upsample_bilinear2d computes it.
struct Lerp {
  int i0, i1;
  float l0, l1;
};

DW_HD float align_corners_scale(int in_size, int out_size) {
  return out_size > 1 ? static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1) : 0.f;
}

DW_HD Lerp lerp_at(int dst, float scale, int in_size) {
  const float src = scale * static_cast<float>(dst);
  int i0 = static_cast<int>(src);
  if (i0 > in_size - 1) i0 = in_size - 1;
  Lerp l;
  l.i0 = i0;
  l.i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
  l.l1 = src - static_cast<float>(i0);
  l.l0 = 1.f - l.l1;
  return l;
}

DW_HD float lerp1(float x0, float x1, const Lerp& l) { return add_rn(mul_rn(l.l0, x0), mul_rn(l.l1, x1)); }

// Rows first, then between them, as torch does: the tiled kernel's strips reuse the rows' results (lerp1 on each).
DW_HD float bilerp(float x00, float x01, float x10, float x11, const Lerp& ly, const Lerp& lx) {
  return lerp1(lerp1(x00, x01, lx), lerp1(x10, x11, lx), ly);
}

// Ends of the window [y - rad, y + rad] clipped to [0, size): every scoring and selection window. y + rad is never
// formed: it overflows for selection radii near 2^31 (they are only clamped to the image size).
DW_HD int window_lo(int y, int rad) { return rad < y ? y - rad : 0; }
DW_HD int window_hi(int y, int rad, int size) { return rad < size - 1 - y ? y + rad : size - 1; }

// Weight of the neighbour at offset (dy, dx): the Gaussian context weighting, or 1 for the flat window.
// Computed in double on both devices so CPU and CUDA get the same float. The centre weighs 1 for any sigma: for
// sigma below ~1e-154, 2 sigma^2 is 0 and 0 / 0 would make it NaN.
DW_HD float window_weight(int dy, int dx, double sigma) {
  if (sigma <= 0 || (dy == 0 && dx == 0)) return 1.f;
  return static_cast<float>(exp(-static_cast<double>(dy * dy + dx * dx) / (2.0 * sigma * sigma)));
}

// -p * log(p + eps), one class's share of the prediction entropy or of the region impurity.
DW_HD float entropy_term(float p) { return -p * fast_log(p + kEps); }

// Input rows (or columns) owned by the output rows [y0, y1) when scanning the logits for NaN/inf:
// [owned_input(y0), owned_input(y1)) partitions [0, h) over any partition of [0, H), so every input element is
// checked exactly once whatever the resampling.
DW_HD int owned_input(int64_t y, int64_t H, int64_t h) { return static_cast<int>(y * h / H); }

template <typename scalar_t>
DW_HD float load_float(const scalar_t* p) {
#if defined(__CUDA_ARCH__)
  // through the read-only data cache, also where the compiler cannot tell that p points to global memory
  if constexpr (std::is_same_v<scalar_t, float>) return __ldg(p);
  else if constexpr (std::is_same_v<scalar_t, c10::Half>)
    return __half2float(__ldg(reinterpret_cast<const __half*>(p)));
  else if constexpr (std::is_same_v<scalar_t, c10::BFloat16>)
    return __bfloat162float(__ldg(reinterpret_cast<const __nv_bfloat16*>(p)));
  else
    static_assert(std::is_same_v<scalar_t, float>, "logits are float32, float16 or bfloat16");
#else
  return static_cast<float>(*p);
#endif
}

// Whether the logits (C, h, w) owned by the output rectangle [y0, y1) x [x0, x1) of an H x W output (see
// owned_input) hold a NaN or an inf. Thread `tid` of `nthreads` checks its share; the caller ORs the answers.
template <typename scalar_t>
DW_HD bool owned_input_nonfinite(const scalar_t* img, int C, int h, int w, int H, int W, int y0, int y1, int x0,
                                 int x1, int tid, int nthreads) {
  const int r0 = owned_input(y0, H, h), r1 = owned_input(y1, H, h);
  const int c0 = owned_input(x0, W, w), c1 = owned_input(x1, W, w);
  const int ncols = c1 - c0, n = (r1 - r0) * ncols;
  const int64_t plane = static_cast<int64_t>(h) * w;
  bool bad = false;
  for (int c = 0; c < C; ++c)
    for (int i = tid; i < n; i += nthreads) {
      const float v = load_float(img + c * plane + static_cast<int64_t>(r0 + i / ncols) * w + c0 + i % ncols);
      bad |= !(v - v == 0.f);  // NaN or inf
    }
  return bad;
}

// Neighbourhood statistics of output pixel (y, x) from per-pixel class and weighted entropy.
//   cls(yy, xx) -> int class, we(yy, xx) -> float, for in-image pixels only
//   g: (2k+1)^2 window weights, 1 everywhere for the flat published window
//   hist(c) -> float&: per-class accumulator, all zero on entry and left all zero on exit
// Class shares are summed in the order classes first appear in the window (row-major).
template <typename ClsAt, typename WeAt, typename HistAt>
DW_HD void window_stats(int y, int x, int H, int W, int k, const float* g, const ClsAt& cls, const WeAt& we,
                        HistAt& hist, float inv_log_c, float* impurity, float* uncertainty) {
  const int ya = window_lo(y, k), yb = window_hi(y, k, H);
  const int xa = window_lo(x, k), xb = window_hi(x, k, W);
  const int side = 2 * k + 1;
  float n = 0.f, swe = 0.f;
  for (int yy = ya; yy <= yb; ++yy) {
    const float* grow = g + (yy - y + k) * side + (xa - x + k);
    for (int xx = xa; xx <= xb; ++xx) {
      const float gw = grow[xx - xa];
      n += gw;
      swe += gw * we(yy, xx);
      hist(cls(yy, xx)) += gw;
    }
  }
  float imp = 0.f;
  for (int yy = ya; yy <= yb; ++yy) {
    for (int xx = xa; xx <= xb; ++xx) {
      float& hc = hist(cls(yy, xx));
      if (hc != 0.f) {  // first time this class is met: take its share, then clear it
        imp += entropy_term(hc / n);
        hc = 0.f;
      }
    }
  }
  *impurity = imp * inv_log_c;
  *uncertainty = swe / n;
}

}  // namespace dwaca
