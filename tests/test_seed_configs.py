"""The seed's paper configs drive the real pipeline unchanged: only where the data lives, the device, the weights
and sizes small enough for a CPU test are overridden; model, losses, strategy and budget rules are the config's."""
import json

import pytest
import torch

from dwaca.config import load_config
from dwaca.engine import train

from conftest import REPO


@pytest.fixture(scope="module")
def data_root(make_benchmark):
    return make_benchmark(seed=1, num_source=3, num_target_train=2, num_target_val=2)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["configs/gtav/deeplabv3plus_r101_RA_wt_5%.yaml",
                                    "configs/gtav/deeplabv2_r101_PA.yaml"])
def test_seed_config_trains_selects_and_evaluates(config, data_root, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    cfg = load_config(str(REPO / config), [
        "DATASETS.ROOT", str(data_root), "OUTPUT_DIR", str(out), "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "",
        "INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SIZE_TEST", "(64, 32)", "SOLVER.STOP_ITER", "2", "SOLVER.CHECKPOINT_PERIOD", "2",
        "SOLVER.NUM_WORKERS", "0", "ACTIVE.SELECT_ITER", "[1]"])
    assert cfg.MODEL.NAME.endswith("resnet101")
    result = train(cfg)
    assert result["rounds_done"] == 1
    manifest = json.loads((out / "pool" / "manifest.json").read_text())
    assert 0 < manifest["pixels_total"] <= manifest["budget_pixels"]
    assert (out / "model_iter000002.pth").is_file()
    results = json.loads((out / "results.json").read_text())
    assert 0.0 <= results["mIoU"] <= 1.0 and len(results["per_class_iou"]) == 19
