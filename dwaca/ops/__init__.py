"""Public kernels: fused DWACA/RIPU region scoring and exact greedy region selection.

Both run as registered torch ops (``torch.ops.dwaca.*``), dispatching on the input's device to the C++ (CPU) or
CUDA implementation in ``csrc/``. ``dwaca.ops.reference`` holds the pure-PyTorch oracle with the same signatures.

Semantics of :func:`region_score` with ``sigma=0`` (the published ones). For every output pixel, after bilinear
upsampling of the logits to ``out_size`` (``align_corners=True``):

- ``p = softmax(logits)`` over C; ``e = -sum_c p_c log(p_c + 1e-6) / log C``; ``w = class_weights[argmax p]``
  (ties to the smallest class);
- the neighbourhood is the (2k+1)^2 window clipped at the image border, ``n`` its number of in-image pixels;
  ``d_c`` the fraction of them predicted as class c;
- ``impurity = -sum_c d_c log(d_c + 1e-6) / log C``; ``uncertainty = sum_window w e / n``;
  ``score = impurity * uncertainty``, ``-inf`` where ``labeled``.

``sigma > 0`` is the context-aware variant: each neighbour counts with weight ``exp(-(dy^2 + dx^2) / (2 sigma^2))``
in both the class histogram and the entropy average (``n`` becomes the sum of in-image weights).
"""
import torch

from .. import _extension
from . import reference
from ._args import MAX_CLASSES, MAX_ELEMENTS, MAX_IMAGE_PIXELS, MAX_RADIUS, MAX_SELECT_RADIUS
from ._types import RegionScore, Selection
from ._wrappers import region_score_with, select_regions_with

__all__ = ["region_score", "select_regions", "RegionScore", "Selection", "reference", "MAX_RADIUS", "MAX_CLASSES"]


def _check_build():
    """Raises ImportError unless dwaca._C was compiled with the limits this package checks arguments against."""
    info = _extension.build_info()
    wrong = [f"{key} {info.get(key)}, not {want}"
             for key, want in (("max_radius", MAX_RADIUS), ("max_classes", MAX_CLASSES),
                               ("max_image_pixels", MAX_IMAGE_PIXELS), ("max_elements", MAX_ELEMENTS),
                               ("max_select_radius", MAX_SELECT_RADIUS)) if info.get(key) != want]
    if wrong:
        raise ImportError(f"dwaca._C was built from other sources ({'; '.join(wrong)}); {_extension.REBUILD}")


_check_build()


def region_score(logits, *, radius=1, class_weights=None, out_size=None, labeled=None, sigma=0.0):
    """Fused DWACA region score.

    Args:
        logits: (B, C, h, w) float32, float16 or bfloat16 network outputs (before softmax).
        radius: k, the neighbourhood is the (2k+1)^2 window, 0 <= k <= MAX_RADIUS.
        class_weights: (C,) non-negative weights per predicted class (tensor on the logits' device, or a sequence);
            None means all ones (RIPU).
        out_size: (H, W) to upsample to (bilinear, align_corners=True) inside the kernel; None keeps (h, w).
            H * W <= 2^30 (also h * w), and B * H * W <= 2^34 (also B * C * h * w).
        labeled: (B, H, W) bool, pixels already annotated; their score is -inf.
        sigma: Gaussian context weighting of the neighbourhood; 0 is the flat published window.

    Returns:
        RegionScore(score, impurity, uncertainty), each (B, H, W) float32 on the logits' device. Not
        differentiable (argmax and histograms): the outputs never require grad, even for logits that do.

    Raises:
        TypeError / ValueError naming the argument on bad input, ValueError if the logits hold NaN or inf.
    """
    return region_score_with(torch.ops.dwaca.region_score, MAX_CLASSES, logits, radius, class_weights, out_size,
                             labeled, sigma)


def select_regions(score, num_regions, *, radius=1, exclusion_radius=None):
    """Exact greedy region selection.

    Repeatedly takes the highest finite score whose pixel is not yet excluded (ties: smallest row-major index),
    marks its (2r+1)^2 window selected and its (2m+1)^2 window excluded (m = exclusion_radius, default 2r), both
    clipped at the borders; stops after ``num_regions`` picks or when no finite candidate remains. Identical, bit
    for bit, to the max-then-mask loop in ``reference.select_regions``. ``radius=0, exclusion_radius=k`` is
    pixel-based selection (PA).

    Args:
        score: (B, H, W) float32, H * W <= 2^30; -inf marks pixels that must never be picked.
        num_regions: int, or one int per image, each in [0, 2^33], with B * max(num_regions) * 2 <= 2^34.
        radius, exclusion_radius: in [0, 2^31 - 1]; a window wider than the image covers all of it.

    Returns:
        Selection(centers (B, N, 2) int64 (row, col) with -1 where fewer than N were picked, N = max(num_regions);
        selected (B, H, W) bool; excluded (B, H, W) bool). Not differentiable: no output requires grad.

    Raises:
        TypeError / ValueError naming the argument on bad input, ValueError if the score holds NaN or +inf.
    """
    return select_regions_with(torch.ops.dwaca.select_regions, score, num_regions, radius, exclusion_radius)


def _region_score_fake(logits, class_weights, labeled, radius, sigma, out_h, out_w):
    shape = (logits.shape[0], out_h, out_w)
    return tuple(logits.new_empty(shape, dtype=torch.float32) for _ in range(3))


torch.library.register_fake("dwaca::region_score", _region_score_fake)


@torch.library.register_fake("dwaca_testing::region_score_tiled")
def _region_score_tiled_fake(logits, class_weights, labeled, radius, sigma, out_h, out_w, row_reuse):
    return _region_score_fake(logits, class_weights, labeled, radius, sigma, out_h, out_w)


def _select_regions_fake(score, num_regions, radius, exclusion_radius):
    B, H, W = score.shape
    n = max(num_regions, default=0)
    return (score.new_empty((B, n, 2), dtype=torch.int64), score.new_empty((B, H, W), dtype=torch.bool),
            score.new_empty((B, H, W), dtype=torch.bool))


torch.library.register_fake("dwaca::select_regions", _select_regions_fake)
torch.library.register_fake("dwaca_testing::select_regions_cuda_emulated", _select_regions_fake)


# No op has a derivative (argmax, histograms, a greedy walk). Without an autograd formula their outputs would
# require grad whenever the input does (with a warning), and backward would silently give no gradient: the outputs
# are marked non-differentiable instead, so they never require grad and no backward can reach the op.
def _outputs_not_differentiable(ctx, inputs, output):
    ctx.mark_non_differentiable(*output)


def _not_differentiable(op_name):
    def backward(ctx, *grads):
        raise RuntimeError(f"{op_name} is not differentiable: its outputs come from an argmax and window histograms")
    return backward


for _name in ("dwaca::region_score", "dwaca::select_regions", "dwaca_testing::region_score_tiled",
              "dwaca_testing::select_regions_cuda_emulated"):
    torch.library.register_autograd(_name, _not_differentiable(_name.split("::")[1]),
                                    setup_context=_outputs_not_differentiable)
