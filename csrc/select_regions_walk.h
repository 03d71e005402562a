// Exact greedy walk of one image (select_regions' CUDA kernel), written once for a CUDA block
// (csrc/cuda/select_regions.cu) and for a serial emulation of one (csrc/cpu/select_regions_walk_emulated.cpp), so CI
// checks the kernel's logic without a GPU.
//
// The walk reads the image's candidates sorted by score (descending, equal scores in row-major order) 32 at a time.
// A lane is alive if its pixel is finite and not excluded by an earlier group (read from the excluded mask); inside a
// group the lowest alive lane is the next pick, and it kills the alive lanes in its exclusion window by comparing
// coordinates in registers. This visits candidates in exactly the order of the max-then-mask loop.
//
// A group holds many picks (2330 picks in 89 groups of the benchmark's Cityscapes-size image), and one warp runs at
// the latency of its dependent instructions (an H200 measured ~130 instructions and ~790 cycles per pick when the
// picking warp also marked the windows). So one warp of the block only picks: the kills compare coordinates, never
// the mask, and its path from one pick to the next is the leader's coordinates and the kills. After each group the
// block's other warps join it to mark the group's windows (every lane owning fixed cells of each window, no
// divisions), and a barrier makes the marks visible to the next group's mask reads. Pixel indices are 32-bit, and
// the next group's candidates are loaded while the current one is picked (the sorted arrays are read-only).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "region_math.h"

namespace dwaca {

constexpr int kWarpSize = 32;
constexpr unsigned kAllLanes = 0xffffffffu;

// A warp seen by one of its lanes (the CUDA kernel) or by all of them at once (the emulation). Lane-private values
// live in Private<T>, indexed by lane; each(f) runs f(lane) for the lanes the view holds; ballot and shfl are the
// warp's collectives. Warp-uniform values are plain variables. The emulation runs each step for all 32 lanes before
// the next one, which matches the warp as long as no lane reads memory another lane writes in the same step.
#if defined(__CUDACC__)
struct ThreadLane {
  template <typename T>
  struct Private {
    T v;
    __device__ __forceinline__ T& operator[](int) { return v; }
  };
  int lane;
  template <typename F>
  __device__ __forceinline__ void each(F&& f) const { f(lane); }
  template <typename F>
  __device__ __forceinline__ unsigned ballot(F&& f) const { return __ballot_sync(kAllLanes, f(lane)); }
  template <typename T>
  __device__ __forceinline__ T shfl(Private<T>& v, int src) const { return __shfl_sync(kAllLanes, v.v, src); }
};
#endif

struct EmulatedWarp {
  template <typename T>
  struct Private {
    T v[kWarpSize];
    T& operator[](int lane) { return v[lane]; }
  };
  template <typename F>
  void each(F&& f) const {
    for (int l = 0; l < kWarpSize; ++l) f(l);
  }
  template <typename F>
  unsigned ballot(F&& f) const {
    unsigned bits = 0;
    for (int l = 0; l < kWarpSize; ++l) bits |= static_cast<unsigned>(static_cast<bool>(f(l))) << l;
    return bits;
  }
  template <typename T>
  T shfl(Private<T>& v, int src) const { return v[src]; }
};

DW_HD int lowest_lane(unsigned bits) {
#if defined(__CUDA_ARCH__)
  return __ffs(bits) - 1;
#else
  return __builtin_ctz(bits);
#endif
}

// One lane's share of marking a (2 rad + 1)^2 window clipped at the border: the window is cut into strips of `cols`
// <= 32 columns and `rows` = 32 / cols rows, and the lane marks cell (dy, dx) of every strip; lanes with
// dy >= rows mark nothing. Every in-image cell of the window is marked by exactly one lane.
struct WindowLane {
  int rad, rows, cols, dy, dx;
};

DW_HD WindowLane window_lane(int rad, int lane) {
  WindowLane w;
  w.rad = rad;
  w.cols = rad < kWarpSize / 2 ? 2 * rad + 1 : kWarpSize;
  w.rows = kWarpSize / w.cols;
  w.dy = lane / w.cols;
  w.dx = lane % w.cols;
  return w;
}

DW_HD void mark_window(bool* mask, int H, int W, int y, int x, const WindowLane& w) {
  if (w.dy >= w.rows) return;
  const int y0 = window_lo(y, w.rad), y1 = window_hi(y, w.rad, H);
  const int x0 = window_lo(x, w.rad), x1 = window_hi(x, w.rad, W);
  for (int yy = y0 + w.dy; yy <= y1; yy += w.rows)
    for (int xx = x0 + w.dx; xx <= x1; xx += w.cols) mask[yy * W + xx] = true;  // H * W < 2^31: checked on the host
}

// The pixel index of sorted candidate i, or -1 past the end or at -inf (sorted: nothing finite follows).
DW_HD int candidate_at(const float* vals, const int64_t* idx, int64_t n, int64_t i) {
  return i < n && vals[i] != -INFINITY ? static_cast<int>(idx[i]) : -1;
}

constexpr int kWalkWarps = 8;  // warps of a block: one picks, all mark

// A group's picks, handed from the picking warp to the marking warps (shared memory in the CUDA block).
struct WalkGroup {
  int count;  // picks in this group
  bool done;  // the walk ends with this group
  int y[kWarpSize], x[kWarpSize];
};

// The picking warp's walk of one H x W image over its sorted candidates (vals, idx): up to `want` picks whose
// (2m+1)^2 windows exclude later candidates; (row, col) pairs go to `centers`. `excluded` is read, never written.
template <class Warp>
struct GreedyWalker {
  const float* vals;
  const int64_t* idx;
  int W, m;
  int64_t n, want, base = 0, picks = 0;
  typename Warp::template Private<int> next;  // the pixel index of the group's candidate for each lane, or -1

