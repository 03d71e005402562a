// Exact greedy walk of one image (the candidate CUDA select_regions kernel), written once for a CUDA warp
// (csrc/cuda/select_regions.cu) and for a serial emulation of one (csrc/cpu/select_regions_walk_emulated.cpp), so CI
// checks the kernel's logic without a GPU.
//
// The walk reads the image's candidates sorted by score (descending, equal scores in row-major order) 32 at a time.
// A lane is alive if its pixel is finite and not excluded by an earlier group (read from the excluded mask); inside a
// group the lowest alive lane is the next pick, and it kills the alive lanes in its exclusion window by comparing
// coordinates in registers. This visits candidates in exactly the order of the max-then-mask loop.
//
// A group holds many picks (2330 picks in 89 groups of the benchmark's Cityscapes-size image), and a single warp
// runs at the latency of its dependent instructions, so the path from one pick to the next is kept to what it needs:
// the leader's coordinates and the kills. The group's windows are marked after its last pick (the kills inside a
// group compare coordinates, not the mask), every lane owning fixed cells of each window (no divisions); pixel
// indices are 32-bit, and the next group's candidates are loaded while the current one is picked (the sorted arrays
// are read-only).
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
  __device__ __forceinline__ void sync() const { __syncwarp(); }
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
  void sync() const {}
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

// Picks up to `want` regions of one H x W image from its sorted candidates (vals, idx), writing (row, col) pairs to
// `centers` and marking the (2r+1)^2 / (2m+1)^2 windows in `selected` / `excluded` (both all false on entry).
template <class Warp>
DW_HD void greedy_walk(const Warp& warp, const float* vals, const int64_t* idx, int H, int W, int64_t want, int r,
                       int m, int64_t* centers, bool* selected, bool* excluded) {
  const int64_t n = static_cast<int64_t>(H) * W;
  typename Warp::template Private<int> y, x, next, pick_y, pick_x;
  typename Warp::template Private<bool> alive;
  typename Warp::template Private<WindowLane> sel_cells, ex_cells;
  warp.each([&](int l) {
    sel_cells[l] = window_lane(r, l);
    ex_cells[l] = window_lane(m, l);
    next[l] = candidate_at(vals, idx, n, l);
  });
  int64_t picks = 0;
  for (int64_t base = 0; base < n && picks < want; base += kWarpSize) {
    const unsigned finite = warp.ballot([&](int l) { return next[l] >= 0; });
    warp.each([&](int l) {
      const int p = next[l];
      alive[l] = p >= 0 && !excluded[p];  // the previous group's marks are visible (sync below)
      y[l] = p >= 0 ? p / W : 0;
      x[l] = p >= 0 ? p - y[l] * W : 0;
      next[l] = candidate_at(vals, idx, n, base + kWarpSize + l);
    });
    // Pick: only what the next pick depends on. Lane j keeps the group's j-th pick (a group has at most 32).
    int group_picks = 0;
    unsigned live = warp.ballot([&](int l) { return alive[l]; });
    while (live && picks < want) {
      const int leader = lowest_lane(live);
      const int py = warp.shfl(y, leader), px = warp.shfl(x, leader);
      warp.each([&](int l) {  // the leader kills itself too
        if (alive[l] && abs(y[l] - py) <= m && abs(x[l] - px) <= m) alive[l] = false;
        if (l == group_picks) {
          pick_y[l] = py;
          pick_x[l] = px;
        }
      });
      live = warp.ballot([&](int l) { return alive[l]; });
      ++group_picks;
      ++picks;
    }
    // Then record and mark the group's picks; the marks are stores only, so the picks' windows overlap in flight.
    const int64_t first = picks - group_picks;
    warp.each([&](int l) {
      if (l < group_picks) {
        centers[2 * (first + l)] = pick_y[l];
        centers[2 * (first + l) + 1] = pick_x[l];
      }
    });
    for (int j = 0; j < group_picks; ++j) {
      const int py = warp.shfl(pick_y, j), px = warp.shfl(pick_x, j);
      warp.each([&](int l) {
        mark_window(selected, H, W, py, px, sel_cells[l]);
        mark_window(excluded, H, W, py, px, ex_cells[l]);
      });
    }
    warp.sync();  // this group's exclusion marks are visible to the next group's reads
    if (finite != kAllLanes) break;
  }
}

}  // namespace dwaca
