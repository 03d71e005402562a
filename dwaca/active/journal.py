"""The journal of a selection round in progress, so that a round killed at any moment finishes exactly as an
uninterrupted one would when the same command is rerun.

Under the pool's root, round ``i`` keeps ``rounds/<i>/``::

    plan.json                     the round's parameters (the config its selection and budget depend on, class
                                  weights), fixed at its start
    staged/<key>.png              an image's whole mask after this round (only images that bought pixels)
    done/<dataset index>.json     the image is finished: pixels added, regions, budget, the sha256 of its staged
                                  PNG's bytes (written after its mask)
    commit.json                   {"manifest": the manifest after the round}, written once every image is done

Committing (``dwaca.active.pool.LabelPool``) moves the staged masks over ``masks/`` (``os.replace``), writes the
manifest from ``commit.json``, and removes the round folder. Every file is written atomically, and every step of a
commit is idempotent. The commit checks every staged mask against the sha256 of its done record, so a staged file
changed after it was written never enters the pool (done records journaled before checksums carry none and are
taken as they are).
"""
import hashlib
import json
import os
import shutil
from pathlib import Path

from ..utils.faults import crash_point
from ..utils.io import atomic_write_bytes, atomic_write_json, fsync_dir, png_bytes
from .errors import PoolError

ROUNDS_DIR = "rounds"
COMMIT = "commit.json"
PLAN = "plan.json"


def mask_key(name):
    """File stem of an image's mask: the sample name, "/" -> "__", without a trailing ".png"."""
    key = name[:-4] if name.endswith(".png") else name
    return key.replace("\\", "__").replace("/", "__")


def read_json(path, what):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise PoolError(f"cannot read {what} {path}: {err}") from err


class RoundJournal:
    """The round folders under ``root/rounds/`` of one pool whose committed masks are in ``mask_dir``."""

    def __init__(self, root, mask_dir):
        self.root = Path(root)
        self.mask_dir = Path(mask_dir)

    def folder(self, round_index):
        return self.root / ROUNDS_DIR / str(int(round_index))

    def staged_path(self, round_index, name):
        return self.folder(round_index) / "staged" / f"{mask_key(name)}.png"

    def read_plan(self, round_index):
        """The plan.json of round ``round_index`` (dict) or None if the round has not started."""
        path = self.folder(round_index) / PLAN
        return read_json(path, "round plan") if path.is_file() else None

    def write_plan(self, round_index, plan):
        atomic_write_json(self.folder(round_index) / PLAN, plan)

    def done_path(self, round_index, index):
        return self.folder(round_index) / "done" / f"{int(index):06d}.json"

    def stage(self, round_index, name, index, mask, added, regions, **extra):
        """Write one image's mask after round ``round_index`` to ``staged/`` (if it adds pixels), then its done
        record with the staged PNG's sha256 (``extra``, e.g. the image's budget, is kept in it)."""
        record = dict(extra, name=name, index=int(index), shape=list(mask.shape), added=int(added),
                      regions=int(regions))
        if added:
            data = png_bytes(mask)
            record["sha256"] = hashlib.sha256(data).hexdigest()  # the bytes in hand, not re-read from disk
            atomic_write_bytes(self.staged_path(round_index, name), data)
        atomic_write_json(self.done_path(round_index, index), record)

    def done(self, round_index):
        """{dataset index: done record} of the images round ``round_index`` has finished so far."""
        done_dir = self.folder(round_index) / "done"
        records = {}
        for path in sorted(done_dir.glob("*.json")) if done_dir.is_dir() else ():
            record = read_json(path, "round journal entry")
            if not isinstance(record, dict) or {"name", "index", "added", "regions"} - record.keys():
                raise PoolError(f"round journal entry {path} is not a done record")
            records[int(record["index"])] = record
        return records

    def has_commit(self, round_index):
        return (self.folder(round_index) / COMMIT).is_file()

    def write_commit(self, round_index, manifest):
        crash_point("commit")
        atomic_write_json(self.folder(round_index) / COMMIT, {"manifest": manifest})

    def read_commit(self, round_index):
        """The manifest after round ``round_index``, from its ``commit.json``."""
        path = self.folder(round_index) / COMMIT
        commit = read_json(path, "round commit")
        if not isinstance(commit, dict) or "manifest" not in commit:
            raise PoolError(f"round commit {path} holds no manifest")
        return commit["manifest"]

    def publish(self, round_index, names=None):
        """Move round ``round_index``'s staged masks (of ``names``, default all) over the pool's masks; idempotent."""
        staged_dir = self.folder(round_index) / "staged"
        if names is None:
            paths = sorted(staged_dir.glob("*.png")) if staged_dir.is_dir() else []
        else:
            paths = [self.staged_path(round_index, n) for n in names]
        self.mask_dir.mkdir(parents=True, exist_ok=True)
        for path in paths:
            if path.is_file():
                crash_point("publish")
                os.replace(path, self.mask_dir / path.name)
        fsync_dir(self.mask_dir)

    def remove(self, round_index):
        folder = self.folder(round_index)
        shutil.rmtree(folder, ignore_errors=True)
        if folder.parent.is_dir() and not any(folder.parent.iterdir()):
            folder.parent.rmdir()

    def remove_committed(self, rounds_done):
        """Delete the folders of rounds before ``rounds_done`` (a crash after their commit left them)."""
        rounds_dir = self.root / ROUNDS_DIR
        for folder in rounds_dir.iterdir() if rounds_dir.is_dir() else ():
            if folder.name.isdigit() and int(folder.name) < rounds_done:
                shutil.rmtree(folder)
