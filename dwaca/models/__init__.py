"""Segmentation networks: DeepLabV2 / DeepLabV3+ heads on torchvision backbones (see ``build.py``), layer for layer
the published DWACA / RIPU models on ResNet-101, whose checkpoints load as they are (``published.py``)."""
from .build import BACKBONES, MODEL_NAMES, build_model, load_backbone_weights
from .deeplab import HEAD_LR_MULT, SegmentationModel

__all__ = ["BACKBONES", "HEAD_LR_MULT", "MODEL_NAMES", "SegmentationModel", "build_model", "load_backbone_weights"]
