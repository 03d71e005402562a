// dwaca_testing::select_regions_cuda_emulated: runs the CUDA walk of csrc/select_regions_walk.h on CPU for each
// image, with all 32 lanes of a warp emulated in lockstep and the block's warps one after another between its
// barriers. It exists to test that kernel's logic where no GPU is visible; the fast CPU path is select_regions
// (cpu/select_regions.cpp).
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include "checks.h"
#include "select_regions_walk.h"

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
    const EmulatedWarp warp;
    EmulatedWarp::Private<WindowLane> sel_cells, ex_cells;
    warp.each([&](int l) {
      sel_cells[l] = window_lane(call.r, l);
      ex_cells[l] = window_lane(call.m, l);
    });
    for (int64_t b = begin; b < end; ++b) {
      bool* selected = call.selected.data_ptr<bool>() + b * HW;
      bool* excluded = call.excluded.data_ptr<bool>() + b * HW;
      int64_t* centers = call.centers.data_ptr<int64_t>() + b * call.max_regions * 2;
      GreedyWalker<EmulatedWarp> walker(vals.data_ptr<float>() + b * HW, idx.data_ptr<int64_t>() + b * HW, call.H,
                                        call.W, call.num_regions[b], call.m);
      walker.start(warp);
      WalkGroup group;
      do {
        walker.pick_group(warp, excluded, group, centers);
        for (int w = 0; w < kWalkWarps; ++w)
          mark_group(warp, group, w, kWalkWarps, call.H, call.W, sel_cells, ex_cells, selected, excluded);
      } while (!group.done);
    }
  });
  return call.outputs();
}

}  // namespace

TORCH_LIBRARY_IMPL(dwaca_testing, CPU, m) { m.impl("select_regions_cuda_emulated", &select_regions_walk_emulated); }

}  // namespace dwaca
