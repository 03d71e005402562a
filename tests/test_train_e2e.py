"""End to end on a tiny generated benchmark: train with two selection rounds, evaluate, checkpoint; stop a second
run at a round's iteration, resume it, and check it continues (and matches the uninterrupted run)."""
import json

import numpy as np
import pytest
import torch

from dwaca.active import LabelPool
from dwaca.config import load_config
from dwaca.data import class_names
from dwaca.engine import train
from dwaca.models.checkpoint import load_checkpoint

from conftest import CONFIG, load_tool

K_AREA = 9  # (2k+1)^2, k = 1


@pytest.fixture(scope="module")
def data_root(make_benchmark):
    return make_benchmark(num_source=6, num_target_train=4, num_target_val=3)


def _cfg(data_root, out, stop=8, resume="", name="AL-DWACA"):
    return load_config(str(CONFIG), [
        "DATASETS.ROOT", str(data_root), "OUTPUT_DIR", str(out), "resume", resume,
        "INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SIZE_TEST", "(64, 32)", "SOLVER.MAX_ITER", "8", "SOLVER.STOP_ITER", str(stop),
        # whole images: crops of the doubled image may miss the few labelled regions for the steps between rounds
        "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)",
        "SOLVER.CHECKPOINT_PERIOD", "4", "SOLVER.BATCH_SIZE", "2", "SOLVER.NUM_WORKERS", "0",
        "TEST.BATCH_SIZE", "3", "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[2, 5]", "ACTIVE.NAME", name,
        "ACTIVE.RATIO", "0.1", "MODEL.DEVICE", "cpu", "SEED", "3"])


def _masks(pool):
    return {n: pool.mask(n).copy() for n in pool.images}


@pytest.mark.slow
def test_train_select_evaluate_interrupt_and_resume(data_root, tmp_path):
    torch.set_num_threads(1)  # 2 threads on a shared 2-core machine can be 50x slower (OpenMP contention)
    # -- one uninterrupted run ---------------------------------------------------------------------------------
    full = tmp_path / "full"
    out = train(_cfg(data_root, full))
    assert out["iteration"] == 8 and out["rounds_done"] == 2

    manifest = json.loads((full / "pool" / "manifest.json").read_text())
    per_round_regions = int(0.1 / 2 * 64 * 32 / K_AREA)  # 11 regions per image and round
    assert [r["iteration"] for r in manifest["rounds"]] == [2, 5]
    assert manifest["budget_pixels"] == 2 * 4 * per_round_regions * K_AREA
    assert 0 < manifest["pixels_total"] <= manifest["budget_pixels"]
    for r in manifest["rounds"]:
        assert r["regions"] == 4 * per_round_regions and r["pixels"] <= r["budget_pixels"]
    assert manifest["rounds"][1]["iou_source"] == "pool"  # round 2 weights from annotated-pixel IoU
    assert manifest["rounds"][0]["class_weights"] == [1.0] * 19  # nothing annotated before round 1
    assert len(manifest["images"]) == 4
    assert sum(e["pixels"] for e in manifest["images"].values()) == manifest["pixels_total"]
    pngs = list((full / "pool" / "masks").glob("*.png"))
    assert len(pngs) == 4
    assert not [p for p in (full / "pool").rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]

    results = json.loads((full / "results.json").read_text())
    assert {"mIoU", "per_class_iou", "pixel_acc"} <= results.keys()
    assert list(results["per_class_iou"]) == class_names(19)
    assert 0.0 <= results["mIoU"] <= 1.0
    assert results["pixels_total"] == manifest["pixels_total"]
    # every 4 steps and at the end, plus the states rounds 1 and 2 start from: after 2 and 5 steps (RIPU's loop)
    assert sorted(p.name for p in full.glob("*.pth")) == [f"model_iter00000{i}.pth" for i in (2, 4, 5, 8)]
    for i, rounds in ((2, 0), (4, 1), (5, 1)):
        ckpt = load_checkpoint(full / f"model_iter00000{i}.pth")
        assert ckpt["iteration"] == i and ckpt["rounds_done"] == rounds and "optimizer" in ckpt and "rng" in ckpt
    assert (full / "log.txt").is_file()

    # -- a run stopped at round 2's iteration (its checkpoint is the round's start), then resumed -----------------
    part = tmp_path / "part"
    stopped = train(_cfg(data_root, part, stop=5))  # no training follows, so round 2 is left to the resumed run
    pool4 = LabelPool(part / "pool")
    assert stopped["rounds_done"] == pool4.rounds_done == 1
    assert "with 1 of 2 selection rounds done" in (part / "log.txt").read_text()
    masks4, round0 = _masks(pool4), pool4.rounds[0]
    # a fresh (non-resume) start in a folder that holds rounds is refused rather than silently restarted
    with pytest.raises(RuntimeError, match="resume"):
        train(_cfg(data_root, part))
    # a run that has bought labels keeps its budget: resuming with another one is refused, naming the keys
    changed = _cfg(data_root, part, resume=str(part / "model_iter000005.pth"))
    changed.merge_from_list(["ACTIVE.RATIO", "0.2", "ACTIVE.SELECT_ITER", "[2, 6]"])
    with pytest.raises(ValueError, match=r"ACTIVE.RATIO 0.1, ACTIVE.SELECT_ITER \[2, 5\]; this run has"):
        train(changed)
    out2 = train(_cfg(data_root, part, resume=str(part / "model_iter000005.pth")))
    assert out2["iteration"] == 8 > 5 and out2["rounds_done"] == 2
    pool8 = LabelPool(part / "pool")
    assert pool8.rounds_done == 2 and pool8.rounds[0] == round0  # round 1 not redone
    assert [r["iteration"] for r in pool8.rounds] == [2, 5]
    for n, m in masks4.items():  # round-1 annotations unchanged
        np.testing.assert_array_equal(pool8.mask(n)[m != 255], m[m != 255])
    assert "resumed from" in (part / "log.txt").read_text()
    # CPU training is deterministic here: the resumed run ends where the uninterrupted one did
    full_pool = LabelPool(full / "pool")
    assert pool8.pixels_total == full_pool.pixels_total
    assert all(np.array_equal(pool8.mask(n), full_pool.mask(n)) for n in full_pool.images)
    a = load_checkpoint(full / "model_iter000008.pth")["model"]
    b = load_checkpoint(part / "model_iter000008.pth")["model"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)

    # -- tools/test.py evaluates a checkpoint like the training did, beside the run's own results.json ----------
    load_tool("test").main(["--proctitle", "AL-RIPU", "-cfg", str(CONFIG), "DATASETS.ROOT", str(data_root),
                            "INPUT.INPUT_SIZE_TEST", "(64, 32)", "MODEL.DEVICE", "cpu", "SOLVER.NUM_WORKERS", "0",
                            "resume", str(full / "model_iter000008.pth"), "OUTPUT_DIR", str(full)])
    evaluated = json.loads((full / "test_results.json").read_text())
    assert evaluated["mIoU"] == pytest.approx(results["mIoU"], abs=1e-9)
    assert evaluated["iteration"] == 8
    assert json.loads((full / "results.json").read_text()) == results  # the training's record is kept

    # -- a crash after round 2 but before the next checkpoint: the pool is ahead of model_iter000004.pth ---------
    out3 = train(_cfg(data_root, full, resume=str(full / "model_iter000004.pth")))
    assert out3["iteration"] == 8 and out3["rounds_done"] == 2
    after = LabelPool(full / "pool")
    assert after.rounds == full_pool.rounds  # round 2 kept, not redone
    assert all(np.array_equal(after.mask(n), full_pool.mask(n)) for n in full_pool.images)
    assert "keeping the pool's rounds" in (full / "log.txt").read_text()


