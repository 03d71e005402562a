"""Dynamic class weights: classes the model segments badly get larger weights in the region score."""
import torch

from ..ops._args import real_arg

MODES = ("dwaca", "smoothed", "shrunk", "uniform")


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


def _support_tensor(support, num_classes):
    """(C,) float64 pixel counts; ValueError naming ``support`` if it is not C finite counts >= 0."""
    try:
        support = torch.as_tensor(support, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:
        raise TypeError(f"support must be a 1-D sequence or tensor of pixel counts ({e})") from None
    if support.shape != (num_classes,) or not torch.isfinite(support).all() or (support < 0).any():
        raise ValueError(f"support must hold {num_classes} finite pixel counts >= 0 (one per class), got "
                         f"shape {tuple(support.shape)}")
    return support


def shrunk_iou(iou, support):
    """Each class's IoU pulled toward the mean IoU ``m`` by how few pixels it rests on:
    ``(n_c * iou_c + n0 * m) / (n_c + n0)`` with n_c = ``support[c]`` and n0 = the mean support (the pixels a class
    would have if the labelled ones were spread evenly). A class at the mean support moves halfway; NaN (no pixel)
    becomes m. ``iou`` (C,) float64 with NaN, ``support`` (C,) float64."""
    known = ~torch.isnan(iou)
    mean = iou[known].mean()
    n0 = support.mean()
    if n0 <= 0:
        return torch.where(known, iou, mean)
    return (support * torch.nan_to_num(iou, nan=0.0) + n0 * mean) / (support + n0)


def dynamic_class_weights(per_class_iou, mode="dwaca", *, floor=0.1, power=1.0, support=None):
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

    mode="shrunk" (ours) is "smoothed" on ``shrunk_iou``: an IoU measured on a handful of bought pixels (a rare
    class early on) is mostly the mean IoU, so a noisy 0 does not pull the whole budget to that class. ``support``:
    (C,) labelled pixels per class behind the IoU (the confusion matrix's row sums); None (an IoU from the full
    evaluation set) means no shrinking.

    mode="uniform" returns ones (RIPU: no class weighting).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    iou = _iou_tensor(per_class_iou)
    known = ~torch.isnan(iou)
    if mode == "uniform" or not known.any():
        return torch.ones(iou.numel(), dtype=torch.float32)
    if mode == "shrunk" and support is not None:
        iou = shrunk_iou(iou, _support_tensor(support, iou.numel()))
        known = ~torch.isnan(iou)
    iou = torch.where(known, iou, iou[known].mean())
    if mode == "dwaca":
        r = 1.0 / (iou / (iou.sum() + 1e-6) + 1e-6)
        w = (r - r.min() + 1e-6) / (r.max() - r.min() + 1e-6)
    else:
        floor, power = _positive("floor", floor), _positive("power", power)
        base = (1.0 - iou) + floor
        w = (base / base.max()) ** power  # scaled before the power: in (0, 1], no overflow to inf / inf for any power
    return w.to(torch.float32)
