#pragma once
#include <cstdint>

namespace dwaca {

// Whether the loops below run their fused multiply-add build (x86-64 with AVX2 + FMA, or aarch64) or the baseline
// one. Decided once; ATEN_CPU_CAPABILITY=default, PyTorch's own switch, forces the baseline (so tests can run it).
bool cpu_loops_use_fma();

// Class (first argmax) and weighted normalised entropy of one output row of W pixels from its logits
// v (C x W, overwritten); cw may be null (all ones); mx, sum, ent are W-float scratch rows.
void entropy_row(float* v, int C, int W, const float* cw, float inv_log_c, float* mx, float* sum, float* ent,
                 int* cls, float* we);

// Impurity and uncertainty of the flat (sigma = 0) window for output pixels x in [x0, x1) of one row whose
// (2K+1) window rows and columns all lie inside the image: cls_rows[r], we_rows[r] point at window row r.
void flat_window_row_k1(const int* const* cls_rows, const float* const* we_rows, int x0, int x1, float inv_log_c,
                        float* impurity, float* uncertainty);
void flat_window_row_k2(const int* const* cls_rows, const float* const* we_rows, int x0, int x1, float inv_log_c,
                        float* impurity, float* uncertainty);

}  // namespace dwaca
