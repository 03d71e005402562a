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

    {"version": 2,
     "pixels_total": annotated pixels so far (all images),
     "budget_pixels": pixels the config allows after the rounds done (sum of each round's budget),
     "rounds": [{"index", "iteration", "strategy", "setting", "regions", "pixels", "budget_pixels",
                 "per_image": {"min", "max", "mean"} (pixels bought per image), "seconds", ...}, ...],
     "images": {name: {"file": "masks/<key>.png", "index": dataset index, "shape": [H, W],
                       "pixels": annotated pixels, "regions": regions (or pixels, in PA) bought,
                       "sha256": hex digest of the mask file's bytes}}}

Loading (``LabelPool(root)`` on an existing folder) re-reads every mask and checks it against the manifest: a
missing mask, a mask whose bytes do not match its sha256 (edited by hand, even with its pixel count kept, or
damaged on disk), a shape or a pixel count that disagrees, or a ``pixels_total`` that is not the sum, raises
``PoolError`` naming the file. dwaca keeps no second copy of a mask: the way back from a changed one is the file
from a backup, or deleting the pool (every bought label with it) to start the run over.

Version 1 manifests (written before checksums) still open: their masks get the count and shape checks only, are
taken as found, and their checksums enter the manifest, rewritten as version 2, at the pool's next commit. A
version this code does not know (a newer dwaca's) is refused.

A selection round is journaled under ``rounds/<round index>/`` (``dwaca.active.journal``) so that killing the
process at any moment and rerunning the same command finishes the round exactly as an uninterrupted run would
(``dwaca.active.selection``). Opening a pool with ``recover=True`` (the trainer and the import tool do, from one
process) finishes a commit a crash interrupted (``rounds/<rounds done>/commit.json`` exists; every step is
idempotent) and removes temp files killed writes left, so a crash mid-commit never leaves masks and manifest
disagreeing; a plain reader gets a ``PoolError`` saying the commit is pending instead. Image counts are recomputed
from the staged masks, never added up, so no crash can count a pixel twice.

``commit_round`` (annotations added in memory: an import of human labels, tests) commits through the same journal;
its plan.json is ``{"index", "source": "commit_round"}``. What a crash left of it before ``commit.json`` was
written is rolled back (by the next ``commit_round`` or by ``recover=True``); after, it is finished as above.

Budget exactness relies on one invariant the selection round keeps (see ``dwaca.active.selection``): new regions
never overlap pixels that are already annotated. ``add_annotations`` asserts it, so the pixels bought in a round
are exactly the pixels of its selected windows.
"""
import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ..utils.io import atomic_write_json
from .errors import PoolError
from .journal import RoundJournal, mask_key, read_json

NOT_ANNOTATED = 255
ANNOTATED_VOID = 254
MANIFEST = "manifest.json"
MASK_DIR = "masks"
COMMIT_ROUND = "commit_round"  # plan.json "source" of a round journaled by LabelPool.commit_round
VERSION = 2  # 2: a sha256 per mask
UNVERIFIED_VERSION = 1  # before checksums: still read (see the module doc)


def _read_mask(path):
    """((H, W) uint8 mask stored at ``path``, sha256 hex digest of the file's bytes); PoolError naming the file if
    it is unreadable or not 8-bit gray. The file is read once for both."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            mask = np.array(img)
    except (OSError, ValueError) as err:
        raise PoolError(f"cannot read pool mask {path}: {err}") from err
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise PoolError(f"pool mask {path} is not a single-channel 8-bit image")
    return mask, hashlib.sha256(data).hexdigest()


def _round_summary(record, per_image_added, budget_pixels):
    """``record`` completed with what a round bought: pixels, budget, images annotated, per-image statistics."""
    record = dict(record)
    record["pixels"] = int(sum(per_image_added))
    record["budget_pixels"] = int(budget_pixels)
    record["images_annotated"] = len(per_image_added)
    record["per_image"] = ({"min": int(min(per_image_added)), "max": int(max(per_image_added)),
                            "mean": float(np.mean(per_image_added))} if per_image_added
                           else {"min": 0, "max": 0, "mean": 0})
    record.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%S"))
    return record


def rounds_on_disk(root):
    """Rounds the manifest of the pool at ``root`` lists (0 if there is none), read without verifying the masks or
    changing anything."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return 0
    manifest = read_json(path, "pool manifest")
    return len(manifest.get("rounds", [])) if isinstance(manifest, dict) else 0


class LabelPool:
    """Annotations bought so far, persisted under ``root`` (normally ``OUTPUT_DIR/pool``).

    ``LabelPool(root)`` opens the pool there (verifying it, see the module doc) or starts an empty one (nothing is
    written until the first ``commit_round``); ``recover=True`` first repairs what a killed run left (one process
    at a time: the training's rank 0). Masks are kept in memory once read.

    Use: ``labeled_mask(name)`` -> (H, W) bool of bought pixels (or None); ``annotation_provider(index, name)`` ->
    the training label mask (train ids, 255 elsewhere; the dataset seam); a round calls ``add_annotations`` per
    image and then ``commit_round`` once, which commits them through the round journal.
    """

    def __init__(self, root, num_classes=None, recover=False):
        self.root = Path(root)
        self.num_classes = num_classes
        self.manifest_path = self.root / MANIFEST
        self.journal = RoundJournal(self.root, self.root / MASK_DIR)
        self._masks = {}  # name -> (H, W) uint8, committed or pending
        self._dirty = set()  # names changed since the last commit
        self._pending_pixels = {}  # name -> pixels added since the last commit
        self._pending_regions = {}
        if recover:
            self._finish_interrupted_commit()
        elif self.journal.has_commit(self._rounds_on_disk()):
            raise PoolError(f"the commit of round {self._rounds_on_disk()} in {self.root} was interrupted; rerun the "
                            "interrupted command (training with `resume auto`, or tools/import_labels.py) to finish "
                            "it")
        self.reload()

    def reload(self):
        """Re-read the committed pool from disk (after another process committed a round)."""
        self._masks.clear()
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
        version = manifest.get("version")
        if version not in (UNVERIFIED_VERSION, VERSION):
            raise PoolError(f"pool manifest {self.manifest_path} has version {version!r}; this dwaca reads versions "
                            f"{UNVERIFIED_VERSION} and {VERSION} (was it written by a newer one?)")
        total = 0
        for name, entry in manifest["images"].items():
            mask = self._load_mask(name, entry, verify=version == VERSION)
            self._masks[name] = mask
            total += int(entry["pixels"])
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

    def _load_mask(self, name, entry, verify):
        """The committed mask of ``name``, checked against its manifest ``entry`` (its sha256 only if ``verify``:
        a version-1 entry gets the digest of the file as found, to be written at the next commit)."""
        path = self.root / entry["file"]
        if not path.is_file():
            raise PoolError(f"pool mask {path} (image {name!r}) listed in {self.manifest_path} is missing")
        mask, digest = _read_mask(path)
        if verify and entry.get("sha256") != digest:
            raise PoolError(f"pool mask {path} (image {name!r}) does not match the sha256 in {self.manifest_path}: "
                            "it changed after it was written (edited by hand, or damaged on disk). dwaca keeps no "
                            f"other copy: restore that file from a backup, or delete {self.root} to start the run's "
                            "annotation over (every label bought so far is lost)")
        entry["sha256"] = digest
        if list(mask.shape) != list(entry["shape"]):
            raise PoolError(f"pool mask {path} has shape {list(mask.shape)}, {self.manifest_path} says "
                            f"{entry['shape']}")
        pixels = int((mask != NOT_ANNOTATED).sum())
        if pixels != entry["pixels"]:
            raise PoolError(f"pool mask {path} holds {pixels} annotated pixels, {self.manifest_path} says "
                            f"{entry['pixels']}")
        return mask

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

    # -- writing ------------------------------------------------------------------------------------------------
    def _with_answer(self, name, selected, labels):
        """(mask after annotating ``selected`` with ``labels``, pixels added): a new array, the pool unchanged.
        Labels outside the class set become ANNOTATED_VOID (bought, no training label). Raises PoolError on a shape
        mismatch or if a selected pixel is already annotated (the budget would no longer be exact)."""
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
        if added:
            limit = self.num_classes if self.num_classes is not None else ANNOTATED_VOID
            values = labels[selected].astype(np.int64)
            mask = mask.copy()
            mask[selected] = np.where((values >= 0) & (values < limit), values, ANNOTATED_VOID).astype(np.uint8)
        return mask, added

    def add_annotations(self, name, index, selected, labels, regions):
        """Record the oracle's answer for one image (in memory until ``commit_round``).

        selected: (H, W) bool, the pixels bought; labels: (H, W) integer ground truth for the image (255 = void).
        regions: how many regions (RA) or pixels (PA) this is. Returns the number of pixels added.
        Raises PoolError if a selected pixel is already annotated (the budget would no longer be exact).
        """
        mask, added = self._with_answer(name, selected, labels)
        if added == 0:
            return 0
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
        """Finish a round of ``add_annotations``: check its budget, then commit it through the round journal as a
        selection round does (staged masks and done records, ``commit.json``, masks published, manifest written),
        so a crash or I/O error at any write either leaves the committed pool as it was or leaves a commit that
        opening the pool with ``recover=True`` finishes.

        record: dict describing the round (index, iteration, strategy, regions, seconds, ...); ``pixels`` and
        ``per_image`` are filled in here from what was added. budget_pixels: what this round was allowed to buy.
        Raises PoolError (the committed pool unchanged, the annotations still pending) if the round bought more than
        its budget, or if its round folder holds a selection round in progress or an interrupted commit.
        """
        bought = sum(self._pending_pixels.values())
        if bought > budget_pixels:
            raise PoolError(f"round {record.get('index')} bought {bought} pixels, over its budget {budget_pixels}")
        round_index = self.rounds_done
        if len({self.images[name]["index"] for name in self._dirty}) != len(self._dirty):
            raise PoolError(f"round {round_index}: two pending images share a dataset index (their journal entry)")
        self._clear_commit_round_journal(round_index)
        try:
            self.journal.write_plan(round_index, {"index": round_index, "source": COMMIT_ROUND})
            for name in sorted(self._dirty):
                self.journal.stage(round_index, name, self.images[name]["index"], self._masks[name],
                                   self._pending_pixels[name], self._pending_regions[name])
            record = self._write_commit(round_index, record, self.journal.done(round_index), budget_pixels)
        except BaseException:
            self.journal.remove(round_index)  # nothing was committed: roll back
            raise
        self.journal.publish(round_index)
        self.finish_commit(round_index)
        self._dirty.clear()
        self._pending_pixels.clear()
        self._pending_regions.clear()
        return record

    def _clear_commit_round_journal(self, round_index):
        """Remove what a killed ``commit_round`` of round ``round_index`` left (nothing of it was committed); refuse
        to touch a selection round in progress or a commit that ``recover=True`` must finish."""
        if self.journal.has_commit(round_index):
            raise PoolError(f"the commit of round {round_index} in {self.root} was interrupted; reopen the pool with "
                            "recover=True to finish it")
        plan = self.journal.read_plan(round_index)
        if plan is not None and plan.get("source") != COMMIT_ROUND:
            raise PoolError(f"selection round {round_index} is in progress in {self.journal.folder(round_index)}; "
                            "finish it or delete that folder")
        self.journal.remove(round_index)

    def discard_pending(self):
        """Forget annotations added since the last commit (reloads the committed masks; after a failure past
        ``commit.json``, reopen the pool with ``recover=True`` instead)."""
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

    # -- the journaled (crash-safe, shardable) round ------------------------------------------------------------
    def stage_annotations(self, round_index, name, index, selected, labels, regions, **extra):
        """Journal one image of round ``round_index``: its mask after the round goes to ``staged/<key>.png``, then
        ``done/<index>.json`` marks it finished (``extra``, e.g. the image's budget, is kept in that record).
        The committed pool is not changed. Raises PoolError (nothing written) if a selected pixel is already
        annotated. Returns the number of pixels added."""
        mask, added = self._with_answer(name, selected, labels)
        self.journal.stage(round_index, name, index, mask, added, regions, **extra)
        return added

    def prepare_commit(self, round_index, record, num_images):
        """Check that round ``round_index`` journaled every image 0 .. num_images-1, build the manifest after it
        (image counts recomputed from the staged masks) and write it to ``commit.json``. Nothing in ``masks/`` or
        the manifest changes yet. Returns the round's manifest record. Raises PoolError if an image is missing,
        a staged mask does not extend the committed one, or the round exceeds its budget."""
        done = self.journal.done(round_index)
        missing = sorted(set(range(num_images)) - done.keys())
        if missing:
            raise PoolError(f"round {round_index} journal {self.journal.folder(round_index)} lacks images "
                            f"{missing[:5]} ({len(missing)} of {num_images})")
        done = {index: done[index] for index in range(num_images)}
        budget = sum(int(entry.get("budget_pixels", 0)) for entry in done.values())
        return self._write_commit(round_index, record, done, budget)

    def _write_commit(self, round_index, record, done, budget):
        """Build the manifest after round ``round_index`` from its journal ``done`` ({index: done record}, image
        counts recomputed from the staged masks) and write it to ``commit.json``; returns the round's record."""
        if self.rounds_done != round_index:
            raise PoolError(f"cannot commit round {round_index}: the pool at {self.root} has {self.rounds_done}")
        manifest = json.loads(json.dumps(self.manifest))
        manifest["version"] = VERSION  # a version-1 pool is upgraded: _load recorded its masks' digests
        added = [self._apply_staged(manifest, round_index, entry) for _, entry in sorted(done.items())
                 if entry["added"]]
        record = _round_summary(record, added, budget)
        if record["pixels"] > budget:
            raise PoolError(f"round {round_index} bought {record['pixels']} pixels, over its budget {budget}")
        manifest["pixels_total"] = sum(e["pixels"] for e in manifest["images"].values())
        manifest["budget_pixels"] += budget
        manifest["rounds"].append(record)
        self.journal.write_commit(round_index, manifest)
        return record

    def _apply_staged(self, manifest, round_index, entry):
        """Update ``manifest``'s entry of one journaled image from its staged mask; returns the pixels it adds."""
        name = entry["name"]
        path = self.journal.staged_path(round_index, name)
        if not path.is_file():
            raise PoolError(f"round {round_index}: staged mask {path} of {name!r} is missing")
        staged, digest = _read_mask(path)
        if "sha256" in entry and entry["sha256"] != digest:
            raise PoolError(f"staged mask {path} of {name!r} does not match the sha256 in its journal entry "
                            f"{self.journal.done_path(round_index, entry['index'])}: it changed after it was written. "
                            f"Delete {self.journal.folder(round_index)} and rerun the command to redo round "
                            f"{round_index} (the committed pool is unchanged)")
        before = self._masks.get(name)
        if before is not None and (before.shape != staged.shape
                                   or not np.array_equal(staged[before != NOT_ANNOTATED],
                                                         before[before != NOT_ANNOTATED])):
            raise PoolError(f"staged mask {path} does not extend the committed mask of {name!r}")
        image = manifest["images"].setdefault(name, {"file": f"{MASK_DIR}/{mask_key(name)}.png",
                                                     "index": int(entry["index"]), "shape": list(staged.shape),
                                                     "pixels": 0, "regions": 0})
        image["sha256"] = digest  # of the bytes publish moves over masks/ unchanged
        previous = image["pixels"]
        image["pixels"] = int((staged != NOT_ANNOTATED).sum())
        image["regions"] += int(entry["regions"])
        if image["pixels"] - previous != int(entry["added"]):
            raise PoolError(f"staged mask {path} adds {image['pixels'] - previous} pixels, its journal entry says "
                            f"{entry['added']}")
        return image["pixels"] - previous

    def finish_commit(self, round_index):
        """Write the manifest from round ``round_index``'s ``commit.json`` (its masks published), drop the round
        folder and reload."""
        atomic_write_json(self.manifest_path, self.journal.read_commit(round_index))
        self.journal.remove(round_index)
        self.reload()

    def _rounds_on_disk(self):
        return rounds_on_disk(self.root)

    def _finish_interrupted_commit(self):
        """Remove temp files killed writes left and folders of rounds already committed; complete a commit a crash
        interrupted, or roll back a ``commit_round`` killed before its ``commit.json``."""
        if not self.root.is_dir():
            return
        for tmp in self.root.rglob(".*.tmp"):
            tmp.unlink()
        done = self._rounds_on_disk()
        self.journal.remove_committed(done)
        if self.journal.has_commit(done):
            self.journal.read_commit(done)  # unreadable: fail before touching masks
            self.journal.publish(done)
            self.finish_commit(done)
        elif (self.journal.read_plan(done) or {}).get("source") == COMMIT_ROUND:
            self.journal.remove(done)

    def __repr__(self):
        return (f"LabelPool(root={str(self.root)!r}, rounds={self.rounds_done}, pixels_total={self.pixels_total}, "
                f"budget_pixels={self.budget_pixels})")
