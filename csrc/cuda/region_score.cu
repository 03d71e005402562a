// CUDA region_score. Logits of at most 64 classes and fewer than 2^31 values per image go to the tiled kernel
// (csrc/cuda/region_score_tiled.cu); others to the general kernel here: a block owns a 32 x TH tile of output
// pixels; it computes class and weighted entropy for the tile plus its k-pixel halo into shared memory
// (interpolating the logits on the fly, three passes over C through a per-thread shared-memory column), then every
// thread reduces the windows of its two output pixels with a histogram in that column. Neither kernel allocates
// anything but the three outputs.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>
#include <torch/types.h>

#include <limits>

#include "checks.h"
#include "cuda/region_score_tiled.h"
#include "region_math.h"
#include "region_score_tile.h"

namespace dwaca {
namespace {

constexpr int kTileW = 32;

struct Params {
  int C, h, w, H, W, k, tile_h;
  bool resample;
  float scale_y, scale_x, inv_log_c;
  double sigma;
};

// Shared memory layout: scratch[C][T] (logits, then exp, then the window histogram, one column per thread),
// gw[(2k+1)^2], cls[halo], we[halo].
template <typename scalar_t>
__global__ void region_score_kernel(const scalar_t* __restrict__ logits, const float* __restrict__ cw,
                                    const bool* __restrict__ labeled,
                                    float* __restrict__ score, float* __restrict__ impurity,
                                    float* __restrict__ uncertainty, Params P) {
  extern __shared__ float smem[];
  const int T = blockDim.x, tid = threadIdx.x;
  const int k = P.k, side = 2 * k + 1;
  const int halo_w = kTileW + 2 * k, halo_h = P.tile_h + 2 * k, halo_n = halo_w * halo_h;
  float* scratch = smem;
  float* gw = scratch + P.C * T;
  int* s_cls = reinterpret_cast<int*>(gw + side * side);
  float* s_we = reinterpret_cast<float*>(s_cls + halo_n);

  const int b = blockIdx.z;
  const int tx0 = blockIdx.x * kTileW, ty0 = blockIdx.y * P.tile_h;
  const int64_t plane = static_cast<int64_t>(P.h) * P.w;
  const scalar_t* img = logits + static_cast<int64_t>(b) * P.C * plane;
  for (int i = tid; i < side * side; i += T) gw[i] = window_weight(i / side - k, i % side - k, P.sigma);

  // NaN/inf scan of the input rectangle this block owns (see owned_input), reported as a NaN impurity.
  const bool bad = __syncthreads_or(owned_input_nonfinite(img, P.C, P.h, P.w, P.H, P.W, ty0, min(ty0 + P.tile_h, P.H),
                                                         tx0, min(tx0 + kTileW, P.W), tid, T));

  float* col = scratch + tid;  // this thread's column: col[c * T]
  for (int p = tid; p < halo_n; p += T) {
    const int gy = ty0 - k + p / halo_w, gx = tx0 - k + p % halo_w;
    if (gy < 0 || gy >= P.H || gx < 0 || gx >= P.W) {
      s_cls[p] = -1;
      continue;
    }
    Lerp ly{gy, gy, 1.f, 0.f}, lx{gx, gx, 1.f, 0.f};
    if (P.resample) {
      ly = lerp_at(gy, P.scale_y, P.h);
      lx = lerp_at(gx, P.scale_x, P.w);
    }
    const int64_t o00 = static_cast<int64_t>(ly.i0) * P.w + lx.i0, o01 = static_cast<int64_t>(ly.i0) * P.w + lx.i1;
    const int64_t o10 = static_cast<int64_t>(ly.i1) * P.w + lx.i0, o11 = static_cast<int64_t>(ly.i1) * P.w + lx.i1;
    float mx = -INFINITY;
    int arg = 0;
    for (int c = 0; c < P.C; ++c) {
      const scalar_t* pc = img + c * plane;
      const float v = P.resample ? bilerp(load_float(pc + o00), load_float(pc + o01), load_float(pc + o10),
                                          load_float(pc + o11), ly, lx)
                                 : load_float(pc + o00);
      col[c * T] = v;
      if (v > mx || c == 0) {  // strict: ties keep the first class, like torch.argmax
        mx = v;
        arg = c;
      }
    }
    float sum = 0.f;
    for (int c = 0; c < P.C; ++c) {
      const float e = exp_ftz(col[c * T] - mx);
      col[c * T] = e;
      sum += e;
    }
    const float inv_sum = 1.f / sum;
    float ent = 0.f;
    for (int c = 0; c < P.C; ++c) ent += entropy_term(col[c * T] * inv_sum);
    s_cls[p] = arg;
    s_we[p] = (cw ? cw[arg] : 1.f) * (ent * P.inv_log_c);
  }
  for (int c = 0; c < P.C; ++c) col[c * T] = 0.f;  // becomes this thread's window histogram
  __syncthreads();

  auto cls_at = [&](int yy, int xx) { return s_cls[(yy - ty0 + k) * halo_w + (xx - tx0 + k)]; };
  auto we_at = [&](int yy, int xx) { return s_we[(yy - ty0 + k) * halo_w + (xx - tx0 + k)]; };
  auto hist_at = [&](int c) -> float& { return col[c * T]; };
  const int x = tx0 + tid % kTileW;
  for (int ry = tid / kTileW; ry < P.tile_h; ry += T / kTileW) {
    const int y = ty0 + ry;
    if (y >= P.H || x >= P.W) continue;
    float imp, unc;
    window_stats(y, x, P.H, P.W, k, gw, cls_at, we_at, hist_at, P.inv_log_c, &imp, &unc);
    const int64_t o = (static_cast<int64_t>(b) * P.H + y) * P.W + x;
    if (bad && ry == 0 && tid == 0) imp = NAN;
    impurity[o] = imp;
    uncertainty[o] = unc;
    score[o] = (labeled && labeled[o]) ? -INFINITY : imp * unc;
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_cuda(const at::Tensor& logits,
                                                                  const std::optional<at::Tensor>& class_weights,
                                                                  const std::optional<at::Tensor>& labeled,
                                                                  int64_t radius, double sigma, int64_t out_h,
                                                                  int64_t out_w) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const RegionScoreCall call = prepare_region_score(logits, class_weights, labeled, radius, sigma, out_h, out_w);
  if (tiled_kernel_fits(logits.sizes()))
    return region_score_tiled_cuda(call, radius, sigma, out_h, out_w, /*row_reuse=*/true);
  const int64_t B = logits.size(0);
  if (B == 0) return call.outputs();

  Params P;
  P.C = static_cast<int>(logits.size(1));
  P.h = static_cast<int>(logits.size(2));
  P.w = static_cast<int>(logits.size(3));
  P.H = static_cast<int>(out_h);
  P.W = static_cast<int>(out_w);
  P.k = static_cast<int>(radius);
  P.resample = P.h != P.H || P.w != P.W;
  P.scale_y = align_corners_scale(P.h, P.H);
  P.scale_x = align_corners_scale(P.w, P.W);
  P.inv_log_c = static_cast<float>(1.0 / std::log(static_cast<double>(P.C)));
  P.sigma = sigma;

  // Fewer threads (a shorter tile) for many classes, so the per-thread histograms fit in shared memory.
  int threads = P.C <= 64 ? 256 : (P.C <= 128 ? 128 : 64);
  P.tile_h = 2 * threads / kTileW;
  const int side = 2 * P.k + 1;
  const size_t halo = static_cast<size_t>(kTileW + 2 * P.k) * (P.tile_h + 2 * P.k);
  const size_t smem = sizeof(float) * (static_cast<size_t>(P.C) * threads + side * side + 2 * halo);
  const dim3 grid = region_score_grid(B, P.H, P.W, kTileW, P.tile_h, smem, P.C, radius);
  auto stream = c10::cuda::getCurrentCUDAStream();
  DWACA_DISPATCH_LOGITS(logits.scalar_type(), "region_score_cuda", [&] {
    auto kernel = region_score_kernel<scalar_t>;
    C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    kernel<<<grid, threads, smem, stream>>>(call.logits.data_ptr<scalar_t>(), call.class_weights_ptr(),
                                            call.labeled_ptr(), call.score.data_ptr<float>(),
                                            call.impurity.data_ptr<float>(), call.uncertainty.data_ptr<float>(), P);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return call.outputs();
}

TORCH_LIBRARY_IMPL(dwaca, CUDA, m) { m.impl("region_score", &region_score_cuda); }

}  // namespace dwaca
