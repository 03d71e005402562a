"""Evaluation of a segmentation model on a labelled loader."""
import torch

from ..losses import upsample_to
from .metrics import ConfusionMatrix


@torch.no_grad()
def predict(model, image, size, flip=False):
    """(B, H, W) class predictions of ``model`` for ``image`` (B, 3, h, w) at ``size`` (H, W), as the published
    test.py: the logits upsampled (bilinear, align_corners=True) to ``size``, the softmax, with ``flip`` averaged
    with the softmax of the horizontally flipped image's (flipped back), then the argmax."""
    prob = upsample_to(model(image).float(), size).softmax(1)
    if flip:
        prob = (prob + upsample_to(model(image.flip(-1)).float(), size).softmax(1).flip(-1)) / 2
    return prob.argmax(1)


@torch.no_grad()
def evaluate(model, data_loader, num_classes, device, class_names=None, flip=False, on_batch=None):
    """Run ``model`` over ``data_loader`` and score it.

    The loader yields dicts with "image" (B, 3, H, W) float and "label" (B, H, W) integer (255 = ignored); the
    predictions are ``predict``'s at the label size. ``on_batch(batch, pred)``, if given, sees every batch with its
    (B, H, W) int64 predictions (on ``device``), e.g. to save them. The model is put in eval mode and restored to its
    previous mode afterwards.
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
            if on_batch is not None:
                on_batch(batch, pred)
    finally:
        model.train(was_training)
    iou, miou, pixel_acc = confusion.compute()
    return {"mIoU": miou, "per_class_iou": dict(zip(names, iou.tolist())), "pixel_acc": pixel_acc,
            "confusion": confusion}
