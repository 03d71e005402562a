"""Property-based argument checking: random arguments to the public ops and dynamic_class_weights either give results
of the documented shapes or raise TypeError/ValueError naming an argument; never another exception, never a crash.

Sizes are drawn either tiny or outside the documented bounds (never valid and huge), so every accepted call is cheap.
The fixed cases at the end pin dynamic_class_weights' own error paths.
"""
import math
import re

import pytest
import torch
from hypothesis import given, settings, strategies as st

from dwaca import ops
from dwaca.active import dynamic_class_weights
from dwaca.active.weights import MODES

FUZZ = settings(max_examples=500, deadline=None)

# ints: mostly small, also negative, at the bounds' edges and far beyond int64
SMALL = st.integers(-2, 6)
EDGES = st.sampled_from([2**30, 2**30 + 1, 2**31 - 1, 2**31, 2**33, 2**33 + 1, 2**62, 2**63, 2**80, -2**63])
INTS = st.one_of(SMALL, EDGES, st.integers(-2**70, 2**70))
NOT_INTS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(), st.just("1"),
                     st.just([1]), st.just(torch.tensor(1.0)))
REALS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**1100, 2**1100), st.booleans(),
                  st.none(), st.just("0.5"))
DTYPES = st.sampled_from([torch.float64, torch.int64, torch.bool, torch.complex64])
LOGIT_DTYPES = st.sampled_from([torch.float32, torch.float16, torch.bfloat16])
VALUES = st.sampled_from([0.0, 1.0, -3.5, math.nan, math.inf, -math.inf])


def mostly(draw, good, bad):
    """A draw from `good` three times in four, else from `bad`: most calls get far, each argument is sometimes wrong."""
    return draw(good) if draw(st.integers(0, 3)) else draw(bad)


