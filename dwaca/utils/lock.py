"""One run per output folder: an advisory lock that a second process writing into the same OUTPUT_DIR is refused by,
before it writes anything."""
import contextlib
import fcntl
import os
from pathlib import Path

from .errors import UserError

LOCK_FILE = ".lock"


class LockError(UserError, RuntimeError):
    """Another process holds the output folder's lock, or the folder to lock does not exist."""


@contextlib.contextmanager
def output_dir_lock(folder):
    """Hold an exclusive ``flock`` on ``folder/.lock`` for the ``with`` block; yields the lock file's path.

    The folder must exist (the caller creates it, so a mistyped path is not silently made); the lock file is the
    only thing created in it, and it is left in place on release (unlinking it would let a third process lock a
    fresh file while a second one still holds the old). The OS drops the lock when the process dies, so a crash
    leaves no stale lock. Raises LockError at once, naming the folder, when another process (or another open of
    the same file in this one) holds it."""
    folder = Path(folder)
    path = folder / LOCK_FILE
    if not folder.is_dir():
        raise LockError(f"cannot lock {folder}: no such folder")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise LockError(f"{folder} is in use by another run (process {holder} holds {path}); wait for it to "
                            "finish or use another OUTPUT_DIR") from None
        # the holder's pid, for the message above; a stale pid after a crash is harmless: the lock itself is gone
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock
