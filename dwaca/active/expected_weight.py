"""The uncertainty of ``ACTIVE.SOFT_WEIGHTS``: each pixel's entropy weighted by the expected class weight under its
softmax, ``sum_c p_c w_c``, instead of the weight of its argmax class.

The published weighting looks the weight up by the predicted class, so an uncertain pixel predicted as a class the
model segments badly (road taken for a pole, say) takes that class's weight whole, and one predicted as a good class
takes almost nothing however likely the bad class is. The expectation moves smoothly between the two: it equals the
argmax weight on a confident pixel and every weight equally on a uniform one.

Computed with torch ops, one image at a time (the upsampled logits of one image are the largest tensor), with the
same upsampling, entropy and window as ``dwaca.ops.region_score``; the fused kernels cover only the argmax weights.
"""
import math

import torch
import torch.nn.functional as F

from ..ops.reference import upsample_bilinear, window_weights


def _window_mean(values, radius, sigma):
    """(B, H, W) -> (B, H, W): the (optionally Gaussian-weighted) mean over the window clipped at the border."""
    g = window_weights(radius, sigma, values.device)[None, None]
    total = F.conv2d(values[:, None], g, padding=radius)
    count = F.conv2d(torch.ones_like(values[:1, None]), g, padding=radius)
    return (total / count)[:, 0]


def expected_weight_uncertainty(logits, out_size, class_weights, *, radius=1, sigma=0.0):
    """(B, H, W) float32: the window mean of ``(sum_c p_c w_c) * e``, where p is the softmax of the logits upsampled
    to ``out_size`` (bilinear, align_corners=True), e the normalised entropy ``-sum_c p_c log(p_c + 1e-6) / log C``
    and w = ``class_weights`` (C,) on the logits' device. With uniform weights it is region_score's uncertainty."""
    rows = []
    for image in logits.float().split(1):
        p = torch.softmax(upsample_bilinear(image, out_size), dim=1)
        entropy = -(p * torch.log(p + 1e-6)).sum(dim=1) / math.log(p.shape[1])
        weight = torch.einsum("bchw,c->bhw", p, class_weights.float())
        rows.append(_window_mean(weight * entropy, radius, sigma))
    return torch.cat(rows)  # split gives an empty batch one empty chunk, so rows is never empty
