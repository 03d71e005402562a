"""Segmentation networks: DeepLabV2 / DeepLabV3+ heads on torchvision backbones (see ``build.py``)."""
from .build import BACKBONES, MODEL_NAMES, build_model, load_backbone_weights
from .deeplab import HEAD_LR_MULT, SegmentationModel

__all__ = ["BACKBONES", "HEAD_LR_MULT", "MODEL_NAMES", "SegmentationModel", "build_model", "load_backbone_weights"]
