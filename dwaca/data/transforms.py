"""Paired image/label transforms on ``torchvision.transforms.v2``.

Inputs are a ``tv_tensors.Image`` (3, H, W) uint8 and one or more ``tv_tensors.Mask`` (H, W) uint8 label maps
(train ids, 255 = ignore). One call draws its random parameters once and applies them to every input, so image,
label and any annotation mask stay aligned. Images are resized with ``resize_image`` (bicubic by default, as the
published code); masks only ever with ``resize_mask`` (PIL's nearest neighbour, as the published code), and padding
of a mask is filled with the ignore label. Outputs are plain tensors: the image (3, h, w) float32 normalised, each
mask (h, w) int64.

Sizes in the config are (W, H), as in RIPU.
"""
import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from .labels import IGNORE_INDEX

MODES = ("train_source", "train_target", "test", "select")
INTERPOLATIONS = ("bicubic", "bilinear")  # INPUT.INTERPOLATION: how images are resized


def resize_image(image, size_hw, interpolation="bicubic"):
    """(3, H, W) uint8 image -> (3, h, w) uint8 at ``size_hw`` (h, w); a tv_tensors.Image stays one.

    "bicubic" is PIL's ``Image.resize(..., BICUBIC)`` itself, byte for byte what the published code feeds its
    network (torchvision's antialiased bicubic on uint8 tensors differs from it by 1 in ~0.4% of the values).
    "bilinear" is torchvision's antialiased bilinear on the tensor."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if image.dtype != torch.uint8:
        raise TypeError(f"resize_image takes a uint8 image, got {image.dtype}")
    size_hw = [int(s) for s in size_hw]
    plain = image.as_subclass(torch.Tensor)
    if interpolation == "bicubic":
        out = F.pil_to_tensor(F.to_pil_image(plain).resize(size_hw[::-1], Image.BICUBIC))
    else:
        out = F.resize(plain, size_hw, interpolation=InterpolationMode.BILINEAR, antialias=True)
    return tv_tensors.wrap(out, like=image) if isinstance(image, tv_tensors.Image) else out


def resize_mask(mask, size_hw):
    """(H, W) uint8 label map -> (h, w) uint8 at ``size_hw`` (h, w) with PIL's nearest neighbour, as the published
    code resizes labels: each output pixel takes the id under its centre, so no id is ever invented (torchvision's
    nearest-exact rounds the centres differently: at 2048x1024 -> 1280x640 it takes the neighbouring pixel at 13.5%
    of the positions). A tv_tensors.Mask stays one."""
    if mask.dtype != torch.uint8 or mask.ndim != 2:
        raise TypeError(f"resize_mask takes an (H, W) uint8 label map, got {tuple(mask.shape)} {mask.dtype}")
    resized = Image.fromarray(mask.as_subclass(torch.Tensor).numpy()).resize(size_hw[::-1], Image.NEAREST)
    out = torch.from_numpy(np.array(resized))
    return tv_tensors.wrap(out, like=mask) if isinstance(mask, tv_tensors.Mask) else out


def _resize(inpt, size, interpolation):
    """Resize an Image with ``resize_image`` or a Mask with ``resize_mask`` to size (H, W)."""
    if isinstance(inpt, tv_tensors.Mask):
        return resize_mask(inpt, [int(s) for s in size])
    return resize_image(inpt, size, interpolation)


class PairedResize(v2.Transform):
    """Resize every image and mask to a fixed size (H, W)."""

    def __init__(self, size_hw, interpolation="bicubic"):
        super().__init__()
        self.size_hw = tuple(int(s) for s in size_hw)
        self.interpolation = interpolation

    def transform(self, inpt, params):
        return _resize(inpt, self.size_hw, self.interpolation)


class RandomScaledResize(v2.Transform):
    """Resize to ``size_hw`` times one factor drawn uniformly from ``scale_range``, shared by all inputs.

    With scale_range (1, 1) this is ``PairedResize(size_hw)``; follow it with a crop to ``size_hw``."""

    def __init__(self, size_hw, scale_range, interpolation="bicubic"):
        super().__init__()
        self.size_hw = tuple(int(s) for s in size_hw)
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.interpolation = interpolation

    def make_params(self, flat_inputs):
        lo, hi = self.scale_range
        s = lo + (hi - lo) * torch.rand(()).item()
        return {"size": [max(1, round(self.size_hw[0] * s)), max(1, round(self.size_hw[1] * s))]}

    def transform(self, inpt, params):
        return _resize(inpt, params["size"], self.interpolation)


class ResizeImageOnly(v2.Transform):
    """Test-time resize of the image to (H, W); masks pass through at their original resolution.

    Evaluation and active selection upsample the logits to the label grid, so the label is never resampled."""

    def __init__(self, size_hw, interpolation="bicubic"):
        super().__init__()
        self.size_hw = tuple(int(s) for s in size_hw)
        self.interpolation = interpolation

    def transform(self, inpt, params):
        if isinstance(inpt, tv_tensors.Mask):
            return inpt
        return resize_image(inpt, self.size_hw, self.interpolation)


class NormalizeImage(v2.Transform):
    """uint8 image -> float32 normalised with mean/std; ``to_bgr255`` reproduces RIPU's TO_BGR255 (Caffe weights):
    channels reversed and kept in 0..255 before the mean/std are applied (mean/std then in 0..255 units).
    Scaling divides by 255 as torchvision's ``to_tensor`` in the published code does (multiplying by 1/255, as
    ``v2.ToDtype`` does, differs in the last bit for half the uint8 values)."""

    def __init__(self, mean, std, to_bgr255=False):
        super().__init__()
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.to_bgr255 = bool(to_bgr255)

    def transform(self, inpt, params):
        if isinstance(inpt, tv_tensors.Mask):
            return inpt
        if self.to_bgr255:
            image = tv_tensors.wrap(inpt.flip(-3).to(torch.float32), like=inpt)
        else:
            image = tv_tensors.wrap(inpt.to(torch.float32).div(255), like=inpt)
        return F.normalize(image, mean=self.mean, std=self.std)


class SegmentationTransform:
    """Callable ``(image, *masks) -> (image, *masks)`` around a ``v2.Compose``.

    image: tv_tensors.Image or (3, H, W) uint8 tensor; masks: (H, W) uint8 tensors or tv_tensors.Mask.
    Returns plain tensors: image (3, h, w) float32, masks (h, w) int64."""

    def __init__(self, steps):
        self.pipeline = v2.Compose(steps)

    def __call__(self, image, *masks):
        image = image if isinstance(image, tv_tensors.Image) else tv_tensors.Image(image)
        masks = tuple(m if isinstance(m, tv_tensors.Mask) else tv_tensors.Mask(m) for m in masks)
        out = self.pipeline(image, *masks) if masks else (self.pipeline(image),)
        image, *masks = out
        return (image.as_subclass(torch.Tensor), *(m.as_subclass(torch.Tensor).to(torch.int64) for m in masks))

    def __repr__(self):
        return f"SegmentationTransform({self.pipeline})"


def normalize_only(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), to_bgr255=False):
    """No geometry: only uint8 -> normalised float image and int64 masks (the datasets' default)."""
    return SegmentationTransform([NormalizeImage(mean, std, to_bgr255)])


def train_transform(size_wh, scale_range=(1.0, 1.0), ignore_label=IGNORE_INDEX, hflip_prob=0.5, color_jitter=0.0,
                    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), to_bgr255=False, interpolation="bicubic"):
    """Random scale around ``size_wh`` (W, H), crop to ``size_wh`` (padding: image 0, mask ``ignore_label``),
    horizontal flip with ``hflip_prob``, colour jitter of strength ``color_jitter`` (0 = off; brightness, contrast
    and saturation by that fraction, hue by a quarter of it) and normalisation. Images are resized with
    ``interpolation`` (see ``resize_image``), masks with ``resize_mask``."""
    size_hw = (int(size_wh[1]), int(size_wh[0]))
    steps = []
    if tuple(scale_range) == (1.0, 1.0):
        steps.append(PairedResize(size_hw, interpolation))
    else:
        steps += [RandomScaledResize(size_hw, scale_range, interpolation),
                  v2.RandomCrop(size_hw, pad_if_needed=True,
                                fill={tv_tensors.Image: 0, tv_tensors.Mask: int(ignore_label)})]
    if hflip_prob > 0:
        steps.append(v2.RandomHorizontalFlip(hflip_prob))
    if color_jitter > 0:
        steps.append(v2.ColorJitter(color_jitter, color_jitter, color_jitter, min(0.5, color_jitter / 4)))
    steps.append(NormalizeImage(mean, std, to_bgr255))
    return SegmentationTransform(steps)


