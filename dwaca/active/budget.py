"""Budgets: what each selection round may buy per image, identical for every strategy, and the ACTIVE keys a
run's budget depends on.

``ACTIVE.SELECT_ITER []`` means no selection round: the run trains without target labels (the source-only
reference of ``tools/sweep.py``).

(H, W = the label's size, n = len(ACTIVE.SELECT_ITER), r = 0 .. n-1 the round; the pool's ``budget_pixels`` is the
sum over images and rounds done.)

* "RA": radius k = ACTIVE.RADIUS_K, exclusion 2k (so a centre is also more than 2k from earlier rounds' centres,
  as in RIPU); per image, round r buys ``floor(RATIO * (r+1) / n * H * W / (2k+1)^2)`` regions minus what rounds
  0 .. r-1 planned, so the rounds together plan ``floor(RATIO * H * W / (2k+1)^2)`` regions: the rounding shortfall
  is carried to later rounds and is below one region in all. Budget ``regions * (2k+1)^2`` pixels. (RIPU takes
  ``ceil(RATIO / n * H * W / (2k+1)^2)`` every round, which can overspend RATIO by up to n regions.) Regions a round
  does not buy (no candidate left, or labels an annotator did not return) are not carried.
* "PA" (RIPU's pixel-based setting): single pixels (radius 0), exclusion k = RADIUS_K within a round and, through
  the dilation of the annotated mask, from every earlier pick; ``ceil(PIXELS / n / (1280 * 640) * H * W)`` pixels
  per image and round, RIPU's formula: ACTIVE.PIXELS counts pixels per 1280 x 640 image over all rounds (RIPU uses
  Cityscapes' 2048 x 1024 for H x W whatever the image; the same on Cityscapes). The score is RIPU's pixel score:
  the impurity of the radius-k window times the pixel's own (class-weighted) entropy.
"""
import math

import numpy as np
import torch

from ..ops import MAX_RADIUS
from .errors import AnnotationError
from .strategies import STRATEGIES

SETTINGS = ("RA", "PA")
PA_REFERENCE_AREA = 1280 * 640  # RIPU defines ACTIVE.PIXELS per image of this size


def check_active_config(cfg, source="the config"):
    """Raise AnnotationError naming ``source`` and the key if cfg.ACTIVE cannot define a budget."""
    active = cfg.ACTIVE
    problems = []
    if active.NAME not in STRATEGIES:
        problems.append(f"ACTIVE.NAME '{active.NAME}' is not one of {STRATEGIES}")
    if active.SETTING not in SETTINGS:
        problems.append(f"ACTIVE.SETTING '{active.SETTING}' is not one of {SETTINGS}")
    if int(active.RADIUS_K) != active.RADIUS_K or not 0 <= active.RADIUS_K <= MAX_RADIUS:
        problems.append(f"ACTIVE.RADIUS_K must be an integer in 0..{MAX_RADIUS}, got {active.RADIUS_K}")
    if active.SETTING == "RA" and not 0 < float(active.RATIO) <= 1:
        problems.append(f"ACTIVE.RATIO must be in (0, 1], got {active.RATIO}")
    if active.SETTING == "PA" and int(active.PIXELS) < 1:
        problems.append(f"ACTIVE.PIXELS must be >= 1, got {active.PIXELS}")
    if int(active.BATCH_SIZE) < 1:
        problems.append(f"ACTIVE.BATCH_SIZE must be >= 1, got {active.BATCH_SIZE}")
    if problems:
        raise AnnotationError(f"{source}: " + "; ".join(problems))


def round_plan(active_cfg, round_index, height, width):
    """What round ``round_index`` buys in one image of (height, width).

    Returns dict(count=regions (RA) or pixels (PA) per image, radius=window radius, exclusion=exclusion radius
    between the round's picks, block=how far a pick stays from pixels already bought (the annotated mask's
    dilation), score_radius=neighbourhood of the impurity, uncertainty_radius=neighbourhood of the uncertainty,
    budget_pixels=pixels allowed per image)."""
    setting = active_cfg.SETTING
    n = len(active_cfg.SELECT_ITER)
    k = int(active_cfg.RADIUS_K)
    if n == 0:
        raise ValueError("ACTIVE.SELECT_ITER is empty")
    if not 0 <= round_index < n:
        raise ValueError(f"round {round_index} out of range for {n} rounds")
    if setting == "RA":
        area = (2 * k + 1) ** 2
        # cumulative targets: the rounds' counts add up to floor(RATIO * H * W / area), the shortfall carried
        planned = [int(np.floor(float(active_cfg.RATIO) * r / n * height * width / area))
                   for r in (round_index, round_index + 1)]
        count = planned[1] - planned[0]
        return dict(count=count, radius=k, exclusion=2 * k, block=k, score_radius=k, uncertainty_radius=k,
                    budget_pixels=count * area)
    if setting == "PA":
        count = math.ceil(int(active_cfg.PIXELS) / n / PA_REFERENCE_AREA * (height * width))
        return dict(count=count, radius=0, exclusion=k, block=k, score_radius=k, uncertainty_radius=0,
                    budget_pixels=count)
    raise ValueError(f"ACTIVE.SETTING '{setting}' is not one of {SETTINGS}")


def window_area(centers, radius, height, width):
    """Sum over ``centers`` ((N, 2) (row, col), -1 padded) of the in-image area of their (2r+1)^2 windows."""
    c = centers[(centers >= 0).all(-1)].to(torch.int64)
    if c.numel() == 0:
        return 0
    rows = (c[:, 0] + radius).clamp(max=height - 1) - (c[:, 0] - radius).clamp(min=0) + 1
    cols = (c[:, 1] + radius).clamp(max=width - 1) - (c[:, 1] - radius).clamp(min=0) + 1
    return int((rows * cols).sum())


def budget_config(active):
    """The ACTIVE keys a run's selection and budgets depend on, {"ACTIVE.KEY": value} (RATIO in RA, PIXELS in PA):
    what must not change once a run has bought labels."""
    config = {"ACTIVE.NAME": active.NAME, "ACTIVE.SETTING": active.SETTING,
              "ACTIVE.SELECT_ITER": [int(i) for i in active.SELECT_ITER], "ACTIVE.RADIUS_K": int(active.RADIUS_K)}
    if active.SETTING == "RA":
        config["ACTIVE.RATIO"] = float(active.RATIO)
    else:
        config["ACTIVE.PIXELS"] = int(active.PIXELS)
    return config


def config_differences(was, now):
    """'KEY old, ...; this run has KEY new, ...' for the keys of two ``budget_config``-like dicts that differ, or
    '' if none does."""
    differ = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
    if not differ:
        return ""
    return (f"{', '.join(f'{k} {was.get(k)!r}' for k in differ)}; this run has "
            f"{', '.join(f'{k} {now.get(k)!r}' for k in differ)}")
