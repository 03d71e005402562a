"""What a run leaves on disk and records: checkpoint retention (SOLVER.KEEP_CHECKPOINTS), ``resume auto`` falling
back past an unreadable checkpoint, metrics.jsonl and the TensorBoard event files."""
import json

import pytest
import torch

from dwaca.active import LabelPool
from dwaca.config import load_config
from dwaca.data import class_names
from dwaca.engine import train
from dwaca.engine.checkpoint import list_checkpoints, prune_checkpoints
from dwaca.engine.metrics_log import MetricsLog, read_metrics
from dwaca.engine.preflight import preflight
from dwaca.models.checkpoint import CheckpointError

from conftest import CONFIG

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def data_root(make_benchmark):
    return make_benchmark(num_source=4, num_target_train=3, num_target_val=2)


def _cfg(data_root, out, *extra):
    return load_config(str(CONFIG), [
        "DATASETS.ROOT", str(data_root), "OUTPUT_DIR", str(out), "INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.INPUT_SIZE_TEST", "(64, 32)",
        "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)", "SOLVER.MAX_ITER", "6", "SOLVER.STOP_ITER", "6",
        "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.BATCH_SIZE", "2", "SOLVER.NUM_WORKERS", "0", "TEST.BATCH_SIZE", "2",
        "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[2, 4]", "ACTIVE.RATIO", "0.1", "MODEL.DEVICE", "cpu",
        "SEED", "1", *extra])


def _touch(folder, *iterations):
    for i in iterations:
        (folder / f"model_iter{i:06d}.pth").write_bytes(b"x")


def _iterations(folder):
    return [i for i, _ in list_checkpoints(folder)]


def test_pruning_keeps_the_newest_the_protected_and_any_beyond_the_saved_one(tmp_path):
    _touch(tmp_path, 1, 2, 3, 4, 5, 9)
    (tmp_path / "model_iter_best.pth").write_bytes(b"x")  # not a checkpoint name: never touched
    deleted = prune_checkpoints(tmp_path, 5, keep=2, protected=[2])
    assert sorted(p.name for p in deleted) == ["model_iter000001.pth", "model_iter000003.pth"]
    assert _iterations(tmp_path) == [2, 4, 5, 9] and (tmp_path / "model_iter_best.pth").exists()
    assert prune_checkpoints(tmp_path, 5, keep=0) == [] and _iterations(tmp_path) == [2, 4, 5, 9]
    prune_checkpoints(tmp_path, 5, keep=1)
    assert _iterations(tmp_path) == [5, 9]


@pytest.mark.slow
def test_a_run_keeps_its_checkpoints_as_configured_and_records_its_curves(data_root, tmp_path):
    out = train(_cfg(data_root, tmp_path / "a", "SOLVER.KEEP_CHECKPOINTS", "2"))
    assert _iterations(tmp_path / "a") == [2, 4, 5, 6]  # rounds' checkpoints kept, then the newest two
    train(_cfg(data_root, tmp_path / "b", "SOLVER.KEEP_CHECKPOINTS", "1", "SOLVER.KEEP_ROUND_CHECKPOINTS", "False"))
    assert _iterations(tmp_path / "b") == [6]

    records = read_metrics(tmp_path / "a")
    assert [r["iteration"] for r in read_metrics(tmp_path / "a", "train")] == [1, 2, 3, 4, 5, 6]
    train_record = read_metrics(tmp_path / "a", "train")[-1]
    assert {"lr", "seconds_per_iter", "loss/total"} <= set(train_record) and train_record["lr"] > 0
    rounds = read_metrics(tmp_path / "a", "round")
    manifest = json.loads((tmp_path / "a" / "pool" / "manifest.json").read_text())
    assert [(r["round"], r["iteration"]) for r in rounds] == [(1, 2), (2, 4)]
    assert [r["pixels"] for r in rounds] == [r["pixels"] for r in manifest["rounds"]]
    assert rounds[-1]["pixels_total"] == manifest["pixels_total"] == sum(r["pixels"] for r in rounds)
    assert [r["class_weights"] for r in rounds] == [r["class_weights"] for r in manifest["rounds"]]
    for r in rounds:  # the ground-truth classes of what was bought, the ignored pixels last
        assert len(r["class_pixels"]) == 19 + 1 and sum(r["class_pixels"]) == r["pixels"]
    assert [r["class_pixels"] for r in rounds] == [r["class_pixels"] for r in manifest["rounds"]]
    bought = torch.zeros(20, dtype=torch.int64)
    for name in LabelPool(tmp_path / "a" / "pool").images:
        mask = torch.from_numpy(LabelPool(tmp_path / "a" / "pool").mask(name).astype("int64"))
        bought += torch.bincount(mask[mask != 255], minlength=20)[:20]
    assert bought[:19].tolist() == [sum(c) for c in zip(*(r["class_pixels"][:19] for r in rounds))]
    (evaluation,) = [r for r in records if r["kind"] == "eval"]
    assert evaluation["iteration"] == 6 and evaluation["mIoU"] == pytest.approx(out["results"]["mIoU"])
    assert list(evaluation["per_class_iou"]) == class_names(19)


