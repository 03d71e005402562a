"""Datasets in their on-disk formats (Cityscapes, GTAV, SYNTHIA), paired transforms, class tables, and the
synthetic GTAV-format -> Cityscapes-format benchmark."""
from .build import DATASET_CATALOG, build_dataset
from .check import check_dataset
from .cityscapes import CityscapesDataset
from .gtav import GTAVDataset
from .labels import (CLASS_SETS, IGNORE_INDEX, SYNTHIA_13_IN_16, apply_lut, cityscapes_id_to_trainid_lut,
                     class_names, colorize, labels16_to_13, palette, synthia_id_to_trainid_lut)
from .synthia import SynthiaDataset
from .transforms import build_transforms

__all__ = [
    "CLASS_SETS", "DATASET_CATALOG", "IGNORE_INDEX", "SYNTHIA_13_IN_16", "CityscapesDataset", "GTAVDataset",
    "SynthiaDataset", "apply_lut", "build_dataset", "build_transforms", "check_dataset",
    "cityscapes_id_to_trainid_lut", "class_names", "colorize", "labels16_to_13", "palette",
    "synthia_id_to_trainid_lut",
]
