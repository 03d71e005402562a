// The op schemas (one per op, implemented per device in cpu/ and cuda/) and the Python module dwaca._C.
// torch.ops.dwaca holds the public ops only: the ops through which tests and benchmarks reach the CUDA kernels' code
// are no API, and live in torch.ops.dwaca_testing.
#include <torch/extension.h>
#include <torch/library.h>

#include "cpu/region_score_entropy.h"
#include "region_math.h"

#ifdef WITH_CUDA
#include <cuda.h>
#endif

TORCH_LIBRARY(dwaca, m) {
  // logits (B, C, h, w) float/half/bfloat16 -> score, impurity, uncertainty, each (B, out_h, out_w) float32.
  m.def(
      "region_score(Tensor logits, Tensor? class_weights, Tensor? labeled, int radius, float sigma, "
      "int out_h, int out_w) -> (Tensor, Tensor, Tensor)");
  // score (B, H, W) float32 -> centers (B, max(num_regions), 2) int64, selected (B, H, W) bool, excluded (B, H, W) bool.
  m.def("select_regions(Tensor score, int[] num_regions, int radius, int exclusion_radius) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY(dwaca_testing, m) {
  // region_score through the tiled CUDA kernel (at most 64 classes): on CUDA that kernel, on CPU its block code run
  // serially (for tests without a GPU). row_reuse=false turns off its pixel phase's column strips.
  m.def(
      "region_score_tiled(Tensor logits, Tensor? class_weights, Tensor? labeled, int radius, float sigma, "
      "int out_h, int out_w, bool row_reuse) -> (Tensor, Tensor, Tensor)");
  // For tests without a GPU, CPU only: select_regions through the CUDA walk, its warps emulated lane by lane.
  m.def(
      "select_regions_cuda_emulated(Tensor score, int[] num_regions, int radius, int exclusion_radius) "
      "-> (Tensor, Tensor, Tensor)");
}

namespace {

py::dict build_info() {
  py::dict info;
#ifdef WITH_CUDA
  info["cuda"] = true;
  info["cuda_version"] = std::to_string(CUDA_VERSION / 1000) + "." + std::to_string((CUDA_VERSION % 1000) / 10);
  info["cuda_arch_list"] = DWACA_CUDA_ARCH_LIST;
#else
  info["cuda"] = false;
  info["cuda_version"] = py::none();
#endif
  info["torch_version"] = TORCH_VERSION;
  info["max_radius"] = dwaca::kMaxRadius;
  info["max_classes"] = dwaca::kMaxClasses;
  info["max_image_pixels"] = dwaca::kMaxImagePixels;
  info["max_elements"] = dwaca::kMaxElements;
  info["max_select_radius"] = dwaca::kMaxSelectRadius;
  info["cpu_loops"] = dwaca::cpu_loops_use_fma() ? "fma" : "baseline";
  return info;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "dwaca kernels; importing this module registers the torch.ops.dwaca and torch.ops.dwaca_testing operators";
  m.def("build_info", &build_info, "How this extension was built: CUDA or not, versions, limits");
}