@pytest.mark.slow
def test_resume_auto_skips_an_unreadable_newest_checkpoint(data_root, tmp_path):
    run = tmp_path / "run"
    train(_cfg(data_root, run, "SOLVER.STOP_ITER", "5", "SOLVER.KEEP_CHECKPOINTS", "0"))
    newest = run / "model_iter000005.pth"
    newest.write_bytes(newest.read_bytes()[:1000])  # torn by a full disk, say
    checked = preflight(_cfg(data_root, run, "resume", "auto"))
    assert checked.resume_path == run / "model_iter000004.pth"
    assert [p for p, _ in checked.skipped] == [newest]
    out = train(_cfg(data_root, run, "resume", "auto", "SOLVER.KEEP_CHECKPOINTS", "0"))
    assert out["iteration"] == 6
    log = (run / "log.txt").read_text()
    assert f"resume auto: skipping {newest}, which cannot be read" in log and f"using {run}/model_iter000004.pth" in log
    for _, path in list_checkpoints(run):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"resume auto: none of the 6 checkpoints in .* can be read"):
        preflight(_cfg(data_root, run, "resume", "auto"))


def test_metrics_reader_keeps_the_last_record_per_iteration_and_drops_a_torn_last_line(tmp_path):
    log = MetricsLog(tmp_path)
    log.write("train", 1, lr=0.1)
    log.write("train", 2, lr=0.2)
    log.write("eval", 2, mIoU=float("nan"), per_class_iou={"road": 0.5, "sky": float("nan")})
    log.close()
    log = MetricsLog(tmp_path, start_iter=1)  # a resumed run writes iteration 2 again
    log.write("train", 2, lr=0.25)
    log.close()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "iter')
    records = read_metrics(tmp_path)
    assert [(r["kind"], r["iteration"], r.get("lr")) for r in records] == [("train", 1, 0.1), ("eval", 2, None),
                                                                           ("train", 2, 0.25)]
    assert records[1]["mIoU"] is None and records[1]["per_class_iou"] == {"road": 0.5, "sky": None}
    (tmp_path / "metrics.jsonl").write_text('{"kind": "train", "iteration": 1}\nnot json\n{"kind": "train", '
                                            '"iteration": 2}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl line 2 is not a JSON object"):
        read_metrics(tmp_path)
    assert read_metrics(tmp_path / "nothing") == []


def test_tensorboard_gets_the_same_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    log = MetricsLog(tmp_path, tensorboard=True)
    log.write("train", 3, lr=0.5, **{"loss/total": 1.25})
    log.write("eval", 3, mIoU=0.4, per_class_iou={"road": 0.75, "sky": None}, dataset="cityscapes_val")
    log.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["eval/mIoU", "eval/per_class_iou/road", "train/loss/total",
                                                "train/lr"]
    assert [(e.step, e.value) for e in events.Scalars("train/lr")] == [(3, 0.5)]
    assert events.Scalars("eval/per_class_iou/road")[0].value == 0.75


def test_tensorboard_without_the_package_is_refused_naming_the_key(data_root, tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.split(".")[0] == "tensorboard":
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ImportError, match=r"^LOG.TENSORBOARD True needs the tensorboard package"):
        preflight(_cfg(data_root, tmp_path / "tb", "LOG.TENSORBOARD", "True"))
    assert not (tmp_path / "tb").exists()


@pytest.mark.slow
def test_shrunk_weights_see_the_labelled_pixels_per_class(data_root, tmp_path):
    # the same run twice: round 2's IoU is the same, so the weights differ only if the support reaches "shrunk"
    weights = {}
    for mode in ("smoothed", "shrunk"):
        train(_cfg(data_root, tmp_path / mode, "SOLVER.STOP_ITER", "5", "ACTIVE.NAME", "AL-DWACA",
                   "ACTIVE.WEIGHT_MODE", mode))
        rounds = json.loads((tmp_path / mode / "pool" / "manifest.json").read_text())["rounds"]
        weights[mode] = [r["class_weights"] for r in rounds]
    assert weights["smoothed"][0] == weights["shrunk"][0] == [1.0] * 19  # round 1: nothing labelled yet
    assert weights["smoothed"][1] != pytest.approx(weights["shrunk"][1])
    assert min(weights["shrunk"][1]) >= 0.1 / 1.1 - 1e-6 and max(weights["shrunk"][1]) == pytest.approx(1.0)
