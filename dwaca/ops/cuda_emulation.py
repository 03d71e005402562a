"""The CUDA kernels' own code run on the CPU, for tests where no GPU is visible.

:func:`region_score` runs the tiled CUDA kernel's block code (``csrc/region_score_tile.h``; region_score's CUDA
kernel up to 64 classes) block by block and thread by thread; :func:`select_regions` runs the CUDA walk
(``csrc/select_regions_walk.h``) with each warp emulated lane by lane. Same arguments, results and errors as
:func:`dwaca.ops.region_score` and :func:`dwaca.ops.select_regions`, CPU tensors only. Slow: not for real work.
"""
from functools import partial

import torch

from ._wrappers import region_score_with, select_regions_with

MAX_CLASSES = 64  # csrc/region_score_tile.h kTileMaxClasses


def region_score(logits, *, radius=1, class_weights=None, out_size=None, labeled=None, sigma=0.0, row_reuse=True):
    """``row_reuse=False``: the tiled kernel's pixel phase one pixel at a time, not in column strips."""
    return region_score_with(partial(torch.ops.dwaca_testing.region_score_tiled, row_reuse=row_reuse), MAX_CLASSES,
                             logits, radius, class_weights, out_size, labeled, sigma)


def select_regions(score, num_regions, *, radius=1, exclusion_radius=None):
    return select_regions_with(torch.ops.dwaca_testing.select_regions_cuda_emulated, score, num_regions, radius,
                               exclusion_radius)
