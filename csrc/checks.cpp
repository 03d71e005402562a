// Argument checks and helpers shared by the CPU and CUDA implementations. The Python wrapper in dwaca/ops raises
// ValueError/TypeError first; these TORCH_CHECKs guard direct torch.ops.dwaca and torch.ops.dwaca_testing calls.
#include "checks.h"

#include <algorithm>
#include <cmath>

#include "region_math.h"

namespace dwaca {

std::vector<float> window_weights(int64_t k, double sigma) {
  const int side = static_cast<int>(2 * k + 1);
  std::vector<float> g(static_cast<size_t>(side) * side);
  for (int dy = -static_cast<int>(k); dy <= k; ++dy)
    for (int dx = -static_cast<int>(k); dx <= k; ++dx) g[(dy + k) * side + (dx + k)] = window_weight(dy, dx, sigma);
  return g;
}

namespace {

// Each side first, so that their product cannot overflow int64.
bool image_fits(int64_t h, int64_t w) {
  return h <= kMaxImagePixels && w <= kMaxImagePixels && h * w <= kMaxImagePixels;
}

// Whether n tensors' worth of `per_item` elements each stay within kMaxElements, without forming the product.
bool elements_fit(int64_t n, int64_t per_item) { return per_item == 0 || n <= kMaxElements / per_item; }

}  // namespace

RegionScoreCall prepare_region_score(const at::Tensor& logits, const std::optional<at::Tensor>& class_weights,
                                     const std::optional<at::Tensor>& labeled, int64_t radius, double sigma,
                                     int64_t out_h, int64_t out_w) {
  TORCH_CHECK(logits.dim() == 4, "logits must be 4-D (B, C, h, w), got ", logits.dim(), "-D");
  TORCH_CHECK(logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kHalf ||
                  logits.scalar_type() == at::kBFloat16,
              "logits must be float32, float16 or bfloat16, got ", logits.scalar_type());
  const int64_t C = logits.size(1);
  TORCH_CHECK(C >= 2 && C <= kMaxClasses, "logits must have 2..", kMaxClasses, " classes, got C=", C);
  TORCH_CHECK(logits.size(2) >= 1 && logits.size(3) >= 1, "logits must have h, w >= 1, got ", logits.sizes());
  TORCH_CHECK(image_fits(logits.size(2), logits.size(3)), "logits must have h * w <= 2^30 pixels, got ",
              logits.sizes());
  TORCH_CHECK(elements_fit(logits.size(0), C * logits.size(2) * logits.size(3)),
              "logits must have B * C * h * w <= 2^34 elements, got ", logits.sizes());
  TORCH_CHECK(radius >= 0 && radius <= kMaxRadius, "radius must be in [0, ", kMaxRadius, "], got ", radius);
  TORCH_CHECK(sigma >= 0 && std::isfinite(sigma), "sigma must be a finite number >= 0, got ", sigma);
  TORCH_CHECK(out_h >= 1 && out_w >= 1 && image_fits(out_h, out_w),
              "out_size must be (H, W) with H, W >= 1 and H * W <= 2^30 pixels, got (", out_h, ", ", out_w, ")");
  TORCH_CHECK(elements_fit(logits.size(0), out_h * out_w), "out_size (", out_h, ", ", out_w, ") for ",
              logits.size(0), " images makes outputs of more than 2^34 elements each");
  if (class_weights.has_value()) {
    const auto& w = *class_weights;
    TORCH_CHECK(w.dim() == 1 && w.size(0) == C, "class_weights must have shape (", C, ",), got ", w.sizes());
    TORCH_CHECK(w.scalar_type() == at::kFloat, "class_weights must be float32, got ", w.scalar_type());
    TORCH_CHECK(w.device() == logits.device(), "class_weights must be on ", logits.device(), ", got ", w.device());
  }
  if (labeled.has_value()) {
    const auto& l = *labeled;
    TORCH_CHECK(l.scalar_type() == at::kBool, "labeled must be bool, got ", l.scalar_type());
    TORCH_CHECK(l.dim() == 3 && l.size(0) == logits.size(0) && l.size(1) == out_h && l.size(2) == out_w,
                "labeled must have shape (", logits.size(0), ", ", out_h, ", ", out_w, "), got ", l.sizes());
    TORCH_CHECK(l.device() == logits.device(), "labeled must be on ", logits.device(), ", got ", l.device());
  }
  RegionScoreCall call;
  call.logits = logits.contiguous();
  if (class_weights.has_value()) call.class_weights = class_weights->contiguous();
  if (labeled.has_value()) call.labeled = labeled->contiguous();
  const auto opts = logits.options().dtype(at::kFloat);
  const std::vector<int64_t> shape{logits.size(0), out_h, out_w};
  call.score = at::empty(shape, opts);
  call.impurity = at::empty(shape, opts);
  call.uncertainty = at::empty(shape, opts);
  return call;
}

SelectRegionsCall prepare_select_regions(const at::Tensor& score, at::IntArrayRef num_regions, int64_t radius,
                                         int64_t exclusion_radius) {
  TORCH_CHECK(score.dim() == 3, "score must be 3-D (B, H, W), got ", score.dim(), "-D");
  TORCH_CHECK(score.scalar_type() == at::kFloat, "score must be float32, got ", score.scalar_type());
  TORCH_CHECK(static_cast<int64_t>(num_regions.size()) == score.size(0), "num_regions must have one entry per image (",
              score.size(0), "), got ", num_regions.size());
  TORCH_CHECK(image_fits(score.size(1), score.size(2)), "score must have H * W <= 2^30 pixels, got ", score.sizes());
  int64_t max_regions = 0;
  for (int64_t n : num_regions) {
    TORCH_CHECK(n >= 0 && n <= kMaxElements / 2, "num_regions must be in [0, 2^33], got ", n);
    max_regions = std::max(max_regions, n);
  }
  TORCH_CHECK(elements_fit(score.size(0), 2 * max_regions), "num_regions: centers (", score.size(0), ", ",
              max_regions, ", 2) would have more than 2^34 elements");
  TORCH_CHECK(radius >= 0 && radius <= kMaxSelectRadius, "radius must be in [0, 2^31 - 1], got ", radius);
  TORCH_CHECK(exclusion_radius >= 0 && exclusion_radius <= kMaxSelectRadius,
              "exclusion_radius must be in [0, 2^31 - 1], got ", exclusion_radius);
  SelectRegionsCall call;
  call.score = score.contiguous();
  call.num_regions.assign(num_regions.begin(), num_regions.end());
  call.B = score.size(0);
  call.H = static_cast<int>(score.size(1));
  call.W = static_cast<int>(score.size(2));
  call.max_regions = max_regions;
  // a window larger than the image marks the whole image
  const int64_t side = std::max(call.H, call.W);
  call.r = static_cast<int>(std::min(radius, side));
  call.m = static_cast<int>(std::min(exclusion_radius, side));
  const auto opts = score.options();
  call.centers = at::full({call.B, call.max_regions, 2}, -1, opts.dtype(at::kLong));
  call.selected = at::zeros({call.B, call.H, call.W}, opts.dtype(at::kBool));
  call.excluded = at::zeros({call.B, call.H, call.W}, opts.dtype(at::kBool));
  return call;
}

std::tuple<at::Tensor, at::Tensor> sort_candidates(const at::Tensor& score) {
  // Adding +0.0 turns -0.0 into +0.0: a radix sort orders them apart, the greedy definition ties them.
  const at::Tensor flat = (score.reshape({score.size(0), score.size(1) * score.size(2)}) + 0.0).contiguous();
  auto sorted = at::sort(flat, /*stable=*/true, /*dim=*/1, /*descending=*/true);
  return {std::get<0>(sorted).contiguous(), std::get<1>(sorted).contiguous()};
}

}  // namespace dwaca
