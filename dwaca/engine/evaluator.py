"""Evaluation of a segmentation model on a labelled loader."""
import torch

from ..losses import upsample_to
from .metrics import ConfusionMatrix


@torch.no_grad()
def evaluate(model, data_loader, num_classes, device, class_names=None):
    """Run ``model`` over ``data_loader`` and score it.

    The loader yields dicts with "image" (B, 3, H, W) float and "label" (B, H, W) integer (255 = ignored); the
    logits are upsampled to the label size (bilinear, align_corners=True) before the argmax. The model is put in
    eval mode and restored to its previous mode afterwards.
    Returns {"mIoU": float, "per_class_iou": {name: float (NaN = class absent from predictions and labels)},
    "pixel_acc": float, "confusion": ConfusionMatrix}; names default to the class indices as strings.
    """
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for {num_classes} classes")
    was_training = model.training
    model.eval()
    confusion = ConfusionMatrix(num_classes, device)
    try:
        for batch in data_loader:
            image = batch["image"].to(device, non_blocking=True)
            label = batch["label"].to(device, non_blocking=True)
            pred = upsample_to(model(image), label.shape[-2:]).argmax(1)
            confusion.update(pred, label)
    finally:
        model.train(was_training)
    iou, miou, pixel_acc = confusion.compute()
    return {"mIoU": miou, "per_class_iou": dict(zip(names, iou.tolist())), "pixel_acc": pixel_acc,
            "confusion": confusion}
