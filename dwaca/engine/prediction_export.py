"""Test predictions saved as PNGs (tools/test.py, TEST.SAVE_PREDICTIONS): the published colour picture of every
image and the Cityscapes label-id map that cityscapesscripts' evalPixelLevelSemanticLabeling reads.

The label-id maps get a folder of their own because that evaluation walks its prediction folder recursively and
refuses a ground-truth image that two files match (a colour PNG, named after the image, would be the second)."""
import io
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from ..data.labels import CLASS_SETS, class_names, palette, trainid_to_cityscapes_id
from ..utils.io import atomic_write_bytes

LABEL_IDS_SUFFIX = "_labelIds.png"


# The published test.py colours with the official palette but for sky, (0, 130, 180) instead of (70, 130, 180);
# its colour PNGs are reproduced byte for byte.
PUBLISHED_SKY = (0, 130, 180)


def colour_lut(num_classes):
    """(256, 3) uint8 RGB table indexed by a train id of the ``num_classes`` set: the published colour of the class
    (a 16-class id is the 19-class id of the same class, as the published test.py maps SYNTHIA predictions before
    colouring); black for ids outside the set."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:len(CLASS_SETS[num_classes])] = palette(num_classes)
    lut[class_names(num_classes).index("sky")] = PUBLISHED_SKY
    return lut


def _png(array, mode):
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def export_paths(root, dataset_name, names, image_suffix):
    """{sample name: (colour PNG path, label-id PNG path)} under ``root`` (OUTPUT_DIR/inference):

    * ``root/<dataset_name>/<file name>``, the file name being the name's last component (as published);
    * ``root/<dataset_name>_labelIds/<key's last component>_labelIds.png``, the key being the name without
      ``image_suffix`` (Cityscapes: ``aachen_000000_000019_labelIds.png``).

    ValueError naming both samples if two names share a file name (one would overwrite the other)."""
    root = Path(root)
    paths, first = {}, {}
    for name in names:
        file_name = PurePosixPath(name).name
        if file_name in first:
            raise ValueError(f"{dataset_name}: samples {first[file_name]} and {name} would both be saved as "
                             f"{file_name}; pass TEST.SAVE_PREDICTIONS False")
        first[file_name] = name
        key = file_name[: -len(image_suffix)]
        paths[name] = (root / dataset_name / file_name, root / f"{dataset_name}_labelIds" / (key + LABEL_IDS_SUFFIX))
    return paths


class PredictionExporter:
    """Saves predictions of the ``num_classes`` set for the samples of ``paths`` (see ``export_paths``): the colour
    PNG (RGB, see ``colour_lut``) and the label-id PNG (8-bit grayscale, Cityscapes label ids from
    cityscapesscripts' table, trainId -> id; 255 -> 0 "unlabeled"). Each file is written atomically.

    Call it as ``evaluate``'s ``on_batch(batch, pred)``: batch["name"] the B sample names, pred (B, H, W) integer
    train ids at the label's resolution. PNG encoding and writing run on ``workers`` threads (zlib releases the GIL)
    while the next batches are predicted; ``close()`` (or leaving a ``with`` block) waits for them and raises the
    first error.
    """

    def __init__(self, paths, num_classes, workers=2):
        self.paths = paths
        self.colours = colour_lut(num_classes)
        self.label_ids = trainid_to_cityscapes_id(num_classes)
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.pending = deque()
        self.max_pending = 2 * workers  # bounds the predictions held in memory
        self.submitted = 0

    def __call__(self, batch, pred):
        pred = pred.to("cpu").numpy().astype(np.uint8)  # train ids < 20 (the metrics drop the rest)
        for name, one in zip(batch["name"], pred):
            while len(self.pending) >= self.max_pending:
                self.pending.popleft().result()
            self.pending.append(self.pool.submit(self._write, self.paths[name], one))
            self.submitted += 1

    def _write(self, paths, pred):
        colour_path, label_ids_path = paths
        atomic_write_bytes(colour_path, _png(self.colours[pred], "RGB"))
        atomic_write_bytes(label_ids_path, _png(self.label_ids[pred], "L"))

    def close(self):
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
