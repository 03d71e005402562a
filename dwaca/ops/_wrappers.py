"""The Python side of every region_score and select_regions op: argument checks, the call, the checks of its results.

Shared by :mod:`dwaca.ops` (the public ops) and :mod:`dwaca.ops.cuda_emulation` (the CUDA kernels' code on the CPU),
which pass the op to call.
"""
import math

import torch

from ._args import (CLASS_WEIGHTS_VALUES, MAX_RADIUS, check_score, class_weights_arg, int_arg, labeled_arg,
                    logits_arg, num_regions_arg, select_radii_arg, sigma_arg)
from ._types import RegionScore, Selection


def region_score_with(op, max_classes, logits, radius, class_weights, out_size, labeled, sigma):
    B, C, H, W = logits_arg(logits, out_size, max_classes)
    radius = int_arg("radius", radius, 0, MAX_RADIUS)
    sigma = sigma_arg(sigma)
    cw = class_weights_arg(class_weights, C, logits.device, check_values=False)
    lab = labeled_arg(labeled, (B, H, W), logits.device)
    score, impurity, uncertainty = op(logits, cw, lab, radius, sigma, H, W)
    # The value checks cost one host sync after the kernel: the kernels mark NaN/inf logits by a NaN impurity
    # (otherwise always finite), and the weights must be finite and >= 0 (bad weights only make bad outputs, which
    # are then not returned).
    if cw is not None:
        total, weight_min, weight_max = torch.stack([impurity.sum(), *torch.aminmax(cw)]).tolist()  # NaN propagates
        if not (weight_min >= 0 and math.isfinite(weight_max)):
            raise ValueError(CLASS_WEIGHTS_VALUES)
    else:
        total = impurity.sum().item() if B > 0 else 0.0
    if math.isnan(total):
        raise ValueError("logits contain NaN or inf")
    return RegionScore(score, impurity, uncertainty)


def select_regions_with(op, score, num_regions, radius, exclusion_radius):
    check_score(score)
    radius, exclusion_radius = select_radii_arg(radius, exclusion_radius)
    B, H, W = score.shape
    counts, n = num_regions_arg(num_regions, B)
    if B == 0:  # no image to carry the count: keep N from an int num_regions
        return Selection(score.new_full((0, n, 2), -1, dtype=torch.int64),
                         score.new_zeros((0, H, W), dtype=torch.bool), score.new_zeros((0, H, W), dtype=torch.bool))
    centers, selected, excluded = op(score, counts, radius, exclusion_radius)
    return Selection(centers, selected, excluded)
