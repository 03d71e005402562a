// The tiled region_score kernel's launcher (csrc/cuda/region_score_tiled.cu), called by region_score's CUDA
// implementation (csrc/cuda/region_score.cu) for logits that tiled_kernel_fits (csrc/region_score_tile.h), and the
// grid both kernels launch with.
#pragma once
#include <ATen/core/Tensor.h>
#include <cuda_runtime.h>

#include <tuple>

#include "checks.h"

namespace dwaca {

// The grid of a region_score kernel: B images of an H x W output in tile_w x tile_h tiles, after checking B, the
// grid's height and the block's `smem` bytes of shared memory against this GPU's limits (C and radius name the
// call in that error). Both region_score kernels launch through it.
dim3 region_score_grid(int64_t B, int H, int W, int tile_w, int tile_h, size_t smem, int64_t C, int64_t radius);

// `call` is prepare_region_score's result for these arguments, on the current device. `row_reuse`: see TileArgs.
std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_tiled_cuda(const RegionScoreCall& call, int64_t radius,
                                                                        double sigma, int64_t out_h, int64_t out_w,
                                                                        bool row_reuse);

}  // namespace dwaca
