"""Pure-PyTorch, vectorised reference implementations: the tests' oracle and the benchmark's baseline.

Same signatures and semantics as :mod:`dwaca.ops` (see its docstring). The bilinear upsampling is written out
with the kernels' operation order, so the upsampled logits (and hence every argmax) are bit-identical to the
kernels'; it equals ``F.interpolate(..., mode="bilinear", align_corners=True)`` up to float rounding.
"""
import math

import torch
import torch.nn.functional as F

from ._args import (MAX_CLASSES, MAX_RADIUS, check_score, class_weights_arg, int_arg, labeled_arg, logits_arg,
                    num_regions_arg, select_radii_arg, sigma_arg)
from ._types import RegionScore, Selection

__all__ = ["region_score", "select_regions", "upsample_bilinear", "window_weights", "MAX_RADIUS", "MAX_CLASSES"]


def _axis(n_in, n_out, device):
    f32 = torch.float32
    scale = (torch.tensor(float(n_in - 1), dtype=f32) / torch.tensor(float(n_out - 1), dtype=f32)
             if n_out > 1 else torch.tensor(0.0, dtype=f32)).to(device)
    src = scale * torch.arange(n_out, dtype=f32, device=device)
    i0 = src.to(torch.int64).clamp(max=n_in - 1)
    i1 = i0 + (i0 < n_in - 1).to(torch.int64)
    l1 = src - i0.to(f32)
    return i0, i1, 1.0 - l1, l1


def upsample_bilinear(x, out_size):
    """(B, C, h, w) float32 -> (B, C, H, W), bilinear with align_corners=True."""
    H, W = out_size
    if tuple(x.shape[-2:]) == (H, W):
        return x
    y0, y1, ly0, ly1 = _axis(x.shape[-2], H, x.device)
    x0, x1, lx0, lx1 = _axis(x.shape[-1], W, x.device)
    r0, r1 = x[:, :, y0], x[:, :, y1]
    top = lx0 * r0[..., x0] + lx1 * r0[..., x1]
    bot = lx0 * r1[..., x0] + lx1 * r1[..., x1]
    return ly0[:, None] * top + ly1[:, None] * bot


def window_weights(radius, sigma, device=None):
    """(2k+1, 2k+1) float32: exp(-(dy^2 + dx^2) / (2 sigma^2)), or ones for sigma == 0."""
    d = torch.arange(-radius, radius + 1, dtype=torch.float64)
    if sigma == 0:
        return torch.ones(2 * radius + 1, 2 * radius + 1, dtype=torch.float32, device=device)
    d2 = d[:, None] ** 2 + d[None, :] ** 2
    g = torch.exp(-d2 / (2.0 * sigma * sigma))
    g[radius, radius] = 1.0  # exp(-0 / (2 sigma^2)), also where 2 sigma^2 underflows to 0
    return g.to(torch.float32).to(device)


def region_score(logits, *, radius=1, class_weights=None, out_size=None, labeled=None, sigma=0.0):
    """Reference for :func:`dwaca.ops.region_score`: conv-based, materialises every intermediate."""
    B, C, H, W = logits_arg(logits, out_size)
    radius = int_arg("radius", radius, 0, MAX_RADIUS)
    sigma = sigma_arg(sigma)
    cw = class_weights_arg(class_weights, C, logits.device)
    lab = labeled_arg(labeled, (B, H, W), logits.device)
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("logits contain NaN or inf")
    v = upsample_bilinear(logits.float(), (H, W))
    cls = v.argmax(dim=1)
    p = torch.softmax(v, dim=1)
    log_c = math.log(C)
    entropy = -(p * torch.log(p + 1e-6)).sum(dim=1) / log_c
    weighted = entropy if cw is None else cw[cls] * entropy

    g = window_weights(radius, sigma, logits.device)
    pad = radius
    one_hot = F.one_hot(cls, C).permute(0, 3, 1, 2).to(torch.float32)
    counts = F.conv2d(one_hot, g.expand(C, 1, -1, -1), padding=pad, groups=C)
    n = F.conv2d(torch.ones(1, 1, H, W, device=logits.device), g[None, None], padding=pad)
    d = counts / n
    impurity = -(d * torch.log(d + 1e-6)).sum(dim=1) / log_c
    uncertainty = F.conv2d(weighted[:, None], g[None, None], padding=pad)[:, 0] / n[:, 0]
    score = impurity * uncertainty
    if lab is not None:
        score = score.masked_fill(lab, -math.inf)
    return RegionScore(score, impurity, uncertainty)


def select_regions(score, num_regions, *, radius=1, exclusion_radius=None):
    """Reference for :func:`dwaca.ops.select_regions`: the max-then-mask loop, one host sync per region."""
    check_score(score)
    r, m = select_radii_arg(radius, exclusion_radius)
    B, H, W = score.shape
    counts, n_max = num_regions_arg(num_regions, B)
    centers = torch.full((B, n_max, 2), -1, dtype=torch.int64, device=score.device)
    selected = torch.zeros(B, H, W, dtype=torch.bool, device=score.device)
    excluded = torch.zeros(B, H, W, dtype=torch.bool, device=score.device)
    for b in range(B if H * W else 0):
        avail = score[b].clone()
        flat = avail.view(-1)
        for i in range(counts[b]):
            idx = int(flat.argmax())  # the first maximum: ties go to the smallest row-major index
            if flat[idx] == -math.inf:
                break
            y, x = divmod(idx, W)
            centers[b, i, 0], centers[b, i, 1] = y, x
            selected[b, max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = True
            excluded[b, max(0, y - m):y + m + 1, max(0, x - m):x + m + 1] = True
            avail[max(0, y - m):y + m + 1, max(0, x - m):x + m + 1] = -math.inf
    return Selection(centers, selected, excluded)
