// CUDA select_regions: exact greedy selection. Candidates are sorted once (stable, descending, so equal scores
// keep row-major order); then one block per image walks the sorted list 32 candidates at a time: one warp picks,
// the block's warps mark the picks' windows (csrc/select_regions_walk.h). This visits candidates in exactly the
// order of the max-then-mask loop.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>
#include <torch/types.h>

#include "checks.h"
#include "select_regions_walk.h"

namespace dwaca {
namespace {

// Warp 0 picks, every warp marks.
__global__ void __launch_bounds__(kWalkWarps * kWarpSize)
    greedy_walk_kernel(const float* __restrict__ sorted_val, const int64_t* __restrict__ sorted_idx,
                       const int64_t* __restrict__ num_regions, int H, int W, int64_t nmax, int r, int m,
                       int64_t* __restrict__ centers, bool* __restrict__ selected, bool* __restrict__ excluded) {
  __shared__ WalkGroup group;
  const int64_t b = blockIdx.x, HW = static_cast<int64_t>(H) * W;
  const int warp_id = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const ThreadLane warp{lane};
  selected += b * HW;
  excluded += b * HW;
  GreedyWalker<ThreadLane> walker(sorted_val + b * HW, sorted_idx + b * HW, H, W, num_regions[b], m);
  if (warp_id == 0) walker.start(warp);
  ThreadLane::Private<WindowLane> sel_cells{window_lane(r, lane)}, ex_cells{window_lane(m, lane)};
  for (;;) {
    if (warp_id == 0) walker.pick_group(warp, excluded, group, centers + b * nmax * 2);
    __syncthreads();
    mark_group(warp, group, warp_id, kWalkWarps, H, W, sel_cells, ex_cells, selected, excluded);
    const bool done = group.done;
    __syncthreads();  // the marks are visible to the next group's reads, and the group is read before rewritten
    if (done) return;
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> select_regions_cuda(const at::Tensor& score,
                                                                    at::IntArrayRef num_regions, int64_t radius,
                                                                    int64_t exclusion_radius) {
  const c10::cuda::CUDAGuard guard(score.device());
  const SelectRegionsCall call = prepare_select_regions(score, num_regions, radius, exclusion_radius);
  if (call.nothing_to_pick()) return call.outputs();
  TORCH_CHECK(call.B <= 2147483647, "select_regions on CUDA takes fewer than 2^31 images per call, got ", call.B);
  const auto [vals, idx] = sort_candidates(call.score);
  const at::Tensor counts =
      at::tensor(call.num_regions, at::TensorOptions().dtype(at::kLong)).to(score.device(), /*non_blocking=*/true);
  greedy_walk_kernel<<<static_cast<unsigned>(call.B), kWalkWarps * kWarpSize, 0,
                       c10::cuda::getCurrentCUDAStream()>>>(
      vals.data_ptr<float>(), idx.data_ptr<int64_t>(), counts.data_ptr<int64_t>(), call.H, call.W, call.max_regions,
      call.r, call.m, call.centers.data_ptr<int64_t>(), call.selected.data_ptr<bool>(),
      call.excluded.data_ptr<bool>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return call.outputs();
}

}  // namespace

TORCH_LIBRARY_IMPL(dwaca, CUDA, m) { m.impl("select_regions", &select_regions_cuda); }

}  // namespace dwaca
