// CUDA select_regions: exact greedy selection. Candidates are sorted once (stable, descending, so equal scores
// keep row-major order); then one warp per image walks the sorted list 32 candidates at a time. A lane is alive
// if its pixel is finite and not excluded by an earlier group (read from the excluded mask); inside a group the
// lowest alive lane is the next pick, and it kills the alive lanes in its exclusion window by comparing
// coordinates in registers. This visits candidates in exactly the order of the max-then-mask loop.
// select_regions_candidate runs the same walk with a shorter per-pick path (csrc/greedy_walk.h); it replaces
// greedy_kernel once a GPU run shows it is faster (benchmarks/gpu_check.sh times both).
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>
#include <torch/types.h>

#include "checks.h"
#include "greedy_walk.h"

namespace dwaca {
namespace {

__device__ __forceinline__ void warp_mark_window(bool* mask, int H, int W, int y, int x, int rad, int lane) {
  const int y0 = window_lo(y, rad), y1 = window_hi(y, rad, H), x0 = window_lo(x, rad), x1 = window_hi(x, rad, W);
  const int ww = x1 - x0 + 1, n = (y1 - y0 + 1) * ww;
  for (int i = lane; i < n; i += 32) mask[static_cast<int64_t>(y0 + i / ww) * W + x0 + i % ww] = true;
}

__global__ void greedy_kernel(const float* __restrict__ sorted_val, const int64_t* __restrict__ sorted_idx,
                              const int64_t* __restrict__ num_regions, int H, int W, int64_t nmax, int r, int m,
                              int64_t* __restrict__ centers, bool* __restrict__ selected, bool* __restrict__ excluded) {
  const int b = blockIdx.x, lane = threadIdx.x;
  const int64_t HW = static_cast<int64_t>(H) * W;
  const float* vals = sorted_val + b * HW;
  const int64_t* idx = sorted_idx + b * HW;
  bool* ex = excluded + b * HW;
  bool* sel = selected + b * HW;
  int64_t* cen = centers + b * nmax * 2;
  const int64_t want = num_regions[b];
  int64_t picks = 0;
  for (int64_t base = 0; base < HW && picks < want; base += 32) {
    const int64_t i = base + lane;
    const bool finite = i < HW && vals[i] != -INFINITY;  // sorted: once -inf appears, nothing finite follows
    int y = -1, x = -1;
    bool alive = false;
    if (finite) {
      const int64_t p = idx[i];
      y = static_cast<int>(p / W);
      x = static_cast<int>(p % W);
      alive = !ex[p];
    }
    unsigned live = __ballot_sync(kAllLanes, alive);
    while (live && picks < want) {
      const int leader = __ffs(live) - 1;
      const int py = __shfl_sync(kAllLanes, y, leader), px = __shfl_sync(kAllLanes, x, leader);
      if (lane == 0) {
        cen[2 * picks] = py;
        cen[2 * picks + 1] = px;
      }
      ++picks;
      if (alive && abs(y - py) <= m && abs(x - px) <= m) alive = false;  // the leader kills itself too
      live = __ballot_sync(kAllLanes, alive);
      warp_mark_window(sel, H, W, py, px, r, lane);
      warp_mark_window(ex, H, W, py, px, m, lane);
    }
    __syncwarp();  // this group's exclusion writes are visible to the next group's reads
    if (__ballot_sync(kAllLanes, finite) != kAllLanes) break;
  }
}

// The candidate: the walk of csrc/greedy_walk.h, one warp per image.
__global__ void greedy_walk_kernel(const float* __restrict__ sorted_val, const int64_t* __restrict__ sorted_idx,
                                   const int64_t* __restrict__ num_regions, int H, int W, int64_t nmax, int r, int m,
                                   int64_t* __restrict__ centers, bool* __restrict__ selected,
                                   bool* __restrict__ excluded) {
  const int64_t b = blockIdx.x, HW = static_cast<int64_t>(H) * W;
  greedy_walk(ThreadLane{static_cast<int>(threadIdx.x)}, sorted_val + b * HW, sorted_idx + b * HW, H, W,
              num_regions[b], r, m, centers + b * nmax * 2, selected + b * HW, excluded + b * HW);
}

using GreedyKernel = void (*)(const float*, const int64_t*, const int64_t*, int, int, int64_t, int, int, int64_t*,
                              bool*, bool*);

std::tuple<at::Tensor, at::Tensor, at::Tensor> select_regions_with(GreedyKernel kernel, const at::Tensor& score,
                                                                   at::IntArrayRef num_regions, int64_t radius,
                                                                   int64_t exclusion_radius) {
  const c10::cuda::CUDAGuard guard(score.device());
  const SelectRegionsCall call = prepare_select_regions(score, num_regions, radius, exclusion_radius);
  if (call.nothing_to_pick()) return call.outputs();
  TORCH_CHECK(call.B <= 2147483647, "select_regions on CUDA takes fewer than 2^31 images per call, got ", call.B);
  const auto [vals, idx] = sort_candidates(call.score);
  const at::Tensor counts =
      at::tensor(call.num_regions, at::TensorOptions().dtype(at::kLong)).to(score.device(), /*non_blocking=*/true);
  kernel<<<static_cast<unsigned>(call.B), kWarpSize, 0, c10::cuda::getCurrentCUDAStream()>>>(
      vals.data_ptr<float>(), idx.data_ptr<int64_t>(), counts.data_ptr<int64_t>(), call.H, call.W, call.max_regions,
      call.r, call.m, call.centers.data_ptr<int64_t>(), call.selected.data_ptr<bool>(),
      call.excluded.data_ptr<bool>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return call.outputs();
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> select_regions_cuda(const at::Tensor& score,
                                                                    at::IntArrayRef num_regions, int64_t radius,
                                                                    int64_t exclusion_radius) {
  return select_regions_with(greedy_kernel, score, num_regions, radius, exclusion_radius);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> select_regions_walk_cuda(const at::Tensor& score,
                                                                         at::IntArrayRef num_regions, int64_t radius,
                                                                         int64_t exclusion_radius) {
  return select_regions_with(greedy_walk_kernel, score, num_regions, radius, exclusion_radius);
}

}  // namespace

TORCH_LIBRARY_IMPL(dwaca, CUDA, m) {
  m.impl("select_regions", &select_regions_cuda);
  m.impl("select_regions_candidate", &select_regions_walk_cuda);
}

}  // namespace dwaca
