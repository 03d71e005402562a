"""Acquisition strategies behind one interface, so they spend identical budgets and compare fairly.

Every strategy maps a batch of logits to a (B, H, W) float32 score at the label's resolution, ``-inf`` on pixels
that must not become region centres (the annotated mask dilated by the selection radius, see ``dilate``); the
selection round then hands that score to ``dwaca.ops.select_regions`` with the setting's radius and budget.

* ``AL-DWACA``: ``region_score`` with dynamic class weights (``dynamic_class_weights`` of the per-class IoU,
  ``ACTIVE.WEIGHT_MODE``) and ``ACTIVE.SIGMA`` context weighting: impurity x class-weighted uncertainty. The weight
  of a pixel is that of its predicted class, or with ``ACTIVE.SOFT_WEIGHTS`` the expected weight under its softmax
  (``expected_weight``).
* ``AL-RIPU``: ``region_score`` with uniform weights and the flat window (RIPU's region impurity x uncertainty).
* ``entropy``: the ``uncertainty`` output alone (mean normalised entropy of the window, uniform weights).
* ``random``: i.i.d. uniform scores from a seeded ``torch.Generator`` (drawn on the CPU, so the draw does not depend
  on the device).

The impurity is always that of the radius-k window (``score_radius``); the uncertainty is the mean over a window of
``uncertainty_radius``, k in the region setting (RIPU's RegionSelection) and 0, the pixel's own (weighted)
entropy, in the pixel setting (RIPU's PixelSelection scores entropy x spatial purity).
"""
import torch
import torch.nn.functional as F

from ..ops import region_score
from .expected_weight import expected_weight_uncertainty
from .weights import dynamic_class_weights

STRATEGIES = ("AL-DWACA", "AL-RIPU", "entropy", "random")


def dilate(mask, radius):
    """(B, H, W) bool -> (B, H, W) bool: every pixel within Chebyshev distance ``radius`` of a True pixel (a
    (2r+1)^2 max-pool, clipped at the border). A region of radius r centred outside the result cannot touch
    ``mask``."""
    if radius <= 0:
        return mask.clone()
    return F.max_pool2d(mask.unsqueeze(1).float(), 2 * radius + 1, stride=1, padding=radius).squeeze(1) > 0


def class_weights_for(name, per_class_iou, num_classes, mode="dwaca", support=None):
    """(C,) float32 weights of a strategy: dynamic for AL-DWACA (uniform while no IoU is known), else ones.
    support: the labelled pixels per class behind ``per_class_iou`` (mode "shrunk"), None if unknown."""
    if name != "AL-DWACA" or per_class_iou is None:
        return torch.ones(num_classes, dtype=torch.float32)
    return dynamic_class_weights(per_class_iou, mode=mode, support=support)


def strategy_scores(name, logits, *, out_size, blocked, score_radius=1, uncertainty_radius=None, class_weights=None,
                    sigma=0.0, soft_weights=False, generator=None):
    """(B, H, W) float32 acquisition score of strategy ``name`` on ``logits`` (B, C, h, w).

    out_size: the label's (H, W) (logits are upsampled to it inside the kernel); blocked: (B, H, W) bool, pixels
    that may not be picked (the dilated annotated mask), -inf in the result; score_radius: neighbourhood of the
    impurity; uncertainty_radius: neighbourhood of the uncertainty (default score_radius); class_weights: (C,) for
    AL-DWACA; soft_weights: AL-DWACA weights each pixel by the expected class weight under its softmax instead of
    its argmax class's; generator: the seeded CPU generator of ``random``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"ACTIVE.NAME '{name}' is not one of {STRATEGIES}")
    B = logits.shape[0]
    H, W = out_size
    if name == "random":
        score = torch.rand((B, H, W), generator=generator, dtype=torch.float32).to(logits.device)
        return score.masked_fill(blocked, float("-inf"))
    if uncertainty_radius is None:
        uncertainty_radius = score_radius
    cw = class_weights.to(logits.device) if name == "AL-DWACA" and class_weights is not None else None
    sigma = sigma if name == "AL-DWACA" else 0.0
    if cw is not None and soft_weights and not bool((cw == cw[0]).all()):  # equal weights: the kernel's own result
        # the impurity ignores the weights; passing them has the kernel refuse bad ones, naming class_weights
        impurity = region_score(logits, radius=score_radius, class_weights=cw, out_size=(H, W), sigma=sigma).impurity
        uncertainty = expected_weight_uncertainty(logits, (H, W), cw, radius=uncertainty_radius, sigma=sigma)
        return (impurity * uncertainty).masked_fill(blocked, float("-inf"))
    scored = region_score(logits, radius=uncertainty_radius, class_weights=cw, out_size=(H, W), labeled=blocked,
                          sigma=sigma)
    if name == "entropy":
        return scored.uncertainty.masked_fill(blocked, float("-inf"))
    if uncertainty_radius == score_radius:
        return scored.score
    impurity = region_score(logits, radius=score_radius, out_size=(H, W), sigma=sigma).impurity
    return (impurity * scored.uncertainty).masked_fill(blocked, float("-inf"))
