"""Checkpoints of the published DWACA / RIPU code load into our models.

The reference is tests/data/published_r101_19.json, generated once from the published model code (ResNet-101,
19 classes, FREEZE_BN True): every key and shape of its feature extractor and of both classifiers, and every
convolution's [stride, padding, dilation, groups, has bias]. Checkpoints are built from that table with random
tensors, so every test below checks against the published format, not against our own model.
"""
import json
import logging
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from dwaca.active import PoolError
from dwaca.config import ConfigError, check_training_batch, get_cfg_defaults, load_config
from dwaca.engine import Trainer, test_checkpoint
from dwaca.models import build_model
from dwaca.models.build import check_checkpoint_fits
from dwaca.models.checkpoint import CheckpointError, load_checkpoint, load_model_state

from conftest import CONFIG, run_tool

TABLE = json.loads((Path(__file__).parent / "data" / "published_r101_19.json").read_text())
HEADS = ("deeplabv3plus", "deeplabv2")


pytestmark = pytest.mark.usefixtures("single_thread")


def _cfg(name, num_classes=19, freeze_bn=True, weights=""):
    c = get_cfg_defaults()
    c.MODEL.NAME, c.MODEL.NUM_CLASSES, c.MODEL.FREEZE_BN, c.MODEL.WEIGHTS = name, num_classes, freeze_bn, weights
    return c


