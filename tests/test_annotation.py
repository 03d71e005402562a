"""The annotation loop for people: export -> (oracle or annotators) -> import, and its refusals of bad input."""
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from dwaca.active import LabelPool, run_selection_round
from dwaca.active.annotation import (AnnotationError, answer_queries_from_ground_truth, import_labels,
                                     load_model_checked, read_queries)
from dwaca.active.selection import build_select_dataset
from dwaca.config import load_config
from dwaca.data import build_dataset
from dwaca.engine.checkpoint import save_checkpoint
from dwaca.engine.solver import build_optimizer
from dwaca.models import build_model
from dwaca.utils.faults import KILL_ENV
from dwaca.utils.lock import LockError

from conftest import CONFIG, REPO, file_bytes, load_tool, lock_held_elsewhere, pool_state

torch.set_num_threads(1)
SEED = 3
WALL_CLOCK = ("seconds", "time")  # fields of an imported round that differ run to run
SELECT, IMPORT = load_tool("select_queries"), load_tool("import_labels")


def _opts(data_root, out, ckpt="", **extra):
    opts = ["DATASETS.ROOT", str(data_root), "OUTPUT_DIR", str(out), "resume", str(ckpt),
            "INPUT.INPUT_SIZE_TEST", "(64, 32)", "MODEL.DEVICE", "cpu", "SOLVER.NUM_WORKERS", "0",
            "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[2, 5]", "ACTIVE.RATIO", "0.1", "SEED", str(SEED)]
    for key, value in extra.items():
        opts += [key.replace("__", "."), str(value)]
    return opts


@pytest.fixture(scope="module")
def bench(make_benchmark):
    """A tiny benchmark, a copy whose target label files are garbage, and a checkpoint of an untrained model."""
    root = make_benchmark(num_source=1, num_target_train=3, num_target_val=1)
    base = root.parent
    blind = base / "blind"
    shutil.copytree(root, blind)
    for label in (blind / "cityscapes" / "gtFine" / "train").rglob("*.png"):
        label.write_bytes(b"not a png")  # export must never need these
    cfg = load_config(str(CONFIG), _opts(root, base / "unused"))
    torch.manual_seed(0)
    model = build_model(cfg)
    ckpt = save_checkpoint(base / "model_iter000001.pth", model=model, optimizer=build_optimizer(model, cfg.SOLVER),
                           iteration=1, rounds_done=0, cfg=cfg, seed=SEED)
    return {"root": root, "blind": blind, "ckpt": ckpt, "cfg": cfg, "model": model.eval()}


def _export(bench, out, export_dir, root=None, **extra):
    return SELECT.main(["-cfg", str(CONFIG), *_opts(root or bench["blind"], out, bench["ckpt"], **extra),
                        "--export", str(export_dir)])


def _oracle(bench, export_dir):
    return answer_queries_from_ground_truth(export_dir, build_dataset(bench["cfg"], "cityscapes_train", "select"))


