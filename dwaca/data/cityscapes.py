"""Cityscapes in its shipped layout (leftImg8bit + gtFine label ids)."""
from .base import SegmentationDataset
from .labels import cityscapes_id_to_trainid_lut

# Written by the synthetic benchmark beside its dataset folders; its Cityscapes-layout data has sizes of its own.
SYNTHETIC_INFO = "synthetic_info.json"
LABEL_SIZE = (2048, 1024)  # (W, H) of every Cityscapes image and label


class CityscapesDataset(SegmentationDataset):
    """Cityscapes ``split`` ("train", "val" or "test") under ``root``::

        <root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

    Label ids are mapped to the train ids of the ``num_classes`` set (19, 16 or 13; see ``labels.py``); ids outside
    the set -> 255. Names are ``<city>/<city>_<seq>_<frame>_leftImg8bit.png`` as in RIPU's
    ``cityscapes_{train,val}_list.txt`` (list lines may also omit the ``_leftImg8bit.png`` suffix).
    Items, ``transform``, ``annotation_provider`` (the labelled-pool seam) and ``image_interpolation`` as in
    ``SegmentationDataset``.
    Every image and label is 2048x1024, except in the synthetic benchmark (``SYNTHETIC_INFO`` beside ``root``),
    where they share the size it was generated at.
    """

    image_suffix = "_leftImg8bit.png"
    label_suffix = "_gtFine_labelIds.png"
    image_glob = "*/*"
    layout = ("  <root>/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png\n"
              "  <root>/gtFine/<split>/<city>/<name>_gtFine_labelIds.png")
    sizes_fixed = True

    def __init__(self, root, split, num_classes=19, transform=None, list_file=None, annotation_provider=None,
                 image_interpolation="bicubic"):
        self.split = split
        super().__init__(root, num_classes, transform, list_file, annotation_provider, image_interpolation)

    def _folders(self):
        return self.root / "leftImg8bit" / self.split, self.root / "gtFine" / self.split

    def _id_lut(self):
        return cityscapes_id_to_trainid_lut(self.num_classes)

    def expected_label_size(self):
        return None if (self.root.parent / SYNTHETIC_INFO).is_file() else LABEL_SIZE
