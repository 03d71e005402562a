// CPU select_regions: exact greedy selection. The image is cut into 16x16 tiles; each tile keeps its best
// candidate (highest score, then smallest row-major index, among finite, not yet excluded pixels) and a
// tournament tree over tiles yields the global best in O(1). A pick can only remove candidates, so after
// marking its windows only tiles whose best was just excluded need rescanning: a few hundred pixels per pick
// instead of a pass over the whole image.
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "checks.h"
#include "region_math.h"

namespace dwaca {
namespace {

constexpr int kTile = 16;
constexpr int64_t kNone = -1;

class GreedyImage {
 public:
  GreedyImage(const float* score, bool* excluded, int H, int W)
      : s_(score), ex_(excluded), H_(H), W_(W), ty_((H + kTile - 1) / kTile), tx_((W + kTile - 1) / kTile) {
    const int tiles = ty_ * tx_;
    leaves_ = 1;
    while (leaves_ < tiles) leaves_ *= 2;
    best_.assign(tiles, kNone);
    tree_.assign(2 * leaves_, kNone);
    for (int t = 0; t < tiles; ++t) best_[t] = scan(t);
    for (int t = 0; t < leaves_; ++t) tree_[leaves_ + t] = t < tiles ? best_[t] : kNone;
    for (int n = leaves_ - 1; n >= 1; --n) tree_[n] = better(tree_[2 * n], tree_[2 * n + 1]);
  }

  // Best remaining candidate pixel index, or kNone.
  int64_t top() const { return tree_[1]; }

  // Marks [y0, y1] x [x0, x1] excluded and repairs the tiles whose best was in it.
  void exclude(int y0, int y1, int x0, int x1) {
    for (int y = y0; y <= y1; ++y) std::fill(ex_ + static_cast<int64_t>(y) * W_ + x0, ex_ + static_cast<int64_t>(y) * W_ + x1 + 1, true);
    for (int ty = y0 / kTile; ty <= y1 / kTile; ++ty)
      for (int tx = x0 / kTile; tx <= x1 / kTile; ++tx) {
        const int t = ty * tx_ + tx;
        if (best_[t] != kNone && ex_[best_[t]]) {
          best_[t] = scan(t);
          update(t);
        }
      }
  }

 private:
  // a is better than b: higher score, ties to the smaller index; kNone loses to everything.
  int64_t better(int64_t a, int64_t b) const {
    if (a == kNone) return b;
    if (b == kNone) return a;
    return (s_[a] > s_[b] || (s_[a] == s_[b] && a < b)) ? a : b;
  }

  int64_t scan(int t) const {
    const int y0 = (t / tx_) * kTile, x0 = (t % tx_) * kTile;
    const int y1 = std::min(H_, y0 + kTile), x1 = std::min(W_, x0 + kTile);
    int64_t best = kNone;
    float bv = -std::numeric_limits<float>::infinity();
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {  // row-major scan with strict '>' keeps the smallest index on ties
        const int64_t i = static_cast<int64_t>(y) * W_ + x;
        if (!ex_[i] && s_[i] > bv) {
          bv = s_[i];
          best = i;
        }
      }
    return best;  // -inf pixels are never candidates
  }

  void update(int t) {
    int n = leaves_ + t;
    tree_[n] = best_[t];
    for (n /= 2; n >= 1; n /= 2) tree_[n] = better(tree_[2 * n], tree_[2 * n + 1]);
  }

  const float* s_;
  bool* ex_;
  int H_, W_, ty_, tx_, leaves_;
  std::vector<int64_t> best_, tree_;
};

void mark(bool* mask, int W, int y0, int y1, int x0, int x1) {
  for (int y = y0; y <= y1; ++y) std::fill(mask + static_cast<int64_t>(y) * W + x0, mask + static_cast<int64_t>(y) * W + x1 + 1, true);
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> select_regions_cpu(const at::Tensor& score, at::IntArrayRef num_regions,
                                                                   int64_t radius, int64_t exclusion_radius) {
  const SelectRegionsCall call = prepare_select_regions(score, num_regions, radius, exclusion_radius);
  if (call.nothing_to_pick()) return call.outputs();
  const int H = call.H, W = call.W, r = call.r, m = call.m;
  at::parallel_for(0, call.B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t off = b * H * W;
      bool* ex = call.excluded.data_ptr<bool>() + off;
      bool* sel = call.selected.data_ptr<bool>() + off;
      int64_t* cen = call.centers.data_ptr<int64_t>() + b * call.max_regions * 2;
      GreedyImage g(call.score.data_ptr<float>() + off, ex, H, W);
      for (int64_t i = 0; i < call.num_regions[b]; ++i) {
        const int64_t p = g.top();
        if (p == kNone) break;
        const int y = static_cast<int>(p / W), x = static_cast<int>(p % W);
        cen[2 * i] = y;
        cen[2 * i + 1] = x;
        mark(sel, W, window_lo(y, r), window_hi(y, r, H), window_lo(x, r), window_hi(x, r, W));
        g.exclude(window_lo(y, m), window_hi(y, m, H), window_lo(x, m), window_hi(x, m, W));
      }
    }
  });
  return call.outputs();
}

TORCH_LIBRARY_IMPL(dwaca, CPU, m) { m.impl("select_regions", &select_regions_cpu); }

}  // namespace dwaca
