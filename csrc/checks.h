#pragma once
#include <ATen/Dispatch.h>
#include <torch/types.h>

#include <optional>
#include <tuple>
#include <vector>

// Binds scalar_t to each logits dtype region_score accepts (float32, float16, bfloat16) and nothing else.
#define DWACA_DISPATCH_LOGITS(TYPE, NAME, ...)                                    \
  AT_DISPATCH_SWITCH(TYPE, NAME, AT_DISPATCH_CASE(at::kFloat, __VA_ARGS__)       \
                                     AT_DISPATCH_CASE(at::kHalf, __VA_ARGS__)    \
                                     AT_DISPATCH_CASE(at::kBFloat16, __VA_ARGS__))

namespace dwaca {

// (2k+1)^2 window weights, row-major: exp(-(dy^2 + dx^2) / (2 sigma^2)), or all ones when sigma == 0.
std::vector<float> window_weights(int64_t k, double sigma);

// One region_score call: its inputs checked and made contiguous, and its three freshly allocated
// (B, out_h, out_w) float32 outputs on the logits' device.
struct RegionScoreCall {
  at::Tensor logits, class_weights, labeled;  // class_weights, labeled: undefined when not given
  at::Tensor score, impurity, uncertainty;

  const float* class_weights_ptr() const { return class_weights.defined() ? class_weights.data_ptr<float>() : nullptr; }
  const bool* labeled_ptr() const { return labeled.defined() ? labeled.data_ptr<bool>() : nullptr; }
  std::tuple<at::Tensor, at::Tensor, at::Tensor> outputs() const { return {score, impurity, uncertainty}; }
};

RegionScoreCall prepare_region_score(const at::Tensor& logits, const std::optional<at::Tensor>& class_weights,
                                     const std::optional<at::Tensor>& labeled, int64_t radius, double sigma,
                                     int64_t out_h, int64_t out_w);

// One select_regions call: its arguments checked, the score made contiguous, and its outputs allocated on the
// score's device (centers all -1, masks all false). r and m are the radii clamped to the image size.
struct SelectRegionsCall {
  at::Tensor score, centers, selected, excluded;
  std::vector<int64_t> num_regions;
  int64_t B, max_regions;
  int H, W, r, m;

  bool nothing_to_pick() const { return B == 0 || H == 0 || W == 0 || max_regions == 0; }
  std::tuple<at::Tensor, at::Tensor, at::Tensor> outputs() const { return {centers, selected, excluded}; }
};

SelectRegionsCall prepare_select_regions(const at::Tensor& score, at::IntArrayRef num_regions, int64_t radius,
                                         int64_t exclusion_radius);

// Each image's scores sorted descending, equal scores in row-major order, as (values, pixel indices), both (B, H*W):
// the order in which the greedy walk visits candidates.
std::tuple<at::Tensor, at::Tensor> sort_candidates(const at::Tensor& score);

}  // namespace dwaca
