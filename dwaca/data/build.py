"""RIPU dataset names -> datasets with the transforms of a mode."""
from pathlib import Path

from .cityscapes import CityscapesDataset
from .gtav import GTAVDataset
from .synthia import SynthiaDataset
from .transforms import build_transforms

# RIPU name -> (folder under DATASETS.ROOT, dataset class, split)
DATASET_CATALOG = {
    "gtav_train": ("gtav", GTAVDataset, "train"),
    "synthia_train": ("synthia", SynthiaDataset, "train"),
    "cityscapes_train": ("cityscapes", CityscapesDataset, "train"),
    "cityscapes_val": ("cityscapes", CityscapesDataset, "val"),
    "cityscapes_test": ("cityscapes", CityscapesDataset, "test"),
}


def build_dataset(cfg, name, mode, annotation_provider=None, list_file=None):
    """The dataset RIPU calls ``name`` (e.g. "gtav_train", "cityscapes_val") under ``cfg.DATASETS.ROOT``.

    mode: "train_source", "train_target", "test" or "select" (see ``transforms.build_transforms``). In "test" and
        "select" only the image is resized to INPUT.INPUT_SIZE_TEST; the label stays at its original resolution,
        because evaluation and active selection score on the full label grid (logits are upsampled to it).
    Classes: ``cfg.MODEL.NUM_CLASSES`` (19, 16 or 13). Images are resized with INPUT.INTERPOLATION, here and where
        an image's size differs from its label's.
    list_file: a RIPU list file; by default ``<DATASETS.ROOT>/<name>_list.txt`` where RIPU keeps it, if present,
        otherwise the files are discovered from the folders in sorted order.
    annotation_provider: the labelled-pool seam (target datasets), see ``SegmentationDataset``.
    """
    if name not in DATASET_CATALOG:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASET_CATALOG)}")
    folder, dataset_cls, split = DATASET_CATALOG[name]
    root = Path(cfg.DATASETS.ROOT)
    if list_file is None and (root / f"{name}_list.txt").is_file():
        list_file = root / f"{name}_list.txt"
    return dataset_cls(root / folder, split=split, num_classes=int(cfg.MODEL.NUM_CLASSES),
                       transform=build_transforms(cfg, mode), list_file=list_file,
                       annotation_provider=annotation_provider, image_interpolation=str(cfg.INPUT.INTERPOLATION))
