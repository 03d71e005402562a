"""GTAV ("Playing for Data") in its shipped layout."""
from .base import SegmentationDataset
from .labels import cityscapes_id_to_trainid_lut


class GTAVDataset(SegmentationDataset):
    """GTAV under ``root``::

        <root>/images/<n>.png   RGB
        <root>/labels/<n>.png   Cityscapes label ids (palette PNG; the palette index is the id)

    Names are ``<n>.png`` as in RIPU's ``gtav_train_list.txt``. GTAV has no official split: ``split`` is kept for
    the RIPU signature only. Where an image's size differs from its label's (some real GTAV files), the image is
    resized to the label's size (bicubic by default); the label is never resampled at load time.
    Items, ``transform`` and ``image_interpolation`` as in ``SegmentationDataset``.
    """

    layout = "  <root>/images/<n>.png\n  <root>/labels/<n>.png  (Cityscapes label ids)"

    def __init__(self, root, split="train", num_classes=19, transform=None, list_file=None, annotation_provider=None,
                 image_interpolation="bicubic"):
        self.split = split
        super().__init__(root, num_classes, transform, list_file, annotation_provider, image_interpolation)

    def _folders(self):
        return self.root / "images", self.root / "labels"

    def _id_lut(self):
        return cityscapes_id_to_trainid_lut(self.num_classes)