def _random(shapes, seed, ddp=False, batchnorm=False):
    """A published state dict of ``shapes`` (key -> shape) with random values (running_var positive); ``ddp``:
    keys prefixed "module."; ``batchnorm``: nn.BatchNorm2d's num_batches_tracked added (FrozenBatchNorm2d has none)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        value = torch.randn(shape, generator=gen)
        state[key] = value.abs() + 0.5 if key.endswith("running_var") else value
        if batchnorm and key.endswith(".running_var"):
            state[key[:-len("running_var")] + "num_batches_tracked"] = torch.randint(1, 1000, (), generator=gen)
    return {("module." if ddp else "") + k: v for k, v in state.items()}


def published(head, seed=0, ddp=False, batchnorm=False, iteration=1234):
    return {"iteration": iteration,
            "feature_extractor": _random(TABLE["feature_extractor"], seed, ddp, batchnorm),
            "classifier": _random(TABLE["classifier"][head], seed + 1, ddp, batchnorm),
            "optimizer_fea": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]},
            "optimizer_cls": {"state": {}, "param_groups": [{"lr": 1.0, "params": [0]}]}}


def _meta_model(name):
    with torch.device("meta"):
        return build_model(_cfg(name))


def _convs(module):
    return {name: [m.stride[0], m.padding[0], m.dilation[0], m.groups, m.bias is not None]
            for name, m in module.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.mark.parametrize("head", HEADS)
def test_our_resnet101_models_have_the_published_layers(head):
    model = _meta_model(f"{head}_resnet101")
    ours = {k: list(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    expected = dict(TABLE["feature_extractor"])
    expected.update({"head." + k: v for k, v in TABLE["classifier"][head].items()})
    assert ours == expected
    published_convs = TABLE["feature_extractor_convs"]  # named in their wrapper: "backbone.layer3.0.conv2"
    assert _convs(model.backbone) == {k.removeprefix("backbone."): v for k, v in published_convs.items()}
    assert _convs(model.head) == TABLE["classifier_convs"][head]


@pytest.mark.parametrize("head,ddp,batchnorm", [("deeplabv3plus", True, False), ("deeplabv3plus", False, True),
                                                ("deeplabv2", False, False), ("deeplabv2", True, True)])
def test_every_published_tensor_lands_in_its_place(head, ddp, batchnorm, tmp_path):
    ckpt = published(head, ddp=ddp, batchnorm=batchnorm)
    path = tmp_path / "published.pth"
    torch.save(ckpt, path)
    state = load_checkpoint(path)
    assert state["iteration"] == 1234 and state["published"] and "optimizer" not in state
    model = build_model(_cfg(f"{head}_resnet101", freeze_bn=not batchnorm))
    load_model_state(model, state, path)
    ours = model.state_dict()
    prefix = "module." if ddp else ""
    for part, our_prefix in (("feature_extractor", ""), ("classifier", "head.")):
        for key, value in ckpt[part].items():
            assert torch.equal(ours[our_prefix + key.removeprefix(prefix)], value), key
    counts = {k: v for k, v in ours.items() if k.endswith("num_batches_tracked")}
    assert len(counts) == sum(k.endswith("running_var") for k in ours)
    assert all((v > 0 if batchnorm else v == 0) for v in counts.values())


def _one_line_error(path, cfg, match):
    state = load_checkpoint(path)
    with pytest.raises(CheckpointError, match=match) as up_front:
        check_checkpoint_fits(path, state, cfg)
    assert "\n" not in str(up_front.value) and str(path) in str(up_front.value)


def test_checkpoints_that_do_not_fit_are_one_line_naming_the_keys(tmp_path):
    path = tmp_path / "v2.pth"
    torch.save(published("deeplabv2", ddp=True), path)
    _one_line_error(path, _cfg("deeplabv3plus_resnet101"),
                    r"v2\.pth does not fit the model: missing: head\.bottleneck\.0\.weight.*; "
                    r"unexpected: head\.conv2d_list\.0\.bias")
    _one_line_error(path, _cfg("deeplabv2_resnet101", num_classes=16),
                    r"shape \(checkpoint vs model\): head\.conv2d_list\.0\.bias \(19,\) vs \(16,\)")
    ckpt = published("deeplabv2")
    ckpt["feature_extractor"]["backbone.aux.weight"] = torch.zeros(3)
    del ckpt["feature_extractor"]["backbone.layer4.2.bn3.running_var"]
    torch.save(ckpt, path)
    _one_line_error(path, _cfg("deeplabv2_resnet101"), r"missing: backbone\.layer4\.2\.bn3\.num_batches_tracked, "
                    r"backbone\.layer4\.2\.bn3\.running_var; unexpected: backbone\.aux\.weight$")
    r101_into_r18 = (r"v2\.pth does not fit the model: .*; shape \(checkpoint vs model\): "
                     r"backbone\.layer1\.0\.conv1\.weight \(64, 64, 1, 1\) vs \(64, 64, 3, 3\)")
    with pytest.raises(CheckpointError, match=r101_into_r18):
        load_model_state(build_model(_cfg("deeplabv2_resnet18")), load_checkpoint(path), path)

    torch.save({"iteration": 3, "feature_extractor": {}}, path)
    with pytest.raises(CheckpointError, match=r"v2\.pth is neither a dwaca checkpoint .* nor a published DWACA / "
                                              r"RIPU one \(with 'feature_extractor' and 'classifier'\)$"):
        load_checkpoint(path)


def test_model_weights_initialise_the_whole_model_from_a_published_file(tmp_path):
    ckpt = published("deeplabv2", ddp=True)
    path = tmp_path / "published.pth"
    torch.save(ckpt, path)
    model = build_model(_cfg("deeplabv2_resnet101", weights=str(path)))
    assert torch.equal(model.backbone["layer3"][7].conv2.weight,
                       ckpt["feature_extractor"]["module.backbone.layer3.7.conv2.weight"])
    assert torch.equal(model.head.conv2d_list[3].bias, ckpt["classifier"]["module.conv2d_list.3.bias"])
    with pytest.raises(CheckpointError, match=r"published\.pth does not fit the model: .*unexpected: "
                                              r"head\.conv2d_list"):
        build_model(_cfg("deeplabv3plus_resnet101", weights=str(path)))


# -- the tools, on the light ResNet-18 model: a published-format file of its weights -----------------------------------
TINY = ["INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SIZE_TEST", "(64, 32)", "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)", "SOLVER.MAX_ITER", "6",
        "SOLVER.STOP_ITER", "6", "SOLVER.CHECKPOINT_PERIOD", "6", "SOLVER.BATCH_SIZE", "2", "TEST.BATCH_SIZE", "3",
        "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[3, 6]", "ACTIVE.RATIO", "0.1", "SEED", "3"]


def _as_published(model, iteration):
    """``model``'s weights as the published code would save them from DDP: no num_batches_tracked."""
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    return {"iteration": iteration,
            "feature_extractor": {"module." + k: v for k, v in state.items() if k.startswith("backbone.")},
            "classifier": {"module." + k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")}}


@pytest.fixture(scope="module")
def light(make_benchmark, tmp_path_factory):
    root = make_benchmark(num_source=4, num_target_train=4, num_target_val=3)
    cfg = load_config(str(CONFIG), ["DATASETS.ROOT", str(root), *TINY])
    torch.manual_seed(0)
    model = build_model(cfg)
    path = tmp_path_factory.mktemp("published") / "model_iter000004.pth"
    torch.save(_as_published(model, 4), path)
    return {"root": root, "path": path, "model": model}


def test_tools_test_evaluates_a_published_checkpoint(light, tmp_path, monkeypatch):
    out = tmp_path / "eval"
    assert run_tool("test", ["-cfg", CONFIG, "DATASETS.ROOT", light["root"], *TINY, "resume", light["path"],
                             "OUTPUT_DIR", out], monkeypatch) == 0
    res = json.loads((out / "test_results.json").read_text())
    assert res["iteration"] == 4 and res["checkpoint"] == str(light["path"])
    cfg = load_config(str(CONFIG), ["DATASETS.ROOT", str(light["root"]), *TINY, "resume", str(light["path"]),
                                    "OUTPUT_DIR", str(tmp_path / "again")])
    assert test_checkpoint(cfg, log=logging.getLogger("test"))["mIoU"] == res["mIoU"]


def test_training_resumes_a_published_checkpoint_at_its_iteration(light, tmp_path, caplog):
    out = tmp_path / "run"
    opts = ["DATASETS.ROOT", str(light["root"]), "OUTPUT_DIR", str(out), *TINY, "resume", str(light["path"])]
    with caplog.at_level(logging.INFO, logger="dwaca"):
        summary = Trainer(load_config(str(CONFIG), opts)).run()
    assert "resumed from the published checkpoint" in caplog.text and "optimizer state not restored" in caplog.text
    assert summary["iteration"] == 6 and summary["rounds_done"] == 1  # the round due at 3 bought before step 5
    at_round = torch.load(out / "model_iter000004.pth", weights_only=False)  # written for that round
    assert at_round["rounds_done"] == 0
    assert all(torch.equal(v, at_round["model"][k]) for k, v in light["model"].state_dict().items())
    assert not at_round["optimizer"]["state"]  # no step taken, nothing restored
    with pytest.raises(PoolError, match=r"already holds 1 selection rounds"):  # a published file has no pool
        Trainer(load_config(str(CONFIG), opts))


def test_training_refuses_a_published_checkpoint_of_another_model_before_writing(light, tmp_path):
    out = tmp_path / "run"
    opts = ["DATASETS.ROOT", str(light["root"]), "OUTPUT_DIR", str(out), *TINY, "resume", str(light["path"]),
            "MODEL.NAME", "deeplabv2_resnet18"]
    with pytest.raises(CheckpointError, match=r"model_iter000004\.pth does not fit the model: missing: "
                                              r"head\.conv2d_list"):
        Trainer(load_config(str(CONFIG), opts))
    assert not out.exists()


def test_the_converter_writes_our_format_only_for_a_fitting_model(light, tmp_path, monkeypatch, capsys):
    out = tmp_path / "converted.pth"
    assert run_tool("convert_checkpoint", [light["path"], out, "-cfg", CONFIG], monkeypatch) == 0
    converted, original = torch.load(out, weights_only=False), load_checkpoint(light["path"])
    assert converted["iteration"] == 4 and "deeplabv3plus_resnet18" in converted["config"]
    assert converted["model"].keys() == original["model"].keys()
    assert all(torch.equal(v, original["model"][k]) for k, v in converted["model"].items())
    cfg16 = load_config(str(CONFIG), ["MODEL.NUM_CLASSES", "16"])
    with pytest.raises(CheckpointError, match=r"MODEL.NUM_CLASSES 19 in the checkpoint, 16 configured"):
        check_checkpoint_fits(out, load_checkpoint(out), cfg16)

    refused = tmp_path / "refused.pth"
    for argv, match in ((["--model", "deeplabv3plus_resnet18", "--num-classes", "16"],
                         r"^error: checkpoint \S*model_iter000004\.pth does not fit the model: shape"),
                        (["--model", "deeplabv3plus_resnet18"], r"pass either -cfg CONFIG or --model NAME"),
                        ([], r"pass either -cfg CONFIG or --model NAME")):
        assert run_tool("convert_checkpoint", [light["path"], refused, *argv], monkeypatch) == 2
        assert re.search(match, capsys.readouterr().err.strip())
    assert run_tool("convert_checkpoint", [out, refused, "-cfg", CONFIG], monkeypatch) == 2
    assert "converted.pth is already a dwaca checkpoint" in capsys.readouterr().err
    assert not refused.exists()


def test_training_batch_of_one_needs_frozen_batchnorm_for_the_v3plus_head():
    cfg = load_config(str(CONFIG), ["SOLVER.BATCH_SIZE", "1"])
    with pytest.raises(ConfigError, match=r"SOLVER.BATCH_SIZE 1 .* MODEL.FREEZE_BN False cannot train "
                                          r"deeplabv3plus_resnet18.*SOLVER.BATCH_SIZE >= 2 or MODEL.FREEZE_BN True"):
        check_training_batch(cfg)
    for opts in (["MODEL.FREEZE_BN", "True"], ["MODEL.NAME", "deeplabv2_resnet18"], ["SOLVER.BATCH_SIZE", "2"]):
        check_training_batch(load_config(str(CONFIG), ["SOLVER.BATCH_SIZE", "1", *opts]))
