"""The shipped paper configs equal the published ones key by key: every key of the published defaults and config
files, resolved as our loader resolves it, has the published value. The tables below were read from the published
DWACA configs (the ten DeepLabV3+ ones) and RIPU's (the four DeepLabV2 ones)."""
import pytest

from dwaca.config import load_config

from conftest import REPO

# The published defaults (DWACA core/configs/defaults.py) for the keys the config files leave alone.
PUBLISHED_DEFAULTS = {
    "MODEL.DEVICE": "cuda",
    "INPUT.INPUT_SCALES_TRAIN": [1.0, 1.0], "INPUT.IGNORE_LABEL": 255,
    "INPUT.PIXEL_MEAN": [0.485, 0.456, 0.406], "INPUT.PIXEL_STD": [0.229, 0.224, 0.225], "INPUT.TO_BGR255": False,
    "SOLVER.CHECKPOINT_PERIOD": 2000, "SOLVER.LR_METHOD": "poly", "SOLVER.LR_POWER": 0.9, "SOLVER.MOMENTUM": 0.9,
    "SOLVER.WEIGHT_DECAY": 0.0005, "SOLVER.BATCH_SIZE_VAL": 1, "SOLVER.LCR_TYPE": "l1",
    "TEST.BATCH_SIZE": 1, "SEED": -1,
}

# What every published GTAV/SYNTHIA -> Cityscapes config file sets alike.
PUBLISHED_COMMON = {
    "MODEL.WEIGHTS": "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth", "MODEL.FREEZE_BN": True,
    "DATASETS.TARGET_TRAIN": "cityscapes_train", "DATASETS.TEST": "cityscapes_val",
    "INPUT.SOURCE_INPUT_SIZE_TRAIN": [1280, 720], "INPUT.TARGET_INPUT_SIZE_TRAIN": [1280, 640],
    "INPUT.INPUT_SIZE_TEST": [1280, 640],
    "SOLVER.BASE_LR": 2.5e-4, "SOLVER.MAX_ITER": 62500, "SOLVER.STOP_ITER": 40000, "SOLVER.BATCH_SIZE": 2,
    "SOLVER.CONSISTENT_LOSS": 0.1, "SOLVER.NEGATIVE_LOSS": 1.0, "SOLVER.NEGATIVE_THRESHOLD": 0.05,
    "ACTIVE.SELECT_ITER": [10000, 12000, 14000, 16000, 18000],
}

SOURCES = {"gtav": ("gtav_train", 19), "synthia": ("synthia_train", 16)}


def _published(source, model, active):
    train, classes = SOURCES[source]
    return {**PUBLISHED_DEFAULTS, **PUBLISHED_COMMON, "MODEL.NAME": model, "MODEL.NUM_CLASSES": classes,
            "DATASETS.SOURCE_TRAIN": train, **active}


PAPER_CONFIGS = {
    **{f"configs/{source}/deeplabv3plus_r101_RA_wt_{p}%.yaml": _published(
        source, "deeplabv3plus_resnet101",
        {"ACTIVE.NAME": "AL-DWACA", "ACTIVE.SETTING": "RA", "ACTIVE.RATIO": p / 100, "ACTIVE.RADIUS_K": 1})
       for source in SOURCES for p in (1, 2, 3, 4, 5)},
    **{f"configs/{source}/deeplabv2_r101_RA.yaml": _published(
        source, "deeplabv2_resnet101",
        {"ACTIVE.NAME": "AL-RIPU", "ACTIVE.SETTING": "RA", "ACTIVE.RATIO": 0.022, "ACTIVE.RADIUS_K": 1})
       for source in SOURCES},
    **{f"configs/{source}/deeplabv2_r101_PA.yaml": _published(
        source, "deeplabv2_resnet101",
        {"ACTIVE.NAME": "AL-RIPU", "ACTIVE.SETTING": "PA", "ACTIVE.PIXELS": 40, "ACTIVE.RADIUS_K": 32})
       for source in SOURCES},
}


def _value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return list(cfg) if isinstance(cfg, (list, tuple)) else cfg


def test_every_paper_config_is_pinned():
    shipped = {p.relative_to(REPO).as_posix() for p in REPO.glob("configs/*/deeplabv*_r101_*.yaml")}
    assert shipped == set(PAPER_CONFIGS)


@pytest.mark.parametrize("path", sorted(PAPER_CONFIGS))
def test_paper_config_equals_the_published_one(path):
    cfg = load_config(str(REPO / path))
    differ = {key: (_value(cfg, key), want) for key, want in PAPER_CONFIGS[path].items()
              if _value(cfg, key) != pytest.approx(want)}
    assert not differ, f"{path}: (ours, published) {differ}"