@pytest.mark.parametrize("strategy", ["AL-DWACA", "random"])
def test_export_oracle_import_equals_the_in_process_rounds(bench, tmp_path, strategy):
    cfg = load_config(str(CONFIG), _opts(bench["root"], tmp_path / "ref", ACTIVE__NAME=strategy))
    reference = LabelPool(tmp_path / "ref" / "pool", num_classes=19)
    data = build_select_dataset(cfg, reference)
    for r in range(2):
        run_selection_round(cfg, bench["model"], reference, r, r, device=torch.device("cpu"), dataset=data,
                            seed=SEED, progress=False, num_workers=0)
    assert reference.pixels_total > 0

    out = tmp_path / "run"
    for r in range(2):
        export_dir = tmp_path / f"round{r}"
        document = _export(bench, out, export_dir, ACTIVE__NAME=strategy)  # its label files are garbage
        assert document["round"] == r
        assert document["requested_pixels"] <= document["budget_pixels"] == reference.rounds[r]["budget_pixels"]
        box = document["boxes"][0]
        assert box["round"] == r and len(box["box"]) == 4 and box["box"][0] <= box["center"][0] <= box["box"][2]
        _oracle(bench, export_dir)
        report = IMPORT.main([str(export_dir), "--output-dir", str(out)])
        assert report["missing_images"] == [] and report["missing_pixels"] == 0

    imported = LabelPool(out / "pool")
    assert imported.pixels_total == reference.pixels_total and imported.budget_pixels == reference.budget_pixels
    assert imported.images == reference.images
    for name in reference.images:
        np.testing.assert_array_equal(imported.mask(name), reference.mask(name))
    keys = ("index", "strategy", "regions", "regions_requested", "pixels", "budget_pixels", "images_annotated",
            "per_image", "class_weights")
    for got, want in zip(imported.rounds, reference.rounds):
        assert {k: got[k] for k in keys} == {k: want[k] for k in keys}
        assert got["source"] == "import"
    assert not (out / "pool" / "export_pending.json").exists()


def test_pending_export_refuses_a_second_export_and_a_round_is_never_paid_twice(bench, tmp_path):
    out = tmp_path / "run"
    _export(bench, out, tmp_path / "a")
    with pytest.raises(AnnotationError, match="pending"):
        _export(bench, out, tmp_path / "b")
    assert not (tmp_path / "b").exists() and not (out / "pool" / "manifest.json").exists()  # nothing bought yet
    _oracle(bench, tmp_path / "a")
    IMPORT.main([str(tmp_path / "a"), "--output-dir", str(out)])
    before = file_bytes(out / "pool")
    with pytest.raises(AnnotationError, match="already imported"):
        IMPORT.main([str(tmp_path / "a"), "--output-dir", str(out)])
    assert file_bytes(out / "pool") == before


def test_an_import_into_a_locked_output_dir_is_refused_and_writes_nothing(bench, tmp_path):
    out = tmp_path / "run"
    _export(bench, out, tmp_path / "a")
    _oracle(bench, tmp_path / "a")
    with lock_held_elsewhere(out):
        before = file_bytes(out)
        with pytest.raises(LockError, match=f"{out} is in use by another run"):
            IMPORT.main([str(tmp_path / "a"), "--output-dir", str(out)])
        assert file_bytes(out) == before
    IMPORT.main([str(tmp_path / "a"), "--output-dir", str(out)])  # once the other run is gone it goes through
    assert LabelPool(out / "pool").rounds_done == 1


def test_partial_return_buys_only_what_arrived(bench, tmp_path):
    out, export_dir = tmp_path / "run", tmp_path / "q"
    document = _export(bench, out, export_dir)
    with pytest.raises(AnnotationError, match="no returned label file"):  # nothing back yet: refused
        import_labels(LabelPool(out / "pool", num_classes=19), export_dir)
    _oracle(bench, export_dir)
    first, second = document["images"][:2]
    (export_dir / first["labels"]).unlink()
    labels = np.array(Image.open(export_dir / second["labels"]))
    answered = np.argwhere(labels != 255)
    labels[tuple(answered[:5].T)] = 255  # five requested pixels left unlabeled
    Image.fromarray(labels).save(export_dir / second["labels"])
    report = import_labels(LabelPool(out / "pool", num_classes=19), export_dir)
    assert report["missing_images"] == [first["name"]]
    assert report["missing_pixels"] == first["pixels"] + 5
    assert report["pixels_bought"] == document["requested_pixels"] - first["pixels"] - 5
    pool = LabelPool(out / "pool")
    assert first["name"] not in pool.images and pool.pixels_total == report["pixels_bought"]
    assert pool.budget_pixels == document["budget_pixels"]  # the budget was spent whether or not it came back
    assert pool.rounds[0]["missing_pixels"] == report["missing_pixels"]