def eval_transform(size_wh, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), to_bgr255=False,
                   interpolation="bicubic"):
    """Resize the image to ``size_wh`` (W, H) with ``interpolation``, keep masks at full resolution, normalise."""
    return SegmentationTransform([ResizeImageOnly((int(size_wh[1]), int(size_wh[0])), interpolation),
                                  NormalizeImage(mean, std, to_bgr255)])


def build_transforms(cfg, mode):
    """Transforms for ``mode``:

    * ``train_source`` / ``train_target``: ``train_transform`` at INPUT.SOURCE_INPUT_SIZE_TRAIN /
      INPUT.TARGET_INPUT_SIZE_TRAIN with INPUT.INPUT_SCALES_TRAIN; flip probability and colour jitter come from
      INPUT.HFLIP_PROB_TRAIN and INPUT.COLOR_JITTER_TRAIN (both 0 by default, as in RIPU).
    * ``test`` / ``select``: ``eval_transform`` at INPUT.INPUT_SIZE_TEST (label kept at full resolution).

    Images are resized with INPUT.INTERPOLATION ("bicubic", the published one, or "bilinear").
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    inp = cfg.INPUT
    if int(inp.IGNORE_LABEL) != IGNORE_INDEX:  # the label tables, losses and metrics all ignore 255
        raise ValueError(f"INPUT.IGNORE_LABEL must be {IGNORE_INDEX} (RIPU's value, which the label tables, losses "
                         f"and metrics use), got {inp.IGNORE_LABEL}")
    norm = dict(mean=list(inp.PIXEL_MEAN), std=list(inp.PIXEL_STD), to_bgr255=bool(inp.TO_BGR255),
                interpolation=str(inp.INTERPOLATION))
    if mode in ("test", "select"):
        return eval_transform(inp.INPUT_SIZE_TEST, **norm)
    size = inp.SOURCE_INPUT_SIZE_TRAIN if mode == "train_source" else inp.TARGET_INPUT_SIZE_TRAIN
    return train_transform(size, scale_range=tuple(float(s) for s in inp.INPUT_SCALES_TRAIN),
                           ignore_label=int(inp.IGNORE_LABEL), hflip_prob=float(inp.HFLIP_PROB_TRAIN),
                           color_jitter=float(inp.COLOR_JITTER_TRAIN), **norm)
