import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from dwaca.engine.evaluator import evaluate, predict
from dwaca.engine.metrics import MIOU13_OF_16, ConfusionMatrix, format_table, mean_iou

# 8 counted pixels of 4 classes; class 3 never appears. mat[t, p]:
#   t=0: p=0 x2, p=1 x1      t=1: p=1 x2      t=2: p=0 x1, p=2 x2
PRED = torch.tensor([0, 0, 1, 1, 1, 0, 2, 2])
TARGET = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
# IoU = tp / (row + col - tp): class 0: 2 / (3 + 3 - 2), class 1: 2 / (2 + 3 - 2), class 2: 2 / (3 + 2 - 2).
IOU = [0.5, 2 / 3, 2 / 3]


def test_confusion_matrix_and_scores_match_hand_counts():
    cm = ConfusionMatrix(4)
    cm.update(PRED.view(2, 4), TARGET.view(2, 4))
    assert cm.mat.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    iou, miou, acc = cm.compute()
    assert iou[:3].tolist() == pytest.approx(IOU)
    assert math.isnan(iou[3])  # absent from predictions and targets: undefined, left out of the mean
    assert miou == pytest.approx(sum(IOU) / 3)
    assert acc == pytest.approx(6 / 8)


def test_ignored_and_out_of_range_pixels_are_not_counted():
    cm = ConfusionMatrix(4)
    cm.update(torch.cat([PRED, torch.tensor([1, 2, 9, -1])]), torch.cat([TARGET, torch.tensor([255, 4, 1, 1])]))
    assert cm.mat.sum() == 8
    assert cm.compute()[0][:3].tolist() == pytest.approx(IOU)


def test_a_class_only_predicted_has_zero_iou_not_nan():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([2, 0]), torch.tensor([0, 0]))
    iou, miou, _ = cm.compute()
    assert iou[0] == pytest.approx(0.5) and iou[2] == 0.0 and math.isnan(iou[1])
    assert miou == pytest.approx(0.25)


def test_matrices_sum_like_an_all_reduce():
    a, b, whole = ConfusionMatrix(4), ConfusionMatrix(4), ConfusionMatrix(4)
    a.update(PRED[:5], TARGET[:5])
    b.update(PRED[5:], TARGET[5:])
    whole.update(PRED, TARGET)
    a.mat += b.mat
    assert torch.equal(a.mat, whole.mat)
    a.reset()
    assert a.mat.sum() == 0


def test_subset_mean_iou():
    iou = torch.tensor([0.2, math.nan, 0.6, 1.0])
    assert mean_iou(iou) == pytest.approx(0.6)
    assert mean_iou(iou, [0, 1, 2]) == pytest.approx(0.4)
    assert math.isnan(mean_iou(iou, [1]))
    assert len(MIOU13_OF_16) == 13 and not {3, 4, 5} & set(MIOU13_OF_16) and max(MIOU13_OF_16) == 15
    iou16 = torch.arange(16, dtype=torch.float64) / 100
    assert mean_iou(iou16, MIOU13_OF_16) == pytest.approx((iou16.sum() - 0.12).item() / 13)


def test_format_table_lists_every_class_and_the_mean():
    table = format_table(["road", "sidewalk", "wall"], torch.tensor([0.5, math.nan, 0.25]), title="val")
    lines = table.splitlines()
    assert lines[0] == "val"
    assert lines[2].split() == ["road", "50.00"] and lines[3].split() == ["sidewalk", "n/a"]
    assert lines[-1].split() == ["mIoU", "37.50"]


class _Pairs(Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "label": self.labels[i], "name": f"img{i}"}


class _HalfResolutionLogits(nn.Module):
    """Logits (B, 2, 1, 2) from the image: class 0 = the image's first two values along a row, class 1 = 0.7."""

    def forward(self, x):
        c0 = x[:, :1, :1, :2]
        return torch.cat([c0, torch.full_like(c0, 0.7)], 1)


