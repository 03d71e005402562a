"""The benchmark on disk, in the real datasets' layouts: GTAV-format source and Cityscapes-format target splits."""
import json
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image
from cityscapesscripts.helpers.labels import id2label

from ..cityscapes import SYNTHETIC_INFO
from ..labels import class_names, trainid_to_cityscapes_id
from .classes import EGO_VEHICLE
from .scene import render_scene
from .styles import SOURCE_STYLE, TARGET_STYLE

TRAIN_CITIES = ("aachen", "bochum", "bremen")
VAL_CITIES = ("frankfurt", "lindau", "munster")


def _cityscapes_ids(train_ids):
    """Train ids (and the ego-vehicle code) -> Cityscapes label ids, as the datasets ship them."""
    lut = trainid_to_cityscapes_id(19)
    lut[EGO_VEHICLE] = 1
    return lut[train_ids]


def _label_id_palette():
    """Flat 768-entry palette colouring label ids as cityscapesscripts does (GTAV labels are palette PNGs)."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for label_id, label in id2label.items():
        if 0 <= label_id < 256:
            pal[label_id] = label.color
    return pal.reshape(-1).tolist()


def _save(array, path, palette=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(array)
    if palette is not None:
        img = img.convert("P")
        img.putpalette(palette)
    img.save(path, optimize=False, compress_level=6)


def _cityscapes_name(cities, i):
    city = cities[i % len(cities)]
    return f"{city}/{city}_{i // len(cities):06d}_000019"


def generate_benchmark(out, seed=0, num_source=300, num_target_train=150, num_target_val=50, width=256, height=128,
                       overwrite=False):
    """Write the benchmark under ``out`` and return per-domain statistics.

    Layout (the on-disk formats of the real datasets, so ``DATASETS.ROOT: out`` works unchanged)::

        out/gtav/images/00001.png ...                      source RGB
        out/gtav/labels/00001.png ...                      Cityscapes label ids (palette PNG)
        out/cityscapes/leftImg8bit/{train,val}/<city>/<city>_<seq>_000019_leftImg8bit.png
        out/cityscapes/gtFine/{train,val}/<city>/<city>_<seq>_000019_gtFine_labelIds.png
        out/synthetic_info.json                            arguments and class pixel frequencies

    Returns {"seconds": float, "frequencies": {domain: [19 fractions of labelled pixels]}}. Refuses to write into an
    existing ``out/gtav`` or ``out/cityscapes`` unless ``overwrite`` (which deletes those two folders first).
    """
    out = Path(out)
    for sub in ("gtav", "cityscapes"):
        if (out / sub).exists():
            if not overwrite:
                raise FileExistsError(f"{out / sub} exists; pass overwrite=True (--overwrite) to replace it")
            shutil.rmtree(out / sub)
    start = time.perf_counter()
    palette = _label_id_palette()
    jobs = [("source", SOURCE_STYLE, num_source), ("target_train", TARGET_STYLE, num_target_train),
            ("target_val", TARGET_STYLE, num_target_val)]
    counts = {}
    for domain_id, (domain, style, n) in enumerate(jobs):
        hist = np.zeros(256, dtype=np.int64)
        for i in range(n):
            image, train_ids = render_scene(style, height, width, np.random.default_rng([seed, domain_id, i]))
            hist += np.bincount(train_ids.ravel(), minlength=256)
            label_ids = _cityscapes_ids(train_ids)
            if domain == "source":
                _save(image, out / "gtav" / "images" / f"{i + 1:05d}.png")
                _save(label_ids, out / "gtav" / "labels" / f"{i + 1:05d}.png", palette)
            else:
                split, cities = ("train", TRAIN_CITIES) if domain == "target_train" else ("val", VAL_CITIES)
                stem = _cityscapes_name(cities, i)
                _save(image, out / "cityscapes" / "leftImg8bit" / split / f"{stem}_leftImg8bit.png")
                _save(label_ids, out / "cityscapes" / "gtFine" / split / f"{stem}_gtFine_labelIds.png")
        counts[domain] = hist[:19]
    frequencies = {d: (c / max(c.sum(), 1)).tolist() for d, c in counts.items()}
    stats = {"seconds": time.perf_counter() - start, "frequencies": frequencies}
    info = dict(seed=seed, num_source=num_source, num_target_train=num_target_train, num_target_val=num_target_val,
                width=width, height=height, class_names=class_names(19), class_pixel_frequencies=frequencies)
    (out / SYNTHETIC_INFO).write_text(json.dumps(info, indent=1))
    return stats
