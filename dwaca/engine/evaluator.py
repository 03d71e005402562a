"""Evaluation of a segmentation model on a labelled loader."""
import torch

from ..losses import upsample_to
from .metrics import ConfusionMatrix


@torch.no_grad()
def predict(model, image, size, flip=False):
    """(B, H, W) class predictions of ``model`` at ``size`` (H, W): the logits upsampled (bilinear,
    align_corners=True), then the argmax; with ``flip`` the argmax of the mean softmax over the image and its
    horizontal flip (RIPU's test-time flip)."""
    logits = upsample_to(model(image), size)
    if not flip:
        return logits.argmax(1)
    flipped = upsample_to(model(image.flip(-1)), size).flip(-1)
    return (logits.softmax(1) + flipped.softmax(1)).argmax(1)


@torch.no_grad()
def evaluate(model, data_loader, num_classes, device, class_names=None, flip=False):
    """Run ``model`` over ``data_loader`` and score it.

    The loader yields dicts with "image" (B, 3, H, W) float and "label" (B, H, W) integer (255 = ignored); the
    predictions are ``predict``'s at the label size. The model is put in eval mode and restored to its previous
    mode afterwards.
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
            pred = predict(model, image, label.shape[-2:], flip)
            confusion.update(pred, label)
    finally:
        model.train(was_training)
    iou, miou, pixel_acc = confusion.compute()
    return {"mIoU": miou, "per_class_iou": dict(zip(names, iou.tolist())), "pixel_acc": pixel_acc,
            "confusion": confusion}