def small_tensor(draw, shape, dtype):
    """randn * 3 of `shape` cast to dtype, one element sometimes replaced by a special value (NaN, inf, ...)."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(draw(st.integers(0, 2**16)))) * 3
    if x.numel() and not draw(st.integers(0, 4)):
        x.view(-1)[draw(st.integers(0, x.numel() - 1))] = draw(VALUES)
    return x > 0 if dtype == torch.bool else x.to(dtype)


def huge_view(shape):
    """A tensor of `shape` without its memory: every size beyond a bound must be refused before any copy."""
    return torch.zeros((1,) * len(shape)).expand(*shape)


def assert_names_argument(err, names):
    assert isinstance(err, (TypeError, ValueError)), f"{type(err).__name__}: {err}"
    assert any(re.search(rf"(^|\W){name}\b", str(err)) for name in names), f"no argument named in: {err}"


def shapes(dims, lo=0, hi=4):
    return st.tuples(*[st.integers(lo, hi)] * dims)


@st.composite
def bad_tensor(draw, dims):
    """A tensor or object that is not what an argument of `dims` dimensions takes."""
    kind = draw(st.sampled_from(["dims", "dtype", "other"]))
    if kind == "dims":
        ndim = draw(st.integers(0, 5).filter(lambda d: d != dims))
        return small_tensor(draw, draw(shapes(ndim)), torch.float32)
    if kind == "dtype":
        return small_tensor(draw, draw(shapes(dims)), draw(DTYPES))
    return draw(st.sampled_from([None, 3, 0.5, [[1.0]], "x"]))


@st.composite
def logits_args(draw):
    kind = draw(st.sampled_from(["good"] * 8 + ["classes", "bad", "huge"]))
    if kind == "good":
        B, C, h, w = draw(st.tuples(st.integers(0, 2), st.integers(2, 5), st.integers(1, 4), st.integers(1, 4)))
        return small_tensor(draw, (B, C, h, w), draw(LOGIT_DTYPES))
    if kind == "classes":  # C = 0 or 1, or an empty image
        return small_tensor(draw, draw(st.sampled_from([(1, 1, 2, 2), (1, 0, 2, 2), (1, 3, 0, 2), (2, 3, 2, 0)])),
                            torch.float32)
    if kind == "huge":  # each beyond a bound: h * w > 2^30, B * C * h * w > 2^34
        return huge_view(draw(st.sampled_from([(1, 2, 2**16, 2**15), (2**27, 256, 1, 1), (2**35, 2, 1, 1)])))
    return draw(bad_tensor(4))


# sides tiny, or out of [1, 2^30]; (2^16, 2^15): each side valid, their product not; (2^15, 2^15) is valid for one
# image but too large an output for 17 or more
SIDES = st.one_of(st.integers(1, 6), st.integers(-2**64, 0), st.integers(2**30 + 1, 2**70))
BAD_OUT_SIZES = st.one_of(st.tuples(SIDES, SIDES), st.sampled_from([(2**16, 2**15), (3,), (1, 2, 3), 5, "5x5",
                                                                   (1.0, 2), (True, 2), (2**15, 2**15)]))
GOOD_OUT_SIZES = st.one_of(st.none(), st.tuples(st.integers(1, 6), st.integers(1, 6)),
                           st.lists(st.integers(1, 4), min_size=2, max_size=2))


@st.composite
def region_score_call(draw):
    logits = draw(logits_args())
    tensor = isinstance(logits, torch.Tensor) and logits.dim() == 4 and logits.numel() < 1000
    kwargs = {}
    if draw(st.booleans()):
        kwargs["radius"] = mostly(draw, st.integers(0, 32), st.one_of(st.integers(33, 40), INTS, NOT_INTS))
    if draw(st.booleans()):
        kwargs["sigma"] = mostly(draw, st.floats(0, 1e300), REALS)
    if draw(st.booleans()):
        out_size = kwargs["out_size"] = mostly(draw, GOOD_OUT_SIZES, BAD_OUT_SIZES)
        if out_size == (2**15, 2**15) and tensor and logits.shape[0] > 0:
            logits = logits[:1].expand(17, *logits.shape[1:])
    C = logits.shape[1] if tensor else 4
    if draw(st.booleans()):
        kwargs["class_weights"] = mostly(
            draw, st.one_of(st.just(torch.linspace(0, 2, C)), st.lists(st.floats(0, 10), min_size=C, max_size=C)),
            st.one_of(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5), bad_tensor(1)))
    if draw(st.booleans()):
        size = kwargs.get("out_size")
        H, W = size if isinstance(size, (tuple, list)) and len(size) == 2 else (logits.shape[2:] if tensor else (2, 2))
        B = logits.shape[0] if tensor else 1
        bad = st.one_of(bad_tensor(3), st.just(torch.zeros(1, 9, 9) > 0))
        fits = all(type(v) is int and 0 <= v <= 8 for v in (B, H, W))
        good = st.just(torch.arange(B * H * W).reshape(B, H, W) % 3 == 0) if fits else bad
        kwargs["labeled"] = mostly(draw, good, bad)
    if tensor and logits.is_floating_point() and draw(st.booleans()):
        logits = logits.detach().requires_grad_()
    return logits, kwargs


@FUZZ
@given(region_score_call())
def test_region_score_fuzz(call):
    logits, kwargs = call
    try:
        out = ops.region_score(logits, **kwargs)
    except Exception as err:  # the property is about which exceptions escape
        assert_names_argument(err, ["logits", "radius", "sigma", "out_size", r"out_size\[\d\]", "class_weights",
                                    "labeled"])
        return
    B, _, h, w = logits.shape
    H, W = kwargs.get("out_size") or (h, w)
    for t in out:
        assert t.shape == (B, H, W) and t.dtype == torch.float32 and not t.requires_grad


@st.composite
def select_regions_call(draw):
    kind = draw(st.sampled_from(["good"] * 8 + ["huge", "bad"]))
    if kind == "good":
        score = small_tensor(draw, draw(shapes(3, hi=5)), torch.float32)
        if score.numel() and draw(st.booleans()):  # -inf: never picked
            score[score < 0] = -math.inf
    elif kind == "huge":
        score = huge_view(draw(st.sampled_from([(1, 2**16, 2**15), (2, 2**31, 1), (0, 2**40, 2**40)])))
    else:
        score = draw(bad_tensor(3))
    B = score.shape[0] if isinstance(score, torch.Tensor) and score.dim() else 1
    # counts small, or out of [0, 2^33]: a valid count in the millions would allocate centers for real
    bad_count = st.one_of(st.integers(-2**64, -1), st.integers(2**33 + 1, 2**70))
    num_regions = mostly(draw, st.one_of(st.integers(0, 6), st.lists(st.integers(0, 6), min_size=B, max_size=B),
                                         st.just(torch.tensor([2] * B))),
                         st.one_of(bad_count, st.lists(st.one_of(st.integers(0, 6), bad_count), min_size=B,
                                                       max_size=B),
                                   st.lists(st.integers(0, 3), min_size=B + 1, max_size=B + 1), NOT_INTS))
    kwargs = {}
    for name in ("radius", "exclusion_radius"):
        if draw(st.booleans()):
            kwargs[name] = mostly(draw, st.one_of(st.integers(0, 6), st.integers(0, 2**31 - 1)),
                                  st.one_of(st.integers(-2**70, -1), st.integers(2**31, 2**70), NOT_INTS))
    return score, num_regions, kwargs


@FUZZ
@given(select_regions_call())
def test_select_regions_fuzz(call):
    score, num_regions, kwargs = call
    try:
        out = ops.select_regions(score, num_regions, **kwargs)
    except Exception as err:  # the property is about which exceptions escape
        assert_names_argument(err, ["score", "num_regions", r"num_regions\[\d+\]", "radius", "exclusion_radius"])
        return
    B, H, W = score.shape
    counts = num_regions.tolist() if isinstance(num_regions, torch.Tensor) else num_regions
    n = counts if isinstance(counts, int) else max(counts, default=0)
    assert out.centers.shape == (B, n, 2) and out.centers.dtype == torch.int64
    for mask in (out.selected, out.excluded):
        assert mask.shape == (B, H, W) and mask.dtype == torch.bool
    assert not any(t.requires_grad for t in out)


@st.composite
def ious(draw):
    kind = draw(st.sampled_from(["list"] * 5 + ["table", "tensor", "other"]))
    if kind == "list":
        return draw(st.lists(st.one_of(st.floats(0, 1), VALUES, st.floats(-0.5, 1.5)), max_size=6))
    if kind == "table":  # 2-D: was flattened into one IoU per cell
        return draw(st.lists(st.lists(st.floats(0, 1), min_size=2, max_size=2), min_size=1, max_size=3))
    if kind == "tensor":
        x = draw(st.sampled_from([0.0, 0.3, 1.0])) + torch.zeros(draw(shapes(draw(st.integers(0, 3)), hi=3)))
        return x > 0.5 if draw(st.booleans()) else x
    return draw(st.sampled_from([None, "0.5", {"a": 0.5}, 0.5, [[0.1], [0.2, 0.3]], [0.5, "x"], [2**2000, 0.5]]))


@FUZZ
@given(st.data())
def test_dynamic_class_weights_fuzz(data):
    iou = data.draw(ious())
    mode = data.draw(st.sampled_from(MODES + ("bogus", None)))
    floor = mostly(data.draw, st.floats(1e-300, 1e300), REALS)
    power = mostly(data.draw, st.floats(1e-300, 1e300), REALS)
    try:
        w = dynamic_class_weights(iou, mode, floor=floor, power=power)
    except Exception as err:  # the property is about which exceptions escape
        assert_names_argument(err, ["per_class_iou", "mode", "floor", "power"])
        return
    assert w.shape == (len(iou),) and w.dtype == torch.float32
    assert bool(torch.isfinite(w).all() and (w >= 0).all()), w


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(per_class_iou=[[0.2, 0.4], [0.6, 0.8]]), ValueError, r"per_class_iou must be 1-D .*got shape \(2, 2\)"),
    (dict(per_class_iou=torch.rand(2, 3)), ValueError, r"per_class_iou must be 1-D .*got shape \(2, 3\)"),
    (dict(per_class_iou=0.5), ValueError, r"per_class_iou must be 1-D .*got shape \(\)"),
    (dict(per_class_iou="0.5"), TypeError, "per_class_iou must be a 1-D sequence or tensor of numbers"),
    (dict(per_class_iou=[0.5, None]), TypeError, "per_class_iou must be a 1-D sequence or tensor of numbers"),
    (dict(per_class_iou=torch.ones(3) > 0), TypeError, "per_class_iou must hold real numbers"),
    (dict(per_class_iou=[0.5, 0.2], mode="smoothed", floor=math.nan), ValueError, "floor must be finite"),
    (dict(per_class_iou=[0.5, 0.2], mode="smoothed", floor=0.0), ValueError, "floor must be finite and > 0"),
    (dict(per_class_iou=[0.5, 0.2], mode="smoothed", floor="0.1"), TypeError, "floor must be a real number"),
    (dict(per_class_iou=[0.5, 0.2], mode="smoothed", power=10**400), ValueError, "power must be finite"),
    (dict(per_class_iou=[0.5, 0.2], mode="smoothed", power=-1), ValueError, "power must be finite and > 0"),
    (dict(per_class_iou=[0.5, 0.2], mode="smoothed", power=True), TypeError, "power must be a real number"),
])
def test_dynamic_class_weights_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        dynamic_class_weights(**kwargs)


def test_dynamic_class_weights_large_power_stays_finite():
    # the weights are scaled to at most 1 before the power: a large power gives tiny weights, not inf / inf = NaN
    w = dynamic_class_weights([0.0, 0.5, 1.0], "smoothed", floor=1.0, power=1e6)
    assert torch.isfinite(w).all() and w.max() == 1.0
