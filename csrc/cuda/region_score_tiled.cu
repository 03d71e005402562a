// region_score's CUDA kernel up to 64 classes: the register-tiled block code of csrc/region_score_tile.h, one block
// per output tile. csrc/cuda/region_score.cu sends other logits to the general kernel. Also the CUDA side of the
// dwaca_testing::region_score_tiled op, which can turn the pixel phase's row reuse off (for tests and the benchmark).
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>
#include <torch/types.h>

#include "checks.h"
#include "cuda/region_score_tiled.h"
#include "region_score_tile.h"

namespace dwaca {
namespace {

// Up to 19 classes one pixel's logits fit 64 registers per thread (4 blocks per SM); the column strips keep two
// more rows of them (80 registers, 3 blocks per SM); 32 or 64 classes need more (2 blocks per SM).
template <class Capacity, bool kRowReuse>
constexpr int tile_blocks_per_sm() {
  return kRowReuse ? 3 : (Capacity::CMAX <= 19 ? 4 : 2);
}

// Shared memory: tile_smem_bytes' layout.
template <typename scalar_t, class Capacity, bool kRowReuse>
__global__ void __launch_bounds__(kTileThreads, (tile_blocks_per_sm<Capacity, kRowReuse>()))
    region_score_tiled_kernel(const scalar_t* __restrict__ logits, const float* __restrict__ cw,
                              const bool* __restrict__ labeled, float* __restrict__ score,
                              float* __restrict__ impurity, float* __restrict__ uncertainty, TileArgs a, double sigma) {
  extern __shared__ float smem[];
  const int side = 2 * a.k + 1, halo_n = a.halo_w * a.halo_h;
  float* g = smem;
  float* share_entropies = g + side * side;
  float* s_we = share_entropies + kShareEntropies;
  uint8_t* s_cls = reinterpret_cast<uint8_t*>(s_we + halo_n);
  const int tid = threadIdx.x, b = blockIdx.z;
  const int tx0 = blockIdx.x * a.tile_w, ty0 = blockIdx.y * a.tile_h;
  for (int i = tid; i < side * side; i += kTileThreads) g[i] = window_weight(i / side - a.k, i % side - a.k, sigma);
  fill_share_entropies(share_entropies, tid, kTileThreads);
  const scalar_t* img = logits + static_cast<int64_t>(b) * a.C * a.plane;
  asm("" : "+l"(img));  // one image pointer: else every load re-adds the image's 64-bit offset to the logits' base
  const bool bad =
      tile_pixel_phase<scalar_t, Capacity, kRowReuse>(a, img, cw, tx0, ty0, tid, kTileThreads, s_cls, s_we);
  const bool any_bad = __syncthreads_or(bad);
  tile_window_phase<Capacity>(a, g, share_entropies, s_cls, s_we, labeled, static_cast<int64_t>(b) * a.H * a.W, tx0,
                              ty0, tid, kTileThreads, any_bad, score, impurity, uncertainty);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_tiled_op(
    const at::Tensor& logits, const std::optional<at::Tensor>& class_weights, const std::optional<at::Tensor>& labeled,
    int64_t radius, double sigma, int64_t out_h, int64_t out_w, bool row_reuse) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const RegionScoreCall call = prepare_region_score(logits, class_weights, labeled, radius, sigma, out_h, out_w);
  return region_score_tiled_cuda(call, radius, sigma, out_h, out_w, row_reuse);
}

}  // namespace

dim3 region_score_grid(int64_t B, int H, int W, int tile_w, int tile_h, size_t smem, int64_t C, int64_t radius) {
  TORCH_CHECK(B <= 65535, "region_score on CUDA takes at most 65535 images per call, got ", B);
  const int64_t grid_x = (int64_t{W} + tile_w - 1) / tile_w, grid_y = (int64_t{H} + tile_h - 1) / tile_h;
  TORCH_CHECK(grid_y <= 65535, "region_score on CUDA: out_size height too large (", H, ")");
  int smem_limit = 0;
  C10_CUDA_CHECK(
      cudaDeviceGetAttribute(&smem_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, c10::cuda::current_device()));
  TORCH_CHECK(smem <= static_cast<size_t>(smem_limit), "region_score on CUDA: ", C, " classes and radius ", radius,
              " need ", smem, " bytes of shared memory per block, this GPU allows ", smem_limit);
  return dim3(static_cast<unsigned>(grid_x), static_cast<unsigned>(grid_y), static_cast<unsigned>(B));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_tiled_cuda(const RegionScoreCall& call, int64_t radius,
                                                                        double sigma, int64_t out_h, int64_t out_w,
                                                                        bool row_reuse) {
  const TileArgs a = make_tile_args(call.logits.sizes(), out_h, out_w, radius, sigma, row_reuse);
  const int64_t B = call.logits.size(0);
  if (B == 0) return call.outputs();
  const size_t smem = tile_smem_bytes(a);
  const dim3 grid = region_score_grid(B, a.H, a.W, a.tile_w, a.tile_h, smem, a.C, radius);
  auto stream = c10::cuda::getCurrentCUDAStream();
  DWACA_DISPATCH_LOGITS(call.logits.scalar_type(), "region_score_tiled_cuda", [&] {
    dispatch_tile_code(a, [&](auto capacity, auto row_reuse_c) {
      auto kernel = region_score_tiled_kernel<scalar_t, decltype(capacity), decltype(row_reuse_c)::value>;
      C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
      kernel<<<grid, kTileThreads, smem, stream>>>(
          call.logits.data_ptr<scalar_t>(), call.class_weights_ptr(), call.labeled_ptr(), call.score.data_ptr<float>(),
          call.impurity.data_ptr<float>(), call.uncertainty.data_ptr<float>(), a, sigma);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return call.outputs();
}

TORCH_LIBRARY_IMPL(dwaca_testing, CUDA, m) { m.impl("region_score_tiled", &region_score_tiled_op); }

}  // namespace dwaca
