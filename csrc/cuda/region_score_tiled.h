// The tiled region_score kernel's launcher (csrc/cuda/region_score_tiled.cu), called by region_score's CUDA
// implementation (csrc/cuda/region_score.cu) for logits that tiled_kernel_fits (csrc/region_tile.h).
#pragma once
#include <ATen/core/Tensor.h>

#include <tuple>

#include "checks.h"

namespace dwaca {

// The current device's shared memory per block, opted in to the largest size.
size_t max_shared_memory_per_block();

// `call` is prepare_region_score's result for these arguments, on the current device. `row_reuse`: see TileArgs.
std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_tiled_cuda(const RegionScoreCall& call, int64_t radius,
                                                                        double sigma, int64_t out_h, int64_t out_w,
                                                                        bool row_reuse);

}  // namespace dwaca
