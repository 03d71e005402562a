"""``build_model(cfg)``: a DeepLab head on a torchvision backbone, named "<head>_<backbone>" as in RIPU.

Heads: ``deeplabv2`` (logits at the backbone's output stride) and ``deeplabv3plus`` (logits at stride 4).
Backbones and their output strides:
  resnet101            stride 8 (layer3 and layer4 dilated, as RIPU/DWACA)
  resnet18             stride 32 (torchvision's BasicBlock cannot dilate); light, for CPU runs
  mobilenetv3          stride 16 (MobileNetV3-Large, last stage dilated); light, for CPU runs
From random initialisation on CPU, deeplabv3plus_resnet18 reaches a given accuracy much sooner than mobilenetv3
(which is only ~25% cheaper per step), hence the demo configs use it.
``MODEL.WEIGHTS`` initialises the backbone: "" = random, a local file holding the torchvision classification model's
state_dict, an http(s) URL of one (RIPU's configs), or a torchvision weights name such as "IMAGENET1K_V2". A local
file holding a checkpoint of the published DWACA / RIPU code (``published.py``) initialises the whole model,
backbone and head.
"""
import os
from dataclasses import dataclass
from typing import Callable

import torch
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter

from .checkpoint import check_model_config, check_state_fits, load_model_state
from .deeplab import ASPPClassifierV2, DeepLabV3PlusHead, SegmentationModel
from .published import is_published, published_checkpoint


@dataclass(frozen=True)
class BackboneSpec:
    arch: str  # torchvision builder name
    builder_kwargs: dict
    features: Callable[[nn.Module], nn.Module]  # the classification model -> the part the heads read from
    return_layers: dict  # module name in ``features`` -> "low" (stride 4) / "out" (deepest)
    low_channels: int
    out_channels: int
    output_stride: int
    v3plus_width: int  # ASPP/decoder channels: RIPU's 512 for ResNet-101, narrower for the light backbones
    classifier_prefix: str  # ImageNet classifier keys, absent from the backbone


def _resnet(arch, dilate, out_channels, low_channels, output_stride, width):
    return BackboneSpec(arch, {"replace_stride_with_dilation": [False, dilate, dilate]}, lambda m: m,
                        {"layer1": "low", "layer4": "out"}, low_channels, out_channels, output_stride, width, "fc.")


BACKBONES = {
    "resnet101": _resnet("resnet101", True, 2048, 256, 8, 512),
    "resnet18": _resnet("resnet18", False, 512, 64, 32, 128),
    # features[3] is the last stride-4 block (24 ch); features[16] the final 1x1 conv (960 ch).
    "mobilenetv3": BackboneSpec("mobilenet_v3_large", {"dilated": True}, lambda m: m.features,
                                {"3": "low", "16": "out"}, 24, 960, 16, 128, "classifier."),
}
HEADS = ("deeplabv2", "deeplabv3plus")
MODEL_NAMES = tuple(f"{h}_{b}" for h in HEADS for b in BACKBONES)


def _load_weights_file(path):
    """The file's ImageNet state_dict, or its published checkpoint as is."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"MODEL.WEIGHTS: cannot read '{path}' as a torch state_dict: {e}") from e
    if is_published(state):
        return state
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"MODEL.WEIGHTS: '{path}' holds neither a plain state_dict (name -> tensor) nor a "
                         "published DWACA / RIPU checkpoint")
    return state


def load_backbone_weights(model, state, source, classifier_prefix):
    """Copy an ImageNet state_dict into a torchvision classification ``model``; raise naming ``source`` on any
    key or shape mismatch. Keys of the ImageNet classifier may be absent: the heads never use it."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches surface here even with strict=False
        raise ValueError(f"MODEL.WEIGHTS: '{source}' does not fit {type(model).__name__}: {e}") from e
    missing = [k for k in missing if not k.startswith(classifier_prefix)]
    if missing or unexpected:
        raise ValueError(
            f"MODEL.WEIGHTS: '{source}' does not fit {type(model).__name__}: "
            f"{len(missing)} missing keys {missing[:5]}, {len(unexpected)} unexpected keys {unexpected[:5]}")


def _weight_names(arch):
    return list(torchvision.models.get_model_weights(arch).__members__)  # with the "DEFAULT" alias


def build_classification_backbone(spec, weights="", state=None):
    """The torchvision classification model of ``spec``, initialised from ``weights`` (see module doc); ``state``:
    the contents of the file ``weights`` where already read."""
    if not weights:
        return torchvision.models.get_model(spec.arch, weights=None, **spec.builder_kwargs)
    if os.path.isfile(weights) or weights.startswith(("http://", "https://")):
        model = torchvision.models.get_model(spec.arch, weights=None, **spec.builder_kwargs)
        if state is None and os.path.isfile(weights):
            state = _load_weights_file(weights)
        elif state is None:
            state = torch.hub.load_state_dict_from_url(weights, map_location="cpu")
        load_backbone_weights(model, state, weights, spec.classifier_prefix)
        return model
    if weights in _weight_names(spec.arch):
        return torchvision.models.get_model(spec.arch, weights=weights, **spec.builder_kwargs)
    raise ValueError(f"MODEL.WEIGHTS '{weights}' is neither an existing file, a URL, nor a torchvision weights "
                     f"name for {spec.arch} ({', '.join(_weight_names(spec.arch))})")


def build_model(cfg):
    """A ``SegmentationModel`` from ``cfg.MODEL`` (NAME, NUM_CLASSES, WEIGHTS, FREEZE_BN).

    forward: (B, 3, H, W) -> (B, NUM_CLASSES, h, w) logits at ``model.logit_stride`` (not upsampled).
    """
    weights = cfg.MODEL.WEIGHTS
    state = _load_weights_file(weights) if weights and os.path.isfile(weights) else None
    if not is_published(state):
        return _build(cfg, weights, state)
    model = _build(cfg, "")
    load_model_state(model, published_checkpoint(state), weights)
    return model


def _build(cfg, weights, state=None):
    """``build_model`` with the backbone initialised from ``weights`` (``state``: its file's contents, if read)."""
    name = cfg.MODEL.NAME
    head_name, _, backbone_name = name.partition("_")
    if head_name not in HEADS or backbone_name not in BACKBONES:
        raise ValueError(f"MODEL.NAME '{name}' is not one of {', '.join(MODEL_NAMES)}")
    spec = BACKBONES[backbone_name]
    classifier_model = build_classification_backbone(spec, weights, state)
    backbone = IntermediateLayerGetter(spec.features(classifier_model), return_layers=spec.return_layers)
    num_classes = cfg.MODEL.NUM_CLASSES
    if head_name == "deeplabv2":
        head, stride = ASPPClassifierV2(spec.out_channels, num_classes), spec.output_stride
    else:
        head = DeepLabV3PlusHead(spec.out_channels, spec.low_channels, num_classes, width=spec.v3plus_width)
        stride = 4
    return SegmentationModel(backbone, head, logit_stride=stride, freeze_bn=cfg.MODEL.FREEZE_BN)


def check_checkpoint_fits(path, state, cfg):
    """CheckpointError naming ``path`` if the checkpoint ``state`` (``load_checkpoint``'s) was trained with another
    MODEL.NAME / NUM_CLASSES or its weights do not fit ``cfg``'s model, checked on a model without storage."""
    check_model_config(path, state, cfg)
    with torch.device("meta"):
        shapes = _build(cfg, "").state_dict()
    check_state_fits(path, state["model"], shapes)
