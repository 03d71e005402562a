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

void check_region_score_args(const at::Tensor& logits, const std::optional<at::Tensor>& class_weights,
                             const std::optional<at::Tensor>& labeled, int64_t radius, double sigma, int64_t out_h,
                             int64_t out_w);

void check_select_regions_args(const at::Tensor& score, at::IntArrayRef num_regions, int64_t radius,
                               int64_t exclusion_radius);

// region_score's three (B, out_h, out_w) float32 outputs (score, impurity, uncertainty) on the logits' device.
std::tuple<at::Tensor, at::Tensor, at::Tensor> region_score_outputs(const at::Tensor& logits, int64_t out_h,
                                                                    int64_t out_w);

int64_t max_or_zero(at::IntArrayRef v);

}  // namespace dwaca
