"""tools/test.py's saved predictions: paths, colours, label ids, and cityscapesscripts' own evaluation of them
agreeing with ours."""
import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cs_eval
from cityscapesscripts.helpers.labels import id2label, trainId2label
from PIL import Image

from dwaca.config.defaults import get_cfg_defaults
from dwaca.engine.prediction_export import PredictionExporter, export_paths
from dwaca.models import build_model

from conftest import load_tool

W, H = 2048, 1024
STEMS = ("aachen/aachen_000000_000019", "bremen/bremen_000001_000019", "bremen/bremen_000002_000019")
# Ground truth: a first run's predictions, 30% of its 64x64 blocks replaced by ignored ids (0 unlabeled,
# 4 static, 9 parking) or a few evaluated classes, so IoUs are far from 0 and 1 and the ground truth holds ignored
# pixels; classes absent from the ground truth and from the predictions (NaN in both evaluations) remain.
NOISE_IDS = (0, 4, 9, 7, 21, 26)
# The published test.py's SYNTHIA -> Cityscapes mapping of predictions before colouring (its transform_color).
PUBLISHED_16_TO_19 = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 10, 10: 11, 11: 12, 12: 13, 13: 15,
                      14: 17, 15: 18}
# The published palette: the official colours but for sky (train id 10).
PUBLISHED_COLOURS = {**{i: trainId2label[i].color for i in range(19)}, 10: (0, 130, 180)}


