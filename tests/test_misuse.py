"""Misuses of the command-line tools, table-driven: each is refused before anything is written, with exit status 2
and one ``error:`` line naming the key, file or value; OUTPUT_DIR is not created, or stays byte for byte as it
was."""
import json
import re
import shutil

import pytest
import torch

from dwaca.config import load_config
from dwaca.engine import train
from dwaca.engine.checkpoint import save_checkpoint
from dwaca.models.checkpoint import load_checkpoint

from conftest import CONFIG, lock_held_elsewhere, run_tool

torch.set_num_threads(1)
TINY = ["INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SIZE_TEST", "(64, 32)", "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)", "SOLVER.MAX_ITER", "6",
        "SOLVER.STOP_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "2", "SOLVER.BATCH_SIZE", "2", "SOLVER.NUM_WORKERS", "0",
        "TEST.BATCH_SIZE", "3", "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[2, 5]", "ACTIVE.RATIO", "0.1",
        "SEED", "3", "MODEL.DEVICE", "cpu"]


@pytest.fixture(scope="module")
def run(make_benchmark):
    """A finished tiny run that bought one of its two rounds (checkpoints at 2 and 4)."""
    root = make_benchmark(num_source=4, num_target_train=4, num_target_val=3)
    out = root.parent / "run"
    train(load_config(str(CONFIG), ["DATASETS.ROOT", str(root), "OUTPUT_DIR", str(out), *TINY]))
    return {"root": root, "out": out, "ckpt": out / "model_iter000004.pth"}


def snapshot(folder):
    """Every path under ``folder`` and every file's bytes (None when the folder does not exist)."""
    if not folder.exists():
        return None
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def _copy_run(run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run["out"], out)
    return out


def _pending_export(out):
    (out / "pool" / "export_pending.json").write_text(json.dumps({"export_id": "e1", "dir": "/q", "round": 1}))


def _behind(out):
    """A checkpoint that says it has two rounds done, beside a pool that holds one."""
    state = load_checkpoint(out / "model_iter000004.pth")
    state["rounds_done"] = 2
    torch.save(state, out / "model_iter000005.pth")


def _as_it_is(out):
    pass


# (tool, KEY VALUE overrides, None for a fresh OUTPUT_DIR or what to do to a copy of the finished run first, the
# message's pattern); CKPT stands for the run's last checkpoint
MISUSES = [
    ("train", ["SOLVER.MAX_ITER", "-5"], None, r"SOLVER.MAX_ITER must be an integer >= 1, got -5"),
    ("train", ["SOLVER.STOP_ITER", "9"], None, r"SOLVER.STOP_ITER 9 is beyond SOLVER.MAX_ITER 6"),
    ("train", ["ACTIVE.SELECT_ITER", "[3, 2]"], None, r"ACTIVE.SELECT_ITER must be strictly increasing"),
    ("train", ["ACTIVE.SELECT_ITER", "[2.5]"], None, r"ACTIVE.SELECT_ITER must be a list of integers >= 0"),
    ("train", ["SOLVER.BATCH_SIZE", "0"], None, r"SOLVER.BATCH_SIZE must be an integer >= 1, got 0"),
    ("train", ["SOLVER.BATCH_SIZE", "1"], None,
     r"SOLVER.BATCH_SIZE 1 \(images per process\) with MODEL.FREEZE_BN False cannot train deeplabv3plus_resnet18"),
    ("train", ["SOLVER.LCR_TYPE", "l3"], None, r"SOLVER.LCR_TYPE must be one of l1, l2, kl, got 'l3'"),
    ("train", ["ACTIVE.WEIGHT_MODE", "x"], None, r"ACTIVE.WEIGHT_MODE must be one of dwaca, smoothed, shrunk, uniform"),
    ("train", ["ACTIVE.SOFT_WEIGHTS", "1"], None, r"values \(False vs. 1\) for config key: ACTIVE.SOFT_WEIGHTS"),
    ("train", ["resume", "CKPT", "MODEL.NUM_CLASSES", "16"], None,
     r"model_iter000004\.pth is from another model: MODEL.NUM_CLASSES 19 in the checkpoint, 16 configured"),
    ("test", ["SOLVER.STOP_ITER", "9", "resume", "CKPT"], None, r"SOLVER.STOP_ITER 9 is beyond"),
    ("train", ["DATASETS.ROOT", "/nonexistent"], None, r"GTAVDataset: root /nonexistent/gtav does not exist"),
    ("test", ["resume", "CKPT", "DATASETS.TEST", "cityscapes_nothing"], None, r"cityscapes_nothing"),
    ("test", ["resume", "CKPT", "MODEL.NAME", "deeplabv2_resnet18"], None,
     r"MODEL.NAME 'deeplabv3plus_resnet18' in the checkpoint, 'deeplabv2_resnet18' configured"),
    ("train", [], _as_it_is, r"pool already holds 1 selection rounds; continue that run with `resume"),
    ("train", ["resume", "auto", "ACTIVE.RATIO", "0.2"], _as_it_is,
     r"model_iter000004\.pth was trained with ACTIVE.RATIO 0.1; this run has ACTIVE.RATIO 0.2"),
    ("train", ["resume", "auto", "SOLVER.STOP_ITER", "6"], _pending_export,
     r"export_pending\.json: round 1 was exported to /q and not imported yet"),
    ("train", ["resume", "auto", "SOLVER.STOP_ITER", "6"], _behind,
     r"model_iter000005\.pth has 2 selection rounds done but the pool at \S+ holds 1"),
]


@pytest.mark.parametrize("tool,opts,prepare,match", MISUSES, ids=[m[3][:40] for m in MISUSES])
def test_a_misuse_is_refused_up_front_by_name(run, tmp_path, monkeypatch, capsys, tool, opts, prepare, match):
    out = tmp_path / "fresh" if prepare is None else _copy_run(run, tmp_path)
    if prepare:
        prepare(out)
    before = snapshot(out)
    opts = [str(run["ckpt"]) if o == "CKPT" else o for o in opts]
    code = run_tool(tool, ["-cfg", CONFIG, "DATASETS.ROOT", run["root"], "OUTPUT_DIR", out, *TINY, *opts],
                    monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and re.search(match, err), err
    assert snapshot(out) == before


def test_a_second_run_into_a_busy_folder_is_refused_at_once(run, tmp_path, monkeypatch, capsys):
    out = _copy_run(run, tmp_path)
    argv = ["-cfg", CONFIG, "DATASETS.ROOT", run["root"], "OUTPUT_DIR", out, *TINY, "resume", "auto",
            "SOLVER.STOP_ITER", "6"]
    with lock_held_elsewhere(out) as holder:
        before = snapshot(out)
        assert run_tool("train", argv, monkeypatch) == 2
        err = capsys.readouterr().err
        assert re.search(rf"error: {re.escape(str(out))} is in use by another run \(process {holder.pid} ", err), err
        assert snapshot(out) == before


def test_a_run_that_fails_after_taking_the_folder_releases_it(run, tmp_path, monkeypatch):
    cfg = load_config(str(CONFIG), ["DATASETS.ROOT", str(run["root"]), "OUTPUT_DIR", str(tmp_path / "out"), *TINY,
                                    "MODEL.WEIGHTS", str(tmp_path / "no_weights.pth")])
    failures = []  # kept: their tracebacks hold the trainers, so only an explicit release frees the folder
    for _ in range(2):  # the second attempt gets the same error, not the first one's lock
        with pytest.raises(ValueError, match="no_weights.pth") as failure:
            train(cfg)
        failures.append(failure)
