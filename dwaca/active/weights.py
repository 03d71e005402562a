"""Dynamic class weights: classes the model segments badly get larger weights in the region score."""
import torch

from ..ops._args import real_arg

MODES = ("dwaca", "smoothed", "uniform")


def _iou_tensor(per_class_iou):
    if isinstance(per_class_iou, torch.Tensor) and (per_class_iou.dtype == torch.bool or per_class_iou.is_complex()):
        raise TypeError(f"per_class_iou must hold real numbers, got {per_class_iou.dtype}")
    try:
        iou = torch.as_tensor(per_class_iou, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:  # what as_tensor raises for a non-number
        raise TypeError(f"per_class_iou must be a 1-D sequence or tensor of numbers, got {type(per_class_iou).__name__}"
                        f" ({e})") from None
    if iou.dim() != 1:
        raise ValueError(f"per_class_iou must be 1-D (one IoU per class), got shape {tuple(iou.shape)}")
    if iou.numel() < 2:
        raise ValueError(f"per_class_iou must hold one IoU per class (at least 2), got {iou.numel()}")
    finite = iou[~torch.isnan(iou)]
    if torch.isinf(iou).any() or (finite < 0).any() or (finite > 1 + 1e-6).any():
        raise ValueError("per_class_iou must be fractions in [0, 1] or NaN (absent class); "
                         f"got min {finite.min().item() if finite.numel() else 'n/a'}, "
                         f"max {finite.max().item() if finite.numel() else 'n/a'} (percentages?)")
    return iou.clamp(0.0, 1.0)


def _positive(name, value):
    value = real_arg(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return value


def dynamic_class_weights(per_class_iou, mode="dwaca", *, floor=0.1, power=1.0):
    """(C,) float32 class weights from per-class IoU (fractions in [0, 1]; NaN for a class never seen).

    mode="dwaca" is the published formula::

        r_c = 1 / (iou_c / (sum_j iou_j + 1e-6) + 1e-6)
        w_c = (r_c - min r + 1e-6) / (max r - min r + 1e-6)

    Its degenerate cases, kept as published:

    - a class at IoU 0 gets r_c ~ 1e6, so after min-max scaling it takes weight ~1 and every other class ~1e-5:
      the score then only sees pixels predicted as that class;
    - the best class always gets ~1e-6 / (max r - min r): its pixels are effectively never worth annotating;
    - all IoUs equal (or all 0) gives every class ~1 only through the 1e-6 terms.
    NaN (a class absent from the evaluated pixels) has no published meaning: in every mode it is replaced by the
    mean of the known IoUs, so an unseen class is treated as average; all NaN gives uniform weights.

    mode="smoothed" (ours) avoids those cases: ``w_c = ((1 - iou_c) + floor) ** power``, divided by its maximum.
    It is monotone in IoU like the published one, bounded in [(floor / (1 + floor)) ** power, 1], so no class is
    silenced and no single class takes all the weight; ``floor`` sets the best-to-worst ratio, ``power`` sharpens.

    mode="uniform" returns ones (RIPU: no class weighting).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    iou = _iou_tensor(per_class_iou)
    known = ~torch.isnan(iou)
    if mode == "uniform" or not known.any():
        return torch.ones(iou.numel(), dtype=torch.float32)
    iou = torch.where(known, iou, iou[known].mean())
    if mode == "dwaca":
        r = 1.0 / (iou / (iou.sum() + 1e-6) + 1e-6)
        w = (r - r.min() + 1e-6) / (r.max() - r.min() + 1e-6)
    else:
        floor, power = _positive("floor", floor), _positive("power", power)
        base = (1.0 - iou) + floor
        w = (base / base.max()) ** power  # scaled before the power: in (0, 1], no overflow to inf / inf for any power
    return w.to(torch.float32)
