from pathlib import Path

import pytest
import torch

from dwaca.config import add_config_arguments, config_from_args, load_config, unused_settings
from dwaca.models import MODEL_NAMES, build_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHIPPED = sorted(CONFIGS.rglob("*.yaml"))
ACTIVE_NAMES = {"AL-DWACA", "AL-RIPU", "entropy", "random"}


def test_the_expected_configs_ship():
    names = {str(p.relative_to(CONFIGS)) for p in SHIPPED}
    for domain in ("gtav", "synthia"):
        for pct in range(1, 6):
            assert f"{domain}/deeplabv3plus_r101_RA_wt_{pct}%.yaml" in names
    assert {"synthetic/dwaca_RA_5%.yaml", "synthetic/random_RA_5%.yaml", "synthetic/ripu_RA_5%.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_shipped_config_loads_with_known_choices(path):
    cfg = load_config(str(path))
    assert cfg.MODEL.NAME in MODEL_NAMES
    assert cfg.ACTIVE.NAME in ACTIVE_NAMES
    assert cfg.ACTIVE.SETTING in ("RA", "PA")
    assert cfg.DATASETS.TARGET_TRAIN == "cityscapes_train" and cfg.DATASETS.TEST == "cityscapes_val"
    assert list(cfg.ACTIVE.SELECT_ITER) == sorted(cfg.ACTIVE.SELECT_ITER)
    assert max(cfg.ACTIVE.SELECT_ITER) < cfg.SOLVER.STOP_ITER <= cfg.SOLVER.MAX_ITER


@pytest.mark.parametrize("domain,classes,source", [("gtav", 19, "gtav_train"), ("synthia", 16, "synthia_train")])
@pytest.mark.parametrize("pct", range(1, 6))
def test_dwaca_paper_configs(domain, classes, source, pct):
    cfg = load_config(str(CONFIGS / domain / f"deeplabv3plus_r101_RA_wt_{pct}%.yaml"))
    assert (cfg.MODEL.NAME, cfg.MODEL.NUM_CLASSES, cfg.DATASETS.SOURCE_TRAIN) == ("deeplabv3plus_resnet101", classes,
                                                                                   source)
    assert (cfg.ACTIVE.NAME, cfg.ACTIVE.SETTING) == ("AL-DWACA", "RA")
    assert cfg.ACTIVE.RATIO == pytest.approx(pct / 100)
    assert cfg.MODEL.FREEZE_BN and cfg.MODEL.WEIGHTS


def test_synthetic_demo_config_builds_a_cpu_model():
    cfg = load_config(str(CONFIGS / "synthetic" / "dwaca_RA_5%.yaml"))
    assert cfg.MODEL.DEVICE == "cpu" and cfg.MODEL.WEIGHTS == "" and cfg.ACTIVE.RATIO == pytest.approx(0.05)
    assert tuple(cfg.INPUT.INPUT_SIZE_TEST) == (256, 128) and cfg.SOLVER.MAX_ITER <= 1000
    model = build_model(cfg).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 64)).shape == (1, 19, 8, 16)


def test_the_synthetic_dwaca_config_uses_the_recommended_weighting_and_the_paper_configs_the_published_one():
    cfg = load_config(str(CONFIGS / "synthetic" / "dwaca_RA_5%.yaml"))
    assert (cfg.ACTIVE.WEIGHT_MODE, cfg.ACTIVE.SOFT_WEIGHTS) == ("shrunk", False)  # README: the class weightings
    paper = sorted(CONFIGS.glob("*/deeplabv3plus_r101_*.yaml"))
    assert len(paper) == 10
    for path in paper:
        cfg = load_config(str(path))
        assert (cfg.ACTIVE.WEIGHT_MODE, cfg.ACTIVE.SOFT_WEIGHTS) == ("dwaca", False), path


def test_overrides_apply_and_leave_the_config_frozen():
    cfg = load_config(str(CONFIGS / "synthetic" / "random_RA_5%.yaml"), ["SOLVER.MAX_ITER", "50", "ACTIVE.RATIO", "0.02"])
    assert cfg.SOLVER.MAX_ITER == 50 and cfg.ACTIVE.RATIO == pytest.approx(0.02)
    assert cfg.is_frozen()


def test_unknown_key_in_a_file_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  NAME: deeplabv2_resnet101\n  BACKBONE_DEPTH: 50\n")
    with pytest.raises(KeyError, match="MODEL.BACKBONE_DEPTH"):
        load_config(str(bad))


def test_unknown_key_in_overrides_is_named():
    # yacs' merge_from_list reports it with an AssertionError (merge_from_file with a KeyError).
    with pytest.raises((KeyError, AssertionError), match="SOLVER.LEARNING_RATE"):
        load_config(None, ["SOLVER.LEARNING_RATE", "0.1"])


def test_ripu_flags_and_keys_without_effect_are_accepted_and_reported():
    import argparse
    # RIPU's command lines pass --proctitle (the process title): accepted and ignored
    args = add_config_arguments(argparse.ArgumentParser()).parse_args(
        ["--proctitle", "AL-RIPU", "-cfg", str(CONFIGS / "gtav" / "deeplabv2_r101_RA.yaml"), "DEBUG", "1"])
    cfg = config_from_args(args)
    assert cfg.DEBUG == 1
    assert unused_settings(cfg) == ["DEBUG"]
    assert unused_settings(load_config(None, ["ACTIVE.VIZ_MASK", "False", "PREPARE_DIR", "x"])) == [
        "ACTIVE.VIZ_MASK", "PREPARE_DIR"]
    assert all(unused_settings(load_config(str(path))) == [] for path in SHIPPED)


def test_evaluation_flips_by_default_as_ripu_test():
    assert load_config().TEST.FLIP is True
    assert load_config(None, ["TEST.FLIP", "False"]).TEST.FLIP is False
