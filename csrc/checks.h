#pragma once
#include <torch/types.h>

#include <optional>
#include <vector>

namespace dwaca {

// (2k+1)^2 window weights, row-major: exp(-(dy^2 + dx^2) / (2 sigma^2)), or all ones when sigma == 0.
std::vector<float> window_weights(int64_t k, double sigma);

void check_region_score_args(const at::Tensor& logits, const std::optional<at::Tensor>& class_weights,
                             const std::optional<at::Tensor>& labeled, int64_t radius, double sigma, int64_t out_h,
                             int64_t out_w);

void check_select_regions_args(const at::Tensor& score, at::IntArrayRef num_regions, int64_t radius,
                               int64_t exclusion_radius);

int64_t max_or_zero(at::IntArrayRef v);

}  // namespace dwaca
