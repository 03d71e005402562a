"""Crash-safe file writes and the folder and PNG helpers that the pool, checkpoints and exports share."""
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .faults import crash_point


def fsync_dir(folder):
    """Make a rename in ``folder`` durable (best effort: some file systems refuse to fsync a folder)."""
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


def _process_umask():
    mask = os.umask(0)  # reading the umask means setting it: done once, at import, before any writer thread starts
    os.umask(mask)
    return mask


NEW_FILE_MODE = 0o666 & ~_process_umask()


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``. The file gets the
    permissions ``open`` would give a new one (0666 less the umask at import), not the temp file's owner-only 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, NEW_FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        crash_point("atomic_write")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def nan_to_none(x):
    """``x`` with every non-finite float (NaN: an undefined IoU) in it, nested in dicts and lists, replaced by None:
    strict JSON has no NaN."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    return x


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False, allow_nan=False) + "\n").encode())


def png_bytes(mask):
    """A single-channel 8-bit PNG of the (H, W) array ``mask``, losslessly compressed."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def make_dir(path, what):
    """Create folder ``path`` with its parents; an error names ``what`` (the option or key that gave the path)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        # mkdir says "File exists" or "Not a directory" when a part of the path is a file: name that part
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file" if blocker else err.strerror or err
        raise type(err)(f"{what}: cannot create the folder {path} ({reason})") from err
    return path
