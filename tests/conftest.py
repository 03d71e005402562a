"""Fixtures and helpers shared by the test modules: the repository's paths, a tiny generated benchmark, the tools
run or loaded in this process, byte snapshots of folders and label pools, and a second process holding an output
folder's lock."""
import contextlib
import importlib.util
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dwaca.data.synthetic import generate_benchmark

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
CONFIG = REPO / "configs" / "synthetic" / "dwaca_RA_5%.yaml"


@pytest.fixture(scope="module")
def single_thread():
    """One torch thread for a module's tests (``pytestmark = pytest.mark.usefixtures("single_thread")``): on a busy
    2-core machine OpenMP's spinning threads cost small convolutions far more than they save."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="package")
def make_benchmark(tmp_path_factory):
    """``make_benchmark(seed=0, **counts)`` writes a 64x32 benchmark into a fresh folder and returns its root
    (``<fresh>/data``, so a test may keep runs beside it in the parent)."""
    def make(seed=0, **counts):
        root = tmp_path_factory.mktemp("bench") / "data"
        generate_benchmark(root, seed=seed, width=64, height=32, **counts)
        return root
    return make


def load_tool(name):
    """tools/<name>.py as a module, to call its ``main`` in this process."""
    spec = importlib.util.spec_from_file_location(f"dwaca_tools_{name}", TOOLS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_tool(name, argv, monkeypatch):
    """Run tools/<name>.py as a script in this process; its exit status (0 when it returns)."""
    monkeypatch.setattr(sys, "argv", [str(TOOLS / f"{name}.py"), *map(str, argv)])
    monkeypatch.setattr(sys, "path", list(sys.path))  # demo.py adds tools/
    try:
        runpy.run_path(str(TOOLS / f"{name}.py"), run_name="__main__")
    except SystemExit as exit_:
        return exit_.code
    return 0


def file_bytes(root, pattern="*"):
    """{path relative to root: bytes} of every file under ``root`` whose name matches ``pattern``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob(pattern)) if p.is_file()}


def pool_state(root, wall_clock_fields):
    """A label pool's manifest without the rounds' wall-clock fields (they differ run to run), and its masks' bytes."""
    manifest = json.loads((root / "manifest.json").read_text())
    for record in manifest["rounds"]:
        for field in wall_clock_fields:
            del record[field]
    return manifest, {p.name: p.read_bytes() for p in sorted((root / "masks").glob("*"))}


@contextlib.contextmanager
def lock_held_elsewhere(folder):
    """Another process holds ``folder``'s output lock for the ``with`` block; yields its ``Popen`` (the caller may
    kill it). The block starts once the lock is taken."""
    script = ("import sys, time\nfrom dwaca.utils.lock import output_dir_lock\n"
              "with output_dir_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
