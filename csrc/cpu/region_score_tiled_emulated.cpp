// dwaca_testing::region_score_tiled on CPU: runs the tiled CUDA kernel's block code (csrc/region_score_tile.h) block
// by block, all threads through phase 1, then all through phase 2 (what the kernel's one barrier guarantees). It
// exists to test that kernel's logic where no GPU is visible; it is not a fast CPU path (that is region_score).
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include <vector>

#include "checks.h"
#include "region_score_tile.h"

namespace dwaca {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_tiled_emulated(
    const at::Tensor& logits, const std::optional<at::Tensor>& class_weights, const std::optional<at::Tensor>& labeled,
    int64_t radius, double sigma, int64_t out_h, int64_t out_w, bool row_reuse) {
  const RegionScoreCall call = prepare_region_score(logits, class_weights, labeled, radius, sigma, out_h, out_w);
  const TileArgs a = make_tile_args(logits.sizes(), out_h, out_w, radius, sigma, row_reuse);
  const int64_t B = logits.size(0);
  if (B == 0) return call.outputs();
  const std::vector<float> g = window_weights(radius, sigma);
  std::vector<float> share_entropies(kShareEntropies);
  fill_share_entropies(share_entropies.data(), 0, 1);
  const int64_t grid_x = (int64_t{a.W} + a.tile_w - 1) / a.tile_w, grid_y = (int64_t{a.H} + a.tile_h - 1) / a.tile_h;
  const float* cw_ptr = call.class_weights_ptr();
  const bool* labeled_ptr = call.labeled_ptr();
  float *s_out = call.score.data_ptr<float>(), *i_out = call.impurity.data_ptr<float>(),
        *u_out = call.uncertainty.data_ptr<float>();
  DWACA_DISPATCH_LOGITS(logits.scalar_type(), "region_score_tiled_emulated", [&] {
    const scalar_t* x = call.logits.data_ptr<scalar_t>();
    dispatch_tile_code(a, [&](auto capacity, auto row_reuse_c) {
      using Capacity = decltype(capacity);
      constexpr bool kRowReuse = decltype(row_reuse_c)::value;
      at::parallel_for(0, B * grid_y * grid_x, 1, [&](int64_t begin, int64_t end) {
        std::vector<uint8_t> s_cls(static_cast<size_t>(a.halo_w) * a.halo_h);
        std::vector<float> s_we(s_cls.size());
        for (int64_t block = begin; block < end; ++block) {
          const int64_t b = block / (grid_y * grid_x);
          const int ty0 = static_cast<int>(block / grid_x % grid_y) * a.tile_h;
          const int tx0 = static_cast<int>(block % grid_x) * a.tile_w;
          const scalar_t* img = x + b * a.C * a.plane;
          bool bad = false;
          for (int tid = 0; tid < kTileThreads; ++tid)
            bad |= tile_pixel_phase<scalar_t, Capacity, kRowReuse>(a, img, cw_ptr, tx0, ty0, tid, kTileThreads,
                                                                   s_cls.data(), s_we.data());
          for (int tid = 0; tid < kTileThreads; ++tid)
            tile_window_phase<Capacity>(a, g.data(), share_entropies.data(), s_cls.data(), s_we.data(),
                                        labeled_ptr, b * a.H * a.W, tx0, ty0, tid, kTileThreads, bad, s_out, i_out,
                                        u_out);
        }
      });
    });
  });
  return call.outputs();
}

}  // namespace

TORCH_LIBRARY_IMPL(dwaca_testing, CPU, m) { m.impl("region_score_tiled", &region_score_tiled_emulated); }

}  // namespace dwaca
