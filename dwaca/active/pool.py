"""The labelled pool: which target pixels have been annotated so far, and with what.

On disk, under ``OUTPUT_DIR/pool/``::

    manifest.json                 the ledger (see below)
    masks/<key>.png               one single-channel 8-bit PNG per target image that has annotations

``<key>`` is the sample name (a RIPU list-file line such as ``aachen/aachen_000000_000019_leftImg8bit.png``) with
"/" replaced by "__" and the image suffix ".png" dropped. Mask values:

* a train id (0 .. num_classes-1): annotated with that class;
* ``ANNOTATED_VOID`` (254): annotated, but the annotator said "void / ignore" (e.g. the ego vehicle). The pixel is
  bought and can never be bought again, yet it carries no training label;
* ``NOT_ANNOTATED`` (255): not annotated.

A sparse mask compresses to a few hundred bytes (lossless PNG), not a dense tensor per image. Every file (masks and
manifest) is written atomically: a temporary file in the same folder, flushed and fsync'ed, then ``os.replace``d
over the target, so a crash leaves either the old or the new version, never a torn one.

``manifest.json`` holds::

    {"version": 1,
     "pixels_total": annotated pixels so far (all images),
     "budget_pixels": pixels the config allows after the rounds done (sum of each round's budget),
     "rounds": [{"index", "iteration", "strategy", "setting", "regions", "pixels", "budget_pixels",
                 "per_image": {"min", "max", "mean"} (pixels bought per image), "seconds", ...}, ...],
     "images": {name: {"file": "masks/<key>.png", "index": dataset index, "shape": [H, W],
                       "pixels": annotated pixels, "regions": regions (or pixels, in PA) bought}}}

Loading (``LabelPool(root)`` on an existing folder) re-reads every mask and checks it against the manifest: a
missing mask, a shape or a pixel count that disagrees, or a ``pixels_total`` that is not the sum, raises
``PoolError`` naming the file.

Budget exactness relies on one invariant the selection round keeps (see ``dwaca.active.selection``): new regions
never overlap pixels that are already annotated. ``add_annotations`` asserts it, so the pixels bought in a round
are exactly the pixels of its selected windows.
"""
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

NOT_ANNOTATED = 255
ANNOTATED_VOID = 254
MANIFEST = "manifest.json"
MASK_DIR = "masks"
VERSION = 1


class PoolError(RuntimeError):
    """The pool on disk is inconsistent (manifest vs masks), or an operation would break its invariants."""


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False, allow_nan=False) + "\n").encode())


def _png_bytes(mask):
    import io
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def mask_key(name):
    """File stem of an image's mask: the sample name, "/" -> "__", without a trailing ".png"."""
    key = name[:-4] if name.endswith(".png") else name
    return key.replace("\\", "__").replace("/", "__")


