"""Test-only fault injection: kill the process at a named point, to prove that a crash there loses nothing."""
import os
import signal

KILL_ENV = "DWACA_TEST_KILL_AT"
_hits = {}


def crash_point(label):
    """With ``DWACA_TEST_KILL_AT=<label>:<n>`` in the environment the process SIGKILLs itself the n-th time it
    reaches ``crash_point(label)`` (labels: "atomic_write" between a temp file's fsync and its rename,
    "select_image", "commit", "publish", "train_step", "checkpoint"). A no-op otherwise."""
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    target, _, count = spec.rpartition(":")
    if target != label:
        return
    _hits[label] = _hits.get(label, 0) + 1
    if _hits[label] == int(count):
        os.kill(os.getpid(), signal.SIGKILL)
