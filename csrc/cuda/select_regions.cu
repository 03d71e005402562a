// CUDA select_regions: exact greedy selection. Candidates are sorted once (stable, descending, so equal scores
// keep row-major order); then one warp per image walks the sorted list 32 candidates at a time. A lane is alive
// if its pixel is finite and not excluded by an earlier group (read from the excluded mask); inside a group the
// lowest alive lane is the next pick, and it kills the alive lanes in its exclusion window by comparing
// coordinates in registers. This visits candidates in exactly the order of the max-then-mask loop.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>
#include <torch/types.h>

#include "checks.h"

namespace dwaca {
namespace {

constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ void mark_window(bool* mask, int H, int W, int y, int x, int rad, int lane) {
  const int y0 = max(0, y - rad), y1 = min(H - 1, y + rad), x0 = max(0, x - rad), x1 = min(W - 1, x + rad);
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
    unsigned live = __ballot_sync(kFull, alive);
    while (live && picks < want) {
      const int leader = __ffs(live) - 1;
      const int py = __shfl_sync(kFull, y, leader), px = __shfl_sync(kFull, x, leader);
      if (lane == 0) {
        cen[2 * picks] = py;
        cen[2 * picks + 1] = px;
      }
      ++picks;
      if (alive && abs(y - py) <= m && abs(x - px) <= m) alive = false;  // the leader kills itself too
      live = __ballot_sync(kFull, alive);
      mark_window(sel, H, W, py, px, r, lane);
      mark_window(ex, H, W, py, px, m, lane);
    }
    __syncwarp();  // this group's exclusion writes are visible to the next group's reads
    if (__ballot_sync(kFull, finite) != kFull) break;
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> select_regions_cuda(const at::Tensor& score_in,
                                                                    at::IntArrayRef num_regions, int64_t radius,
                                                                    int64_t exclusion_radius) {
  check_select_regions_args(score_in, num_regions, radius, exclusion_radius);
  const c10::cuda::CUDAGuard guard(score_in.device());
  const int64_t B = score_in.size(0), H = score_in.size(1), W = score_in.size(2);
  const int64_t nmax = max_or_zero(num_regions);
  auto opts = score_in.options();
  at::Tensor centers = at::full({B, nmax, 2}, -1, opts.dtype(at::kLong));
  at::Tensor selected = at::zeros({B, H, W}, opts.dtype(at::kBool));
  at::Tensor excluded = at::zeros({B, H, W}, opts.dtype(at::kBool));
  if (B == 0 || H * W == 0 || nmax == 0) return {centers, selected, excluded};
  TORCH_CHECK(B <= 2147483647, "too many images");
  // Adding +0.0 turns -0.0 into +0.0: the radix sort orders them apart, the greedy definition ties them.
  const at::Tensor flat = (score_in.reshape({B, H * W}) + 0.0).contiguous();
  auto sorted = at::sort(flat, /*stable=*/true, /*dim=*/1, /*descending=*/true);
  const at::Tensor vals = std::get<0>(sorted).contiguous(), idx = std::get<1>(sorted).contiguous();
  const at::Tensor counts = at::tensor(std::vector<int64_t>(num_regions.begin(), num_regions.end()),
                                       at::TensorOptions().dtype(at::kLong))
                                .to(score_in.device(), /*non_blocking=*/true);
  const int r = static_cast<int>(std::min<int64_t>(radius, std::max(H, W)));
  const int m = static_cast<int>(std::min<int64_t>(exclusion_radius, std::max(H, W)));
  auto stream = c10::cuda::getCurrentCUDAStream();
  greedy_kernel<<<static_cast<unsigned>(B), 32, 0, stream>>>(
      vals.data_ptr<float>(), idx.data_ptr<int64_t>(), counts.data_ptr<int64_t>(), static_cast<int>(H),
      static_cast<int>(W), nmax, r, m, centers.data_ptr<int64_t>(), selected.data_ptr<bool>(),
      excluded.data_ptr<bool>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {centers, selected, excluded};
}

TORCH_LIBRARY_IMPL(dwaca, CUDA, m) { m.impl("select_regions", &select_regions_cuda); }

}  // namespace dwaca
