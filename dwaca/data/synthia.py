"""SYNTHIA-RAND-CITYSCAPES in its shipped layout."""
from .base import SegmentationDataset, read_label_first_channel_16bit
from .labels import synthia_id_to_trainid_lut


class SynthiaDataset(SegmentationDataset):
    """SYNTHIA RAND_CITYSCAPES under ``root`` (either the ``RAND_CITYSCAPES`` folder itself or its parent, as in
    RIPU's ``datasets/synthia/RAND_CITYSCAPES``)::

        <root>/[RAND_CITYSCAPES/]RGB/<n>.png         RGB
        <root>/[RAND_CITYSCAPES/]GT/LABELS/<n>.png   16-bit PNG, SYNTHIA class id in the first channel

    SYNTHIA ids are mapped to the ``num_classes`` set (16 by default; see ``labels.py`` for the table), unknown
    ids -> 255. Names are ``<n>.png``. ``split`` is kept for the RIPU signature only.
    Items, ``transform`` and ``image_interpolation`` as in ``SegmentationDataset``.
    """

    layout = "  <root>/[RAND_CITYSCAPES/]RGB/<n>.png\n  <root>/[RAND_CITYSCAPES/]GT/LABELS/<n>.png  (16-bit)"
    label_modes = None  # RGB(A) or single-channel; the first channel holds the id

    def __init__(self, root, split="train", num_classes=16, transform=None, list_file=None, annotation_provider=None,
                 image_interpolation="bicubic"):
        self.split = split
        super().__init__(root, num_classes, transform, list_file, annotation_provider, image_interpolation)

    def _folders(self):
        base = self.root / "RAND_CITYSCAPES" if (self.root / "RAND_CITYSCAPES").is_dir() else self.root
        return base / "RGB", base / "GT" / "LABELS"

    def _read_raw_label(self, path):
        return read_label_first_channel_16bit(path)

    def _id_lut(self):
        return synthia_id_to_trainid_lut(self.num_classes)