@pytest.fixture(autouse=True)
def _drop_log_handlers():
    yield  # the tool's logger writes to the captured stdout of the test that set it up
    log = logging.getLogger("dwaca")
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def blocks(rng, values, cell, channels=()):
    """(H, W, *channels) uint8 of ``cell``-pixel blocks, each a random choice from ``values``."""
    small = rng.choice(np.asarray(values, dtype=np.uint8), size=(H // cell, W // cell, *channels))
    return np.repeat(np.repeat(small, cell, 0), cell, 1)


def write_ground_truth(root, ids_of):
    for stem in STEMS:
        path = root / "cityscapes" / "gtFine" / "val" / f"{stem}_gtFine_labelIds.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ids_of(stem)).save(path)


@pytest.fixture(scope="module")
def cityscapes_run(tmp_path_factory):
    """A 3-image Cityscapes val split at 2048x1024 and a random deeplabv3plus_resnet18 checkpoint evaluated on it by
    tools/test.py; returns (dataset root, OUTPUT_DIR)."""
    base = tmp_path_factory.mktemp("export")
    root = base / "data"
    rng = np.random.default_rng(0)
    for stem in STEMS:
        path = root / "cityscapes" / "leftImg8bit" / "val" / f"{stem}_leftImg8bit.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(blocks(rng, range(256), 128, (3,))).save(path)
    write_ground_truth(root, lambda stem: np.zeros((H, W), dtype=np.uint8))
    cfg = get_cfg_defaults()
    cfg.MODEL.NAME, cfg.MODEL.WEIGHTS = "deeplabv3plus_resnet18", ""
    torch.manual_seed(0)
    checkpoint = base / "model_iter000000.pth"
    torch.save({"model": build_model(cfg).state_dict(), "iteration": 0, "config": cfg.dump()}, checkpoint)
    load_tool("test").main(opts(root, base / "first", "resume", checkpoint))

    def noisy_predictions(stem):
        ids = np.asarray(Image.open(base / "first" / "inference" / "cityscapes_val_labelIds" /
                                    f"{Path(stem).name}_labelIds.png"))
        noise = blocks(rng, NOISE_IDS, 64)
        return np.where(blocks(rng, (1, 0, 0), 64).astype(bool), noise, ids)
    write_ground_truth(root, noisy_predictions)
    out = base / "out"
    load_tool("test").main(opts(root, out, "resume", checkpoint))
    return root, out


def opts(root, out, *extra):
    return ["MODEL.NAME", "deeplabv3plus_resnet18", "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu",
            "DATASETS.ROOT", str(root), "DATASETS.TEST", "cityscapes_val", "INPUT.INPUT_SIZE_TEST", "(128, 64)",
            "SOLVER.NUM_WORKERS", "0", "OUTPUT_DIR", str(out), *map(str, extra)]


def cityscapes_evaluation(root, prediction_folder):
    """cityscapesscripts' pixel-level evaluation of the val ground truth against ``prediction_folder``, finding each
    prediction as its command-line tool does (a recursive search by city, sequence and frame)."""
    args = copy.copy(cs_eval.args)
    args.evalInstLevelScore, args.evalPixelAccuracy, args.quiet, args.JSONOutput = False, False, True, False
    args.predictionPath, args.predictionWalk = str(prediction_folder), None
    ground_truth = sorted(str(p) for p in (root / "cityscapes" / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    predictions = [cs_eval.getPrediction(args, gt) for gt in ground_truth]
    return cs_eval.evaluateImgLists(predictions, ground_truth, args)


def test_cityscapesscripts_scores_the_saved_label_ids_as_we_do(cityscapes_run):
    root, out = cityscapes_run
    ours = json.loads((out / "test_results.json").read_text())
    theirs = cityscapes_evaluation(root, out / "inference" / "cityscapes_val_labelIds")
    predicted = set()
    for path in (out / "inference" / "cityscapes_val_labelIds").iterdir():
        predicted |= set(np.unique(np.asarray(Image.open(path))).tolist())
    assert len(predicted) >= 5  # the comparison covers several predicted classes
    assert 0.3 < ours["mIoU"] < 0.9
    # NaN (ours: null) exactly where a class is absent from both; cityscapesscripts averages its non-NaN classes,
    # we the non-null ones, over the same 19 classes
    assert any(v is None for v in ours["per_class_iou"].values())
    for name, iou in ours["per_class_iou"].items():
        if iou is None:
            assert np.isnan(theirs["classScores"][name]), name
        else:
            assert theirs["classScores"][name] == pytest.approx(iou, abs=1e-9), name
    assert theirs["averageScoreClasses"] == pytest.approx(ours["mIoU"], abs=1e-6)


def test_one_colour_png_per_image_named_as_published_in_the_label_ids_colours(cityscapes_run):
    root, out = cityscapes_run
    colour_dir, ids_dir = out / "inference" / "cityscapes_val", out / "inference" / "cityscapes_val_labelIds"
    assert sorted(p.name for p in colour_dir.iterdir()) == sorted(Path(s).name + "_leftImg8bit.png" for s in STEMS)
    assert sorted(p.name for p in ids_dir.iterdir()) == sorted(Path(s).name + "_labelIds.png" for s in STEMS)
    for stem in STEMS:
        colour = Image.open(colour_dir / (Path(stem).name + "_leftImg8bit.png"))
        ids = Image.open(ids_dir / (Path(stem).name + "_labelIds.png"))
        assert (colour.mode, colour.size, ids.mode, ids.size) == ("RGB", (W, H), "L", (W, H))
        ids = np.asarray(ids)
        table = np.zeros((256, 3), dtype=np.uint8)
        for i in np.unique(ids):
            assert id2label[i].trainId < 19, i  # only evaluated classes are predicted
            table[i] = PUBLISHED_COLOURS[id2label[i].trainId]
        np.testing.assert_array_equal(np.asarray(colour), table[ids])


def test_synthia_predictions_take_the_published_19_class_colours_and_ids(tmp_path):
    pred = torch.arange(16).reshape(1, 4, 4)
    paths = export_paths(tmp_path, "cityscapes_val", ["x/a_leftImg8bit.png"], "_leftImg8bit.png")
    with PredictionExporter(paths, 16) as exporter:
        exporter({"name": ["x/a_leftImg8bit.png"]}, pred)
    colour = np.asarray(Image.open(tmp_path / "cityscapes_val" / "a_leftImg8bit.png")).reshape(16, 3)
    ids = np.asarray(Image.open(tmp_path / "cityscapes_val_labelIds" / "a_labelIds.png")).reshape(16)
    for k, id19 in PUBLISHED_16_TO_19.items():
        assert tuple(colour[k]) == PUBLISHED_COLOURS[id19] and ids[k] == trainId2label[id19].id, k


def test_two_samples_of_one_file_name_are_refused():
    with pytest.raises(ValueError, match=r"a/1\.png and b/1\.png .*TEST.SAVE_PREDICTIONS False"):
        export_paths("out", "gtav_train", ["a/1.png", "b/1.png"], ".png")


def test_save_predictions_false_writes_nothing_under_inference(cityscapes_run, tmp_path):
    root, out = cityscapes_run
    checkpoint = out.parent / "model_iter000000.pth"
    load_tool("test").main(opts(root, tmp_path / "out", "resume", checkpoint, "TEST.SAVE_PREDICTIONS", "False",
                                "TEST.FLIP", "False"))
    assert not (tmp_path / "out" / "inference").exists() and (tmp_path / "out" / "test_results.json").is_file()
