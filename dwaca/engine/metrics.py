"""Segmentation metrics from a confusion matrix accumulated on the device.

SYNTHIA -> Cityscapes reports two means from one 16-class model (class order of ``dwaca.data.labels``: road,
sidewalk, building, wall, fence, pole, light, sign, vegetation, sky, person, rider, car, bus, motorcycle, bicycle):
mIoU16 over all 16 classes and mIoU13 without wall, fence and pole: ``mean_iou(iou, MIOU13_OF_16)``.
"""
import math

import torch

IGNORE_INDEX = 255
MIOU13_OF_16 = (0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)


class ConfusionMatrix:
    """``mat[t, p]`` counts pixels of true class t predicted as p: a (num_classes, num_classes) int64 tensor on
    ``device``, a plain attribute so a distributed run can ``all_reduce`` (sum) it before ``compute()``."""

    def __init__(self, num_classes, device="cpu"):
        self.num_classes = num_classes
        self.mat = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    @torch.no_grad()
    def update(self, pred, target):
        """pred, target: integer tensors of one shape (e.g. (B, H, W)). Pixels whose target is ``IGNORE_INDEX`` or
        outside [0, num_classes), or whose prediction is outside that range, are not counted."""
        n = self.num_classes
        pred = pred.reshape(-1).to(self.mat.device, torch.int64)
        target = target.reshape(-1).to(self.mat.device, torch.int64)
        keep = (target >= 0) & (target < n) & (pred >= 0) & (pred < n)
        self.mat += torch.bincount(target[keep] * n + pred[keep], minlength=n * n).reshape(n, n)

    def reset(self):
        self.mat.zero_()

    def support(self):
        """(num_classes,) int64 CPU tensor: the counted pixels of each true class (the rows' sums)."""
        return self.mat.sum(1).cpu()

    def compute(self):
        """-> (iou, miou, pixel_acc): iou a float64 CPU tensor (num_classes,), NaN for a class absent from both the
        predictions and the targets (its IoU is undefined, so it is left out of the mean); miou the nanmean of iou;
        pixel_acc the fraction of counted pixels predicted right (NaN if none were counted)."""
        mat = self.mat.double().cpu()
        tp = mat.diag()
        union = mat.sum(0) + mat.sum(1) - tp
        iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, math.nan))
        total = mat.sum()
        pixel_acc = (tp.sum() / total).item() if total > 0 else math.nan
        return iou, mean_iou(iou), pixel_acc


def mean_iou(iou, classes=None):
    """nanmean of per-class ``iou`` (a tensor), over the class indices ``classes`` (default all): e.g.
    ``mean_iou(iou, MIOU13_OF_16)``. NaN if every selected class is NaN."""
    iou = torch.as_tensor(iou, dtype=torch.float64)
    if classes is not None:
        iou = iou[list(classes)]
    return iou.nanmean().item()


def format_table(class_names, iou, title=""):
    """A per-class IoU table in percent, one class a line, the mIoU last; NaN classes shown as "n/a"."""
    width = max([len(n) for n in class_names] + [4])
    lines = [title] if title else []
    lines.append(f"{'class':<{width}}  IoU(%)")
    for name, v in zip(class_names, torch.as_tensor(iou).tolist()):
        lines.append(f"{name:<{width}}  " + ("n/a" if math.isnan(v) else f"{100 * v:6.2f}"))
    lines.append(f"{'mIoU':<{width}}  {100 * mean_iou(iou):6.2f}")
    return "\n".join(lines)