def test_train_cli_rejects_unknown_keys_bad_active_values_and_missing_cuda(tmp_path):
    from dwaca.engine import DeviceError, resolve_device
    with pytest.raises(KeyError, match="SOLVER.NOPE"):  # --proctitle (RIPU's) is accepted
        load_tool("train").main(["--proctitle", "x", "-cfg", str(CONFIG), "OUTPUT_DIR", str(tmp_path / "x"),
                                 "SOLVER.NOPE", "1"])
    with pytest.raises(ValueError, match="ACTIVE.RATIO"):  # before any work: nothing written
        train(load_config(str(CONFIG), ["OUTPUT_DIR", str(tmp_path / "y"), "ACTIVE.RATIO", "0"]))
    assert not (tmp_path / "y").exists()
    cfg = load_config(str(CONFIG), ["MODEL.DEVICE", "cuda"])
    if torch.cuda.is_available():
        assert resolve_device(cfg).type == "cuda"
    else:
        with pytest.raises(DeviceError, match="MODEL.DEVICE cpu"):
            resolve_device(cfg)


def test_evaluation_leaves_the_global_rng_alone(data_root):
    # ACTIVE.IOU_SOURCE val evaluates mid-run: drawing from the global RNG would change the training after it
    from dwaca.engine import evaluate_on_test
    from dwaca.models import build_model
    torch.set_num_threads(1)
    cfg = _cfg(data_root, "unused")
    model = build_model(cfg)
    before = torch.get_rng_state()
    evaluate_on_test(cfg, model, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), before)


def test_val_iou_source_is_flagged_as_leakage(data_root, tmp_path, monkeypatch):
    import dwaca.engine.evaluation as evaluation
    torch.set_num_threads(1)
    batch_sizes, evaluate = [], evaluation.evaluate

    def recording(model, loader, *args, **kwargs):
        batch_sizes.append(loader.batch_size)
        return evaluate(model, loader, *args, **kwargs)
    monkeypatch.setattr(evaluation, "evaluate", recording)
    cfg = load_config(str(CONFIG), [
        "DATASETS.ROOT", str(data_root), "OUTPUT_DIR", str(tmp_path / "val"), "MODEL.DEVICE", "cpu",
        "INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)", "INPUT.INPUT_SIZE_TEST", "(64, 32)", "SOLVER.MAX_ITER", "3",
        "SOLVER.STOP_ITER", "3", "SOLVER.CHECKPOINT_PERIOD", "3", "SOLVER.BATCH_SIZE", "2",
        "SOLVER.NUM_WORKERS", "0", "TEST.BATCH_SIZE", "3", "SOLVER.BATCH_SIZE_VAL", "2", "ACTIVE.SELECT_ITER", "[2]",
        "ACTIVE.RATIO", "0.05", "ACTIVE.IOU_SOURCE", "val", "SEED", "1", "DEBUG", "1"])
    train(cfg)
    assert batch_sizes == [2, 2]  # the round's IoU and the final evaluation use SOLVER.BATCH_SIZE_VAL
    manifest = json.loads((tmp_path / "val" / "pool" / "manifest.json").read_text())
    assert manifest["rounds"][0]["iou_source"] == "val"
    assert manifest["rounds"][0]["class_weights"] != [1.0] * 19
    log = (tmp_path / "val" / "log.txt").read_text()
    assert "TEST-SET LEAKAGE" in log
    assert "DEBUG is set but has no effect" in log
    assert manifest["pixels_total"] <= manifest["budget_pixels"] == 4 * int(0.05 * 64 * 32 / 9) * 9