  DW_HD GreedyWalker(const float* vals_, const int64_t* idx_, int H, int W_, int64_t want_, int m_)
      : vals(vals_), idx(idx_), W(W_), m(m_), n(static_cast<int64_t>(H) * W_), want(want_) {}

  DW_HD void start(const Warp& warp) {
    warp.each([&](int l) { next[l] = candidate_at(vals, idx, n, l); });
  }

  // Picks the next group into g (count, coordinates, done) and writes their centers.
  DW_HD void pick_group(const Warp& warp, const bool* excluded, WalkGroup& g, int64_t* centers) {
    if (base >= n || picks >= want) {
      warp.each([&](int l) {
        if (l == 0) g.count = 0, g.done = true;
      });
      return;
    }
    typename Warp::template Private<int> y, x, pick_y, pick_x;
    typename Warp::template Private<bool> alive;
    const unsigned finite = warp.ballot([&](int l) { return next[l] >= 0; });
    warp.each([&](int l) {
      const int p = next[l];
      alive[l] = p >= 0 && !excluded[p];  // the previous group's marks are visible (the block's barrier)
      y[l] = p >= 0 ? p / W : 0;
      x[l] = p >= 0 ? p - y[l] * W : 0;
      next[l] = candidate_at(vals, idx, n, base + kWarpSize + l);
    });
    // Lane j keeps the group's j-th pick (a group has at most 32).
    int count = 0;
    unsigned live = warp.ballot([&](int l) { return alive[l]; });
    while (live && picks < want) {
      const int leader = lowest_lane(live);
      const int py = warp.shfl(y, leader), px = warp.shfl(x, leader);
      warp.each([&](int l) {  // the leader kills itself too
        if (alive[l] && abs(y[l] - py) <= m && abs(x[l] - px) <= m) alive[l] = false;
        if (l == count) {
          pick_y[l] = py;
          pick_x[l] = px;
        }
      });
      live = warp.ballot([&](int l) { return alive[l]; });
      ++count;
      ++picks;
    }
    base += kWarpSize;
    const int64_t first = picks - count;
    const bool done = finite != kAllLanes || base >= n || picks >= want;
    warp.each([&](int l) {
      if (l < count) {
        centers[2 * (first + l)] = pick_y[l];
        centers[2 * (first + l) + 1] = pick_x[l];
        g.y[l] = pick_y[l];
        g.x[l] = pick_x[l];
      }
      if (l == 0) g.count = count, g.done = done;
    });
  }
};

// Warp `warp_id` of `nwarps` marks its share of the group's windows (picks warp_id, warp_id + nwarps, ...) in
// `selected` and `excluded`; sel_cells / ex_cells are its lanes' cells of the (2r+1)^2 and (2m+1)^2 windows.
template <class Warp, class Cells>
DW_HD void mark_group(const Warp& warp, const WalkGroup& g, int warp_id, int nwarps, int H, int W, Cells& sel_cells,
                      Cells& ex_cells, bool* selected, bool* excluded) {
  for (int j = warp_id; j < g.count; j += nwarps) {
    const int py = g.y[j], px = g.x[j];
    warp.each([&](int l) {
      mark_window(selected, H, W, py, px, sel_cells[l]);
      mark_window(excluded, H, W, py, px, ex_cells[l]);
    });
  }
}

}  // namespace dwaca
