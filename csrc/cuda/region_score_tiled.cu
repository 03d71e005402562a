// region_score's CUDA kernel up to 64 classes: the register-tiled block code of csrc/region_tile.h, one block per
// output tile. csrc/cuda/region_score.cu sends other logits to the general kernel.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/types.h>

#include "checks.h"
#include "cuda/region_score_tiled.h"
#include "region_tile.h"

namespace dwaca {
namespace {

// Shared memory: g[(2k+1)^2], s_we[halo], s_cls[halo].
// Up to 19 classes the logits fit 64 registers per thread (4 blocks per SM); 32 or 64 classes need more.
template <typename scalar_t, class Capacity>
__global__ void __launch_bounds__(kTileThreads, Capacity::CMAX <= 19 ? 4 : 2)
    region_score_tiled_kernel(const scalar_t* __restrict__ logits, const float* __restrict__ cw,
                              const bool* __restrict__ labeled, float* __restrict__ score,
                              float* __restrict__ impurity, float* __restrict__ uncertainty, TileArgs a, double sigma) {
  extern __shared__ float smem[];
  const int side = 2 * a.k + 1, halo_n = a.halo_w * a.halo_h;
  float* g = smem;
  float* s_we = g + side * side;
  int* s_cls = reinterpret_cast<int*>(s_we + halo_n);
  const int tid = threadIdx.x, b = blockIdx.z;
  const int tx0 = blockIdx.x * a.tile_w, ty0 = blockIdx.y * a.tile_h;
  for (int i = tid; i < side * side; i += kTileThreads) g[i] = window_weight(i / side - a.k, i % side - a.k, sigma);
  const scalar_t* img = logits + static_cast<int64_t>(b) * a.C * a.plane;
  asm("" : "+l"(img));  // one image pointer: else every load re-adds the image's 64-bit offset to the logits' base
  const bool bad = tile_pixel_phase<scalar_t, Capacity>(a, img, cw, tx0, ty0, tid, kTileThreads, s_cls, s_we);
  const bool any_bad = __syncthreads_or(bad);
  tile_window_phase(a, g, s_cls, s_we, labeled, static_cast<int64_t>(b) * a.H * a.W, tx0, ty0, tid, kTileThreads,
                    any_bad, score, impurity, uncertainty);
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_tiled_cuda(const RegionScoreCall& call, int64_t radius,
                                                                        double sigma, int64_t out_h, int64_t out_w) {
  const TileArgs a = make_tile_args(call.logits.sizes(), out_h, out_w, radius, sigma);
  const int64_t B = call.logits.size(0);
  if (B == 0) return call.outputs();
  TORCH_CHECK(B <= 65535, "region_score on CUDA takes at most 65535 images per call, got ", B);
  const int side = 2 * a.k + 1;
  const size_t smem = sizeof(float) * (side * side + 2 * static_cast<size_t>(a.halo_w) * a.halo_h);
  const dim3 grid((a.W + a.tile_w - 1) / a.tile_w, (a.H + a.tile_h - 1) / a.tile_h, static_cast<unsigned>(B));
  TORCH_CHECK(grid.y <= 65535, "region_score on CUDA: out_size height too large (", a.H, ")");
  auto stream = c10::cuda::getCurrentCUDAStream();
  DWACA_DISPATCH_LOGITS(call.logits.scalar_type(), "region_score_tiled_cuda", [&] {
    dispatch_class_capacity(a.C, [&](auto capacity) {
      auto kernel = region_score_tiled_kernel<scalar_t, decltype(capacity)>;
      C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
      kernel<<<grid, kTileThreads, smem, stream>>>(
          call.logits.data_ptr<scalar_t>(), call.class_weights_ptr(), call.labeled_ptr(), call.score.data_ptr<float>(),
          call.impurity.data_ptr<float>(), call.uncertainty.data_ptr<float>(), a, sigma);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return call.outputs();
}

}  // namespace dwaca