def test_evaluate_upsamples_with_aligned_corners_and_restores_train_mode():
    # Class-0 logits 0 and 4 upsample to 0, 1, 2, 3, 4 with aligned corners -> predictions 1, 0, 0, 0, 0
    # (without aligned corners the second pixel would be 0.4 < 0.7 -> class 1).
    image = torch.zeros(2, 3, 1, 5)
    image[:, 0, 0, 1] = 4.0
    label = torch.tensor([[[1, 0, 0, 0, 0]], [[1, 0, 255, 0, 1]]])
    model = _HalfResolutionLogits().train()
    result = evaluate(model, DataLoader(_Pairs(image, label), batch_size=1), 2, "cpu", ["a", "b"])
    assert model.training
    # Counted: 5 + 4 pixels, one wrong (the last of image 2). IoU 0: 6 / (6 + 7 - 6); IoU 1: 2 / (3 + 2 - 2).
    assert result["pixel_acc"] == pytest.approx(8 / 9)
    assert result["per_class_iou"] == pytest.approx({"a": 6 / 7, "b": 2 / 3})
    assert result["mIoU"] == pytest.approx((6 / 7 + 2 / 3) / 2)
    assert result["confusion"].mat.tolist() == [[6, 0], [1, 2]]


def test_evaluate_with_a_conv_model_on_random_data_matches_the_plain_argmax():
    torch.manual_seed(0)
    images, labels = torch.randn(5, 3, 8, 12), torch.randint(0, 3, (5, 8, 12))
    labels[0, :2] = 255
    model = nn.Conv2d(3, 3, 1)
    result = evaluate(model, DataLoader(_Pairs(images, labels), batch_size=2), 3, torch.device("cpu"))
    pred = model(images).argmax(1)
    keep = labels != 255
    assert result["pixel_acc"] == pytest.approx((pred[keep] == labels[keep]).double().mean().item())
    assert list(result["per_class_iou"]) == ["0", "1", "2"]


def test_evaluate_with_flip_scores_the_mean_softmax_of_the_image_and_its_mirror():
    torch.manual_seed(0)
    images, labels = torch.randn(4, 3, 6, 10), torch.randint(0, 3, (4, 6, 10))
    model = nn.Conv2d(3, 3, (1, 3), padding=(0, 1))  # left/right asymmetric: the flip changes its output
    with torch.no_grad():
        probs = model(images).softmax(1) + model(images.flip(-1)).flip(-1).softmax(1)
        plain = model(images).argmax(1)
    expected = probs.argmax(1)
    assert not torch.equal(expected, plain)  # the data exercise the flip
    loader = DataLoader(_Pairs(images, labels), batch_size=3)
    for flip, pred in ((True, expected), (False, plain)):
        result = evaluate(model, loader, 3, torch.device("cpu"), flip=flip)
        reference = ConfusionMatrix(3, "cpu")
        reference.update(pred, labels)
        assert torch.equal(result["confusion"].mat, reference.mat), flip


def test_predict_is_the_published_inference():
    """The published test.py: logits upsampled to the label size (bilinear, aligned corners), softmax, the mean with
    the flipped image's (flipped back), argmax."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 5, 3, stride=4), nn.Conv2d(5, 5, (1, 3), padding=(0, 1)))
    image, size = 2 * torch.randn(2, 3, 16, 24), (21, 37)
    with torch.no_grad():
        def prob(x):
            return nn.functional.interpolate(model(x), size=size, mode="bilinear", align_corners=True).softmax(1)
        published = ((prob(image) + prob(image.flip(3)).flip(3)) / 2).argmax(1)
        up = nn.functional.interpolate(model(image), size=size, mode="bilinear", align_corners=True)
        up_flip = nn.functional.interpolate(model(image.flip(3)), size=size, mode="bilinear", align_corners=True)
        mean_logits = (up + up_flip.flip(3)).argmax(1)
    assert not torch.equal(published, mean_logits)  # the data tell the softmax mean from the logit mean
    assert torch.equal(predict(model, image, size, flip=True), published)
    assert torch.equal(predict(model, image, size), prob(image).argmax(1))
