"""Crash safety: ``tools/train.py ... resume auto`` killed with SIGKILL at several points (fault injection through
DWACA_TEST_KILL_AT, see ``dwaca.utils.faults.crash_point``) and rerun ends with the pool, and the model, of an
uninterrupted run. Plus clear errors for a corrupt journal or commit and for a checkpoint of another model."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from dwaca.active import LabelPool, PoolError
from dwaca.utils.faults import KILL_ENV
from dwaca.config import load_config
from dwaca.engine import CheckpointError, train
from dwaca.engine.checkpoint import check_finite_model, save_checkpoint
from dwaca.models.checkpoint import load_checkpoint, load_model_state

from conftest import CONFIG, REPO, pool_state

# Each run is killed the n-th time it reaches a point (counted per process); the next run picks up from there.
KILLS = ["train_step:1",      # before anything is bought
         "select_image:3",    # round 1, three of four images journaled
         "publish:2",         # round 1 committed, one mask moved over masks/
         "atomic_write:1",    # the reopened pool finishing that commit, killed inside the manifest write
         "commit:1"]          # round 2 fully journaled, before commit.json
RUN_FIELDS = ("seconds", "time", "forward_s_per_image", "select_s_per_image")  # wall-clock, differ run to run


@pytest.fixture(scope="module")
def data_root(make_benchmark):
    return make_benchmark(num_source=4, num_target_train=4, num_target_val=2)


def _overrides(data_root, out):
    return ["DATASETS.ROOT", str(data_root), "OUTPUT_DIR", str(out), "resume", "auto", "MODEL.DEVICE", "cpu",
            "INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
            "INPUT.INPUT_SIZE_TEST", "(64, 32)", "SOLVER.MAX_ITER", "6", "SOLVER.STOP_ITER", "6",
            "SOLVER.CHECKPOINT_PERIOD", "3", "SOLVER.BATCH_SIZE", "2", "SOLVER.NUM_WORKERS", "0",
            "TEST.BATCH_SIZE", "2", "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[2, 4]", "ACTIVE.RATIO", "0.1",
            "SEED", "3"]


def _run(data_root, out, kill_at=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop(KILL_ENV, None)
    if kill_at:
        env[KILL_ENV] = kill_at
    cmd = [sys.executable, str(REPO / "tools" / "train.py"), "-cfg", str(CONFIG)] + _overrides(data_root, out)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_killed_runs_rerun_until_done_equal_an_uninterrupted_run(data_root, tmp_path):
    clean = tmp_path / "clean"
    done = _run(data_root, clean)
    assert done.returncode == 0, done.stderr[-3000:]

    crashed = tmp_path / "crashed"
    round_dir = crashed / "pool" / "rounds"
    left_behind = {"select_image:3": lambda: len(list((round_dir / "0" / "done").glob("*.json"))) == 3,
                   "publish:2": lambda: (round_dir / "0" / "commit.json").is_file(),
                   "commit:1": lambda: len(list((round_dir / "1" / "done").glob("*.json"))) == 4}
    for kill_at in KILLS:
        proc = _run(data_root, crashed, kill_at)
        assert proc.returncode == -signal.SIGKILL, (kill_at, proc.returncode, proc.stderr[-3000:])
        assert left_behind.get(kill_at, lambda: True)(), kill_at  # the kill hit where it was meant to
    final = _run(data_root, crashed)
    assert final.returncode == 0, final.stderr[-3000:]

    manifest, masks = pool_state(crashed / "pool", RUN_FIELDS)
    assert (manifest, masks) == pool_state(clean / "pool", RUN_FIELDS)
    assert [r["iteration"] for r in manifest["rounds"]] == [2, 4] and manifest["pixels_total"] > 0
    assert not [p for p in (crashed / "pool").rglob("*") if p.name.startswith(".") or p.name == "rounds"]
    a = load_checkpoint(clean / "model_iter000006.pth")["model"]
    b = load_checkpoint(crashed / "model_iter000006.pth")["model"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)


def _journal_one_image(root):
    pool = LabelPool(root, num_classes=19)
    selected = np.zeros((4, 6), dtype=bool)
    selected[1:3, 1:3] = True
    pool.stage_annotations(0, "a/a_000000_000019_leftImg8bit.png", 0, selected, np.full((4, 6), 7), 1,
                           budget_pixels=9)
    return pool


def test_corrupt_journal_or_commit_is_named_and_the_pool_untouched(tmp_path):
    pool = _journal_one_image(tmp_path / "journal")
    entry = pool.journal.folder(0) / "done" / "000000.json"
    entry.write_text('{"name": "a/a_0')  # truncated
    with pytest.raises(PoolError, match="000000.json"):
        pool.journal.done(0)

    pool = _journal_one_image(tmp_path / "commit")
    pool.prepare_commit(0, {"index": 0}, num_images=1)
    commit = pool.journal.folder(0) / "commit.json"
    commit.write_bytes(commit.read_bytes()[:20])
    with pytest.raises(PoolError, match="round 0 .* was interrupted"):  # a plain reader
        LabelPool(tmp_path / "commit")
    with pytest.raises(PoolError, match="commit.json"):  # the trainer, finishing the commit
        LabelPool(tmp_path / "commit", recover=True)
    assert not (tmp_path / "commit" / "masks").exists() and not (tmp_path / "commit" / "manifest.json").exists()
    assert len(list((pool.journal.folder(0) / "staged").glob("*.png"))) == 1

    pool = _journal_one_image(tmp_path / "incomplete")
    with pytest.raises(PoolError, match="lacks images"):
        pool.prepare_commit(0, {"index": 0}, num_images=2)


def test_checkpoint_of_another_model_is_refused_with_the_difference(data_root, tmp_path):
    cfg = load_config(str(CONFIG), _overrides(data_root, tmp_path / "run"))
    other = cfg.clone()
    other.defrost()
    other.MODEL.NUM_CLASSES = 16
    net = torch.nn.Conv2d(3, 4, 1)
    path = save_checkpoint(tmp_path / "model_iter000003.pth", model=net, optimizer=torch.optim.SGD(net.parameters(),
                           lr=0.1), iteration=3, rounds_done=0, cfg=other)
    cfg.defrost()
    cfg.OUTPUT_DIR = str(tmp_path)  # resume auto finds the foreign checkpoint
    with pytest.raises(CheckpointError, match=r"model_iter000003.pth.*NUM_CLASSES 16 .* 19"):
        train(cfg)
    with pytest.raises(CheckpointError, match=r"model_iter000003.pth does not fit.*shape.*weight \(4, 3, 1, 1\)"):
        load_model_state(torch.nn.Conv2d(3, 5, 1), load_checkpoint(path), path)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*model_iter000003.pth"):
        load_checkpoint(path)


def test_a_diverged_model_is_named_and_not_checkpointed():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    check_finite_model(net, 7)  # finite: nothing to say
    net[1].running_var[2] = float("inf")  # statistics the training loss never reads
    with pytest.raises(FloatingPointError, match=r"diverged by iteration 7: 1.running_var hold NaN or inf"):
        check_finite_model(net, 7)
