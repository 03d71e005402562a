// CPU implementation of select_regions_candidate: runs the CUDA walk of csrc/greedy_walk.h for each image with all
// 32 lanes of the warp emulated in lockstep. It exists to test the candidate kernel's logic where no GPU is visible;
// the fast CPU path is select_regions (cpu/select_regions.cpp).
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include "checks.h"
#include "greedy_walk.h"

namespace dwaca {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> select_regions_walk_emulated(const at::Tensor& score,
                                                                             at::IntArrayRef num_regions,
                                                                             int64_t radius, int64_t exclusion_radius) {
  const SelectRegionsCall call = prepare_select_regions(score, num_regions, radius, exclusion_radius);
  if (call.nothing_to_pick()) return call.outputs();
  const auto [vals, idx] = sort_candidates(call.score);
  const int64_t HW = static_cast<int64_t>(call.H) * call.W;
  at::parallel_for(0, call.B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      greedy_walk(EmulatedWarp{}, vals.data_ptr<float>() + b * HW, idx.data_ptr<int64_t>() + b * HW, call.H, call.W,
                  call.num_regions[b], call.r, call.m, call.centers.data_ptr<int64_t>() + b * call.max_regions * 2,
                  call.selected.data_ptr<bool>() + b * HW, call.excluded.data_ptr<bool>() + b * HW);
  });
  return call.outputs();
}

}  // namespace

TORCH_LIBRARY_IMPL(dwaca, CPU, m) { m.impl("select_regions_candidate", &select_regions_walk_emulated); }

}  // namespace dwaca