def _break_outside(labels, query):
    outside = np.argwhere(query == 255)[:7]
    labels[tuple(outside.T)] = 3
    return labels


def _break_class(labels, query):
    labels[query == 1] = np.where(np.arange((query == 1).sum()) % 2, 19, 200)
    return labels


CASES = {
    "outside": (lambda p, l, q: Image.fromarray(_break_outside(l, q)).save(p), "7 pixels outside"),
    "classes": (lambda p, l, q: Image.fromarray(_break_class(l, q)).save(p), r"values \[19, 200\]"),
    "size": (lambda p, l, q: Image.fromarray(l[:, :-1]).save(p), "63x32"),
    "truncated": (lambda p, l, q: p.write_bytes(p.read_bytes()[:60]), "corrupt or truncated"),
    "rgb": (lambda p, l, q: Image.fromarray(np.stack([l] * 3, -1)).save(p), "single-channel"),
}


def test_bad_returns_are_refused_and_the_pool_left_byte_identical(bench, tmp_path):
    out = tmp_path / "run"
    _export(bench, out, tmp_path / "r0")
    _oracle(bench, tmp_path / "r0")
    import_labels(LabelPool(out / "pool", num_classes=19), tmp_path / "r0")
    good = tmp_path / "r1"
    _export(bench, out, good)
    _oracle(bench, good)
    before = file_bytes(out / "pool")
    entry = read_queries(good)["images"][0]

    def attempt(case, breaker, message):
        broken = tmp_path / case
        shutil.copytree(good, broken)
        path = broken / entry["labels"]
        breaker(path, np.array(Image.open(path)), np.array(Image.open(broken / entry["query"])))
        with pytest.raises(AnnotationError, match=message) as err:
            import_labels(LabelPool(out / "pool", num_classes=19), broken)
        assert file_bytes(out / "pool") == before, case
        return str(err.value)

    for case, (breaker, message) in CASES.items():
        assert entry["labels"].split("/")[-1] in attempt(case, breaker, message)

    def overlap(path, labels, query):  # move one requested pixel onto a pixel round 0 bought
        bought = np.argwhere(LabelPool(out / "pool").mask(entry["name"]) != 255)[0]
        moved = np.argwhere(query == 1)[0]
        query[tuple(bought)], query[tuple(moved)] = 1, 255
        labels[tuple(bought)], labels[tuple(moved)] = 4, 255
        Image.fromarray(query).save(path.parents[1] / entry["query"])
        Image.fromarray(labels).save(path)
    attempt("overlap", overlap, "already holds")

    def malformed(path, labels, query):
        (path.parents[1] / "queries.json").write_text('{"format": "dwaca-queries", "version": 1, "round": 1')
    attempt("malformed", malformed, "cannot read .*queries.json")

    def foreign(path, labels, query):  # same files, but another export (e.g. of another pool)
        document = json.loads((path.parents[1] / "queries.json").read_text())
        document["export_id"] = "0" * 32
        (path.parents[1] / "queries.json").write_text(json.dumps(document))
    attempt("foreign", foreign, "is not the pending export")

    IMPORT.main([str(good), "--output-dir", str(out)])  # the intact return still imports
    assert LabelPool(out / "pool").rounds_done == 2


