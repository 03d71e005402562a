import pytest
import torch
import torchvision
from torch import nn

from dwaca.config import get_cfg_defaults
from dwaca.engine.solver import build_optimizer, poly_lr, set_poly_lr
from dwaca.models import HEAD_LR_MULT, MODEL_NAMES, build_model

H, W = 33, 65  # odd sizes: every stride-2 stage rounds up


pytestmark = pytest.mark.usefixtures("single_thread")


def _cfg(name="deeplabv3plus_resnet18", num_classes=5, weights="", freeze_bn=False):
    c = get_cfg_defaults()
    c.MODEL.NAME, c.MODEL.NUM_CLASSES, c.MODEL.WEIGHTS, c.MODEL.FREEZE_BN = name, num_classes, weights, freeze_bn
    return c


def _strided(n, stride):
    while stride > 1:
        n, stride = (n + 1) // 2, stride // 2
    return n


EXPECTED_STRIDE = {
    "deeplabv3plus": dict(resnet101=4, resnet18=4, mobilenetv3=4),
    "deeplabv2": dict(resnet101=8, resnet18=32, mobilenetv3=16),
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_gives_logits_at_its_stride(name):
    torch.manual_seed(0)
    model = build_model(_cfg(name, num_classes=7))
    head, backbone = name.split("_")
    stride = EXPECTED_STRIDE[head][backbone]
    assert model.logit_stride == stride
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, H, W))
    assert out.shape == (1, 7, _strided(H, stride), _strided(W, stride))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["deeplabv3plus_resnet18", "deeplabv2_resnet18"])
def test_training_step_with_batch_of_one_backpropagates_to_backbone(name):
    # With trained BatchNorms the V3+ head's pooled-map BN needs two images (refused up front by
    # check_training_batch); frozen ones, as in the published configs, train on one.
    model = build_model(_cfg(name, freeze_bn=name.startswith("deeplabv3plus"))).train()
    model(torch.randn(1, 3, H, W)).sum().backward()
    assert model.backbone["conv1"].weight.grad.abs().sum() > 0


def test_unknown_model_name_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="deeplabv3_resnet7.*deeplabv3plus_resnet101"):
        build_model(_cfg("deeplabv3_resnet7"))


def _batchnorms(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_bn_keeps_statistics_and_affine_fixed_in_training(freeze):
    torch.manual_seed(0)
    model = build_model(_cfg(freeze_bn=freeze)).train()
    bns = _batchnorms(model)
    before = [bn.running_mean.clone() for bn in bns]
    model(torch.randn(2, 3, H, W) * 3 + 1)
    changed = [not torch.equal(b, bn.running_mean) for b, bn in zip(before, bns)]
    if freeze:
        assert not any(bn.training for bn in bns) and not any(changed)
        assert not any(p.requires_grad for bn in bns for p in bn.parameters())
        assert all(bn.eps == 0 for bn in bns)  # the published FrozenBatchNorm2d adds no epsilon
        assert model.training  # dropout and the rest still train
    else:
        assert all(bn.training for bn in bns) and all(changed) and all(bn.eps == 1e-5 for bn in bns)
        assert all(p.requires_grad for bn in bns for p in bn.parameters())


@pytest.mark.parametrize("name", ["deeplabv3plus_resnet18", "deeplabv2_mobilenetv3"])
def test_param_groups_cover_every_parameter_once_with_head_at_10x(name):
    model = build_model(_cfg(name))
    groups = model.param_groups(1e-3)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    by_name = {g["name"]: g for g in groups}
    assert {id(p) for p in by_name["backbone"]["params"]} == {id(p) for p in model.backbone.parameters()}
    assert by_name["backbone"]["lr"] == pytest.approx(1e-3)
    assert by_name["head"]["lr"] == pytest.approx(1e-3 * HEAD_LR_MULT) and HEAD_LR_MULT == 10


def test_local_weights_file_initialises_the_backbone(tmp_path):
    torch.manual_seed(123)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    model = build_model(_cfg(weights=str(path)))
    assert torch.equal(model.backbone["conv1"].weight, reference.conv1.weight)
    assert torch.equal(model.backbone["layer4"][1].bn2.running_var, reference.layer4[1].bn2.running_var)
    # Without the ImageNet classifier it still fits: the heads never use it.
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    torch.save(state, path)
    assert torch.equal(build_model(_cfg(weights=str(path))).backbone["conv1"].weight, reference.conv1.weight)


def test_mismatched_weights_file_errors_naming_it(tmp_path):
    path = tmp_path / "wrong_arch.pth"
    torch.save(torchvision.models.mobilenet_v3_large(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="wrong_arch.pth.*missing keys"):
        build_model(_cfg(weights=str(path)))

    state = torchvision.models.resnet18(weights=None).state_dict()
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(state, path)
    with pytest.raises(ValueError, match="(?s)wrong_arch.pth.*conv1.weight"):
        build_model(_cfg(weights=str(path)))

    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="wrong_arch.pth"):
        build_model(_cfg(weights=str(path)))


def test_unknown_weights_name_lists_the_torchvision_names():
    with pytest.raises(ValueError, match="IMAGENET_V9.*IMAGENET1K_V1"):
        build_model(_cfg(weights="IMAGENET_V9"))


# ---- optimiser and schedule ---------------------------------------------------------------------------------------
def test_poly_lr_values():
    assert poly_lr(0.01, 0, 100) == pytest.approx(0.01)
    assert poly_lr(0.01, 50, 100, 0.9) == pytest.approx(0.01 * 0.5 ** 0.9)
    assert poly_lr(0.01, 75, 100, 2.0) == pytest.approx(0.01 / 16)
    assert poly_lr(0.01, 100, 100) == 0.0 and poly_lr(0.01, 120, 100) == 0.0


def test_sgd_keeps_the_head_at_10x_through_the_schedule():
    c = _cfg()
    c.SOLVER.BASE_LR, c.SOLVER.MOMENTUM, c.SOLVER.WEIGHT_DECAY = 0.02, 0.8, 1e-4
    model = build_model(c)
    opt = build_optimizer(model, c.SOLVER)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.02, 0.2])
    assert all(g["momentum"] == 0.8 and g["weight_decay"] == 1e-4 for g in opt.param_groups)
    lr = set_poly_lr(opt, 0.02, 30, 60, 0.9)
    assert lr == pytest.approx(0.02 * 0.5 ** 0.9)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([lr, 10 * lr])

    before = [p.detach().clone() for p in model.parameters()]
    model(torch.randn(2, 3, H, W)).square().mean().backward()
    opt.step()
    moved = [not torch.equal(b, p) for b, p in zip(before, model.parameters())]
    assert moved[0] and moved[-1]  # backbone conv1 and the head's classifier


def test_only_the_poly_schedule_is_accepted():
    c = _cfg()
    c.SOLVER.LR_METHOD = "step"
    with pytest.raises(ValueError, match="step"):
        build_optimizer(build_model(c), c.SOLVER)


@pytest.mark.parametrize("name", ["deeplabv2_resnet18", "deeplabv3plus_resnet18"])
def test_head_convolutions_keep_pytorchs_default_bias_initialisation_as_published(name):
    # nn.Conv2d draws its bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the published heads leave it so
    head = build_model(_cfg(name)).head
    for conv in (m for m in head.modules() if isinstance(m, nn.Conv2d) and m.bias is not None):
        fan_in = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        assert 0 < conv.bias.abs().max() <= fan_in ** -0.5
