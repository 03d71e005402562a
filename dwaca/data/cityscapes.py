"""Cityscapes in its shipped layout (leftImg8bit + gtFine label ids)."""
from .base import SegmentationDataset
from .labels import cityscapes_id_to_trainid_lut


class CityscapesDataset(SegmentationDataset):
    """Cityscapes ``split`` ("train", "val" or "test") under ``root``::

        <root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

    Label ids are mapped to the train ids of the ``num_classes`` set (19, 16 or 13; see ``labels.py``); ids outside
    the set -> 255. Names are ``<city>/<city>_<seq>_<frame>_leftImg8bit.png`` as in RIPU's
    ``cityscapes_{train,val}_list.txt`` (list lines may also omit the ``_leftImg8bit.png`` suffix).
    Items, ``transform`` and ``annotation_provider`` (the labelled-pool seam) as in ``SegmentationDataset``.
    """

    image_suffix = "_leftImg8bit.png"
    label_suffix = "_gtFine_labelIds.png"
    image_glob = "*/*"
    layout = ("  <root>/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png\n"
              "  <root>/gtFine/<split>/<city>/<name>_gtFine_labelIds.png")

    def __init__(self, root, split, num_classes=19, transform=None, list_file=None, annotation_provider=None):
        self.split = split
        super().__init__(root, num_classes, transform, list_file, annotation_provider)

    def _folders(self):
        return self.root / "leftImg8bit" / self.split, self.root / "gtFine" / self.split

    def _id_lut(self):
        return cityscapes_id_to_trainid_lut(self.num_classes)