@pytest.mark.slow
def test_an_import_killed_at_any_write_is_finished_by_rerunning_it(bench, tmp_path):
    out, pool_root = tmp_path / "run", tmp_path / "run" / "pool"
    _export(bench, out, tmp_path / "r0")
    _oracle(bench, tmp_path / "r0")
    IMPORT.main([str(tmp_path / "r0"), "--output-dir", str(out)])
    export_dir = tmp_path / "r1"  # round 1 rewrites masks round 0 wrote
    _export(bench, out, export_dir)
    _oracle(bench, export_dir)
    shutil.copytree(pool_root, tmp_path / "before")
    before = pool_state(pool_root, WALL_CLOCK)
    IMPORT.main([str(export_dir), "--output-dir", str(out)])
    after = pool_state(pool_root, WALL_CLOCK)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(REPO / "tools" / "import_labels.py"), str(export_dir), "--output-dir", str(out)]
    for label in ("atomic_write", "publish", "commit"):
        for n in range(1, 100):  # the n-th time the import reaches `label`, until it no longer does
            shutil.rmtree(pool_root)
            shutil.copytree(tmp_path / "before", pool_root)
            proc = subprocess.run(cmd, env=dict(env, **{KILL_ENV: f"{label}:{n}"}), capture_output=True, text=True,
                                  timeout=120)
            if proc.returncode == 0:
                break
            assert proc.returncode == -signal.SIGKILL, (label, n, proc.stderr[-2000:])
            recovered = LabelPool(pool_root, recover=True)  # never masks and manifest disagreeing
            assert pool_state(pool_root, WALL_CLOCK) in (before, after), (label, n)
            assert recovered.rounds_done in (1, 2)
            report = IMPORT.main([str(export_dir), "--output-dir", str(out)])
            assert pool_state(pool_root, WALL_CLOCK) == after and report["record"]["index"] == 1, (label, n)
            assert not (pool_root / "rounds").exists() and not (pool_root / "export_pending.json").exists()
        assert pool_state(pool_root, WALL_CLOCK) == after and n > 1, label


def test_queries_from_another_pool_are_refused(bench, tmp_path):
    _export(bench, tmp_path / "one", tmp_path / "q1")
    _export(bench, tmp_path / "two", tmp_path / "q2")
    _oracle(bench, tmp_path / "q1")
    before = file_bytes(tmp_path / "two" / "pool")
    with pytest.raises(AnnotationError, match="not the pending export"):
        IMPORT.main([str(tmp_path / "q1"), "--output-dir", str(tmp_path / "two")])
    assert file_bytes(tmp_path / "two" / "pool") == before


@pytest.mark.parametrize("key,value", [("ACTIVE.RADIUS_K", "-1"), ("ACTIVE.RATIO", "0.0"), ("ACTIVE.RATIO", "1.5")])
def test_senseless_budgets_are_refused_naming_the_key(bench, tmp_path, key, value):
    with pytest.raises(AnnotationError, match=rf"dwaca_RA_5%\.yaml \+ command-line overrides: {key}"):
        _export(bench, tmp_path / "run", tmp_path / "q", **{key.replace(".", "__"): value})
    assert not (tmp_path / "run" / "pool").exists() and not (tmp_path / "q").exists()


def test_checkpoints_of_another_model_are_refused_naming_the_file(bench, tmp_path):
    cfg16 = load_config(str(CONFIG), _opts(bench["root"], tmp_path, MODEL__NUM_CLASSES=16))
    refused = r"model_iter000001\.pth is from another model: MODEL.NUM_CLASSES 19 in the checkpoint, 16 configured"
    with pytest.raises(AnnotationError, match=refused):
        load_model_checked(cfg16, bench["ckpt"], torch.device("cpu"))
    other = load_config(str(CONFIG), _opts(bench["root"], tmp_path, MODEL__NAME="deeplabv2_resnet18"))
    with pytest.raises(AnnotationError, match="MODEL.NAME 'deeplabv3plus_resnet18'"):
        load_model_checked(other, bench["ckpt"], torch.device("cpu"))
    garbage = tmp_path / "model_iter000002.pth"
    garbage.write_bytes(b"\x80garbage")
    with pytest.raises(AnnotationError, match="model_iter000002.pth"):
        load_model_checked(bench["cfg"], garbage, torch.device("cpu"))


def test_no_tool_shadows_a_standard_library_module():
    # a script's folder is sys.path[0]: tools/select.py would replace the stdlib `select` for every tool
    assert not {p.stem for p in (REPO / "tools").glob("*.py")} & set(sys.stdlib_module_names)