class LabelPool:
    """Annotations bought so far, persisted under ``root`` (normally ``OUTPUT_DIR/pool``).

    ``LabelPool(root)`` opens the pool there (verifying it, see the module doc) or starts an empty one (nothing is
    written until the first ``commit_round``). Masks are kept in memory once read.

    Use: ``labeled_mask(name)`` -> (H, W) bool of bought pixels (or None); ``annotation_provider(index, name)`` ->
    the training label mask (train ids, 255 elsewhere; the dataset seam); a round calls ``add_annotations`` per
    image and then ``commit_round`` once, which writes the changed masks and then the manifest.
    """

    def __init__(self, root, num_classes=None):
        self.root = Path(root)
        self.num_classes = num_classes
        self.manifest_path = self.root / MANIFEST
        self._masks = {}  # name -> (H, W) uint8, committed or pending
        self._dirty = set()  # names changed since the last commit
        self._pending_pixels = {}  # name -> pixels added since the last commit
        self._pending_regions = {}
        if self.manifest_path.is_file():
            self._load()
        else:
            self.manifest = {"version": VERSION, "pixels_total": 0, "budget_pixels": 0, "rounds": [], "images": {}}

    # -- state --------------------------------------------------------------------------------------------------
    @property
    def rounds(self):
        return self.manifest["rounds"]

    @property
    def rounds_done(self):
        return len(self.manifest["rounds"])

    @property
    def pixels_total(self):
        return self.manifest["pixels_total"]

    @property
    def budget_pixels(self):
        return self.manifest["budget_pixels"]

    @property
    def images(self):
        return self.manifest["images"]

    def _load(self):
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as err:
            raise PoolError(f"cannot read pool manifest {self.manifest_path}: {err}") from err
        for key in ("pixels_total", "budget_pixels", "rounds", "images"):
            if key not in manifest:
                raise PoolError(f"pool manifest {self.manifest_path} lacks '{key}'")
        total = 0
        for name, entry in manifest["images"].items():
            path = self.root / entry["file"]
            if not path.is_file():
                raise PoolError(f"pool mask {path} (image {name!r}) listed in {self.manifest_path} is missing")
            try:
                with Image.open(path) as img:
                    mask = np.array(img)
            except (OSError, ValueError) as err:
                raise PoolError(f"cannot read pool mask {path}: {err}") from err
            if mask.dtype != np.uint8 or mask.ndim != 2:
                raise PoolError(f"pool mask {path} is not a single-channel 8-bit image")
            if list(mask.shape) != list(entry["shape"]):
                raise PoolError(f"pool mask {path} has shape {list(mask.shape)}, {self.manifest_path} says "
                                f"{entry['shape']}")
            pixels = int((mask != NOT_ANNOTATED).sum())
            if pixels != entry["pixels"]:
                raise PoolError(f"pool mask {path} holds {pixels} annotated pixels, {self.manifest_path} says "
                                f"{entry['pixels']}")
            self._masks[name] = mask
            total += pixels
        if total != manifest["pixels_total"]:
            raise PoolError(f"pool manifest {self.manifest_path}: pixels_total {manifest['pixels_total']} != "
                            f"{total}, the sum over its masks")
        bought = sum(r["pixels"] for r in manifest["rounds"])
        if bought != total:
            raise PoolError(f"pool manifest {self.manifest_path}: its rounds bought {bought} pixels, the masks "
                            f"hold {total}")
        if total > manifest["budget_pixels"]:
            raise PoolError(f"pool manifest {self.manifest_path}: {total} pixels annotated exceed the budget "
                            f"{manifest['budget_pixels']}")
        self.manifest = manifest

    # -- reading ------------------------------------------------------------------------------------------------
    def mask(self, name):
        """(H, W) uint8 stored mask of ``name`` (class ids, 254 = annotated void, 255 = not annotated) or None."""
        return self._masks.get(name)

    def labeled_mask(self, name):
        """(H, W) bool: pixels of ``name`` already bought (void ones included), or None if none."""
        mask = self._masks.get(name)
        return None if mask is None else mask != NOT_ANNOTATED

    def annotation_provider(self, index, name):
        """The dataset seam: training label of ``name``, (H, W) uint8, train ids where annotated, 255 elsewhere
        (annotated-void pixels too); None when nothing is annotated. ``index`` is unused (names are the key)."""
        mask = self._masks.get(name)
        if mask is None:
            return None
        return np.where(mask == ANNOTATED_VOID, NOT_ANNOTATED, mask).astype(np.uint8)

    def annotated_pixels(self, name):
        mask = self._masks.get(name)
        return 0 if mask is None else int((mask != NOT_ANNOTATED).sum())

    # -- writing ------------------------------------------------------------------------------------------------
    def add_annotations(self, name, index, selected, labels, regions):
        """Record the oracle's answer for one image (in memory until ``commit_round``).

        selected: (H, W) bool, the pixels bought; labels: (H, W) integer ground truth for the image (255 = void).
        regions: how many regions (RA) or pixels (PA) this is. Returns the number of pixels added.
        Raises PoolError if a selected pixel is already annotated (the budget would no longer be exact).
        """
        selected = np.asarray(selected, dtype=bool)
        labels = np.asarray(labels)
        if selected.shape != labels.shape:
            raise PoolError(f"{name}: selection {selected.shape} and labels {labels.shape} differ in shape")
        mask = self._masks.get(name)
        if mask is None:
            mask = np.full(selected.shape, NOT_ANNOTATED, dtype=np.uint8)
        elif mask.shape != selected.shape:
            raise PoolError(f"{name}: selection {selected.shape} does not match the pool mask {mask.shape}")
        overlap = int((selected & (mask != NOT_ANNOTATED)).sum())
        if overlap:
            raise PoolError(f"{name}: {overlap} selected pixels are already annotated; regions must not overlap "
                            "annotated pixels (pass the dilated annotated mask as `labeled`)")
        added = int(selected.sum())
        if added == 0:
            return 0
        values = labels[selected].astype(np.int64)
        limit = self.num_classes if self.num_classes is not None else ANNOTATED_VOID
        values = np.where((values >= 0) & (values < limit), values, ANNOTATED_VOID).astype(np.uint8)
        mask = mask.copy()
        mask[selected] = values
        self._masks[name] = mask
        self._dirty.add(name)
        self._pending_pixels[name] = self._pending_pixels.get(name, 0) + added
        self._pending_regions[name] = self._pending_regions.get(name, 0) + int(regions)
        entry = self.manifest["images"].setdefault(
            name, {"file": f"{MASK_DIR}/{mask_key(name)}.png", "index": int(index), "shape": list(mask.shape),
                   "pixels": 0, "regions": 0})
        entry["index"] = int(index)
        return added

    def commit_round(self, record, budget_pixels):
        """Finish a round: check its budget, write the changed masks, then the manifest (both atomically).

        record: dict describing the round (index, iteration, strategy, regions, seconds, ...); ``pixels`` and
        ``per_image`` are filled in here from what was added. budget_pixels: what this round was allowed to buy.
        Raises PoolError (nothing written) if the round bought more than its budget.
        """
        bought = sum(self._pending_pixels.values())
        if bought > budget_pixels:
            raise PoolError(f"round {record.get('index')} bought {bought} pixels, over its budget {budget_pixels}")
        per_image = list(self._pending_pixels.values())
        record = dict(record)
        record["pixels"] = bought
        record["budget_pixels"] = int(budget_pixels)
        record["images_annotated"] = len(per_image)
        record["per_image"] = ({"min": int(min(per_image)), "max": int(max(per_image)),
                                "mean": float(np.mean(per_image))} if per_image else {"min": 0, "max": 0, "mean": 0})
        record.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%S"))
        self.root.mkdir(parents=True, exist_ok=True)
        for name in sorted(self._dirty):
            entry = self.manifest["images"][name]
            atomic_write_bytes(self.root / entry["file"], _png_bytes(self._masks[name]))
            entry["pixels"] += self._pending_pixels.get(name, 0)
            entry["regions"] += self._pending_regions.get(name, 0)
        self.manifest["pixels_total"] += bought
        self.manifest["budget_pixels"] += int(budget_pixels)
        self.manifest["rounds"].append(record)
        atomic_write_json(self.manifest_path, self.manifest)
        self._dirty.clear()
        self._pending_pixels.clear()
        self._pending_regions.clear()
        return record

    def discard_pending(self):
        """Forget annotations added since the last commit (reloads the committed masks)."""
        for name in list(self._dirty):
            entry = self.manifest["images"].get(name)
            path = self.root / entry["file"] if entry else None
            if path is not None and path.is_file():
                with Image.open(path) as img:
                    self._masks[name] = np.array(img)
            else:
                self._masks.pop(name, None)
                self.manifest["images"].pop(name, None)
        self._dirty.clear()
        self._pending_pixels.clear()
        self._pending_regions.clear()

    def __repr__(self):
        return (f"LabelPool(root={str(self.root)!r}, rounds={self.rounds_done}, pixels_total={self.pixels_total}, "
                f"budget_pixels={self.budget_pixels})")
