"""AL-DWACA's class weights (``dwaca.active.weights``) on hand-computed IoU tables, mode by mode: ties, NaN, all zero,
a single known class; bounded and monotone where the docstring says so."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dwaca.active import class_weights_for, dynamic_class_weights
from dwaca.active.weights import MODES, shrunk_iou

NAN = float("nan")


def _w(iou, mode, **kw):
    return dynamic_class_weights(iou, mode, **kw).tolist()


@pytest.mark.parametrize("iou,expected", [
    # sum 1: r ~ (2, 4, 4), min-max scaled: the best class ~0, the others 1
    ([0.5, 0.25, 0.25], [0.0, 1.0, 1.0]),
    # NaN -> mean of the known (0.5): r ~ (1.875, 3, 7.5) -> (0, 0.2, 1)
    ([0.8, NAN, 0.2], [0.0, 0.2, 1.0]),
    ([0.3, 0.3], [1.0, 1.0]),  # a tie: only the 1e-6 terms, every class 1
    ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),  # all zero
    ([NAN, 0.7, NAN], [1.0, 1.0, 1.0]),  # one known class: the others take its IoU
    ([0.9, 0.0, 0.6], [0.0, 1.0, 0.0]),  # a class at 0 takes all the weight (published)
])
def test_published_formula(iou, expected):
    assert _w(iou, "dwaca") == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("iou,expected", [
    ([0.8, NAN, 0.2], [0.3 / 0.9, 0.6 / 0.9, 1.0]),  # 1 - IoU + 0.1 over its maximum
    ([0.9, 0.0, 0.6], [0.2 / 1.1, 1.0, 0.5 / 1.1]),
    ([0.3, 0.3], [1.0, 1.0]),
    ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),
    ([NAN, 0.7, NAN], [1.0, 1.0, 1.0]),
    ([1.0, 0.0], [0.1 / 1.1, 1.0]),  # the bound: floor / (1 + floor)
])
def test_smoothed(iou, expected):
    assert _w(iou, "smoothed") == pytest.approx(expected, abs=1e-6)


def test_shrunk_pulls_thinly_supported_iou_to_the_mean():
    iou, support = [0.9, 0.0, NAN, 0.5], [1000, 10, 0, 190]
    # mean IoU m = 1.4 / 3, mean support n0 = 300: (n * iou + 300 m) / (n + 300), 300 m = 140
    expected_iou = [1040 / 1300, 140 / 310, 140 / 300, 235 / 490]
    assert shrunk_iou(torch.tensor(iou, dtype=torch.float64),
                      torch.tensor(support, dtype=torch.float64)).tolist() == pytest.approx(expected_iou)
    base = [1.1 - x for x in expected_iou]
    assert _w(iou, "shrunk", support=support) == pytest.approx([b / max(base) for b in base], abs=1e-6)
    # the class at IoU 0 on 10 pixels is not the one that takes the most weight any more ... it is close to average
    assert max(_w(iou, "shrunk", support=support)[1:]) - min(_w(iou, "shrunk", support=support)[1:]) < 0.05


@pytest.mark.parametrize("iou", [[0.8, NAN, 0.2], [0.3, 0.3], [0.0, 0.0, 0.0], [NAN, 0.7, NAN]])
def test_shrunk_without_support_or_with_none_counted_is_smoothed(iou):
    assert _w(iou, "shrunk") == pytest.approx(_w(iou, "smoothed"))
    assert _w(iou, "shrunk", support=[0] * len(iou)) == pytest.approx(_w(iou, "smoothed"))


@pytest.mark.parametrize("support,match", [([1, 2], "support must hold 3 finite pixel counts"),
                                           ([1, -2, 3], "support must hold 3"), ([1, NAN, 3], "support must hold 3"),
                                           ("abc", "support must be a 1-D sequence")])
def test_shrunk_refuses_bad_support_naming_it(support, match):
    with pytest.raises((ValueError, TypeError), match=match):
        dynamic_class_weights([0.5, 0.2, 0.1], "shrunk", support=support)


def test_uniform_and_the_strategies_without_weights():
    assert _w([0.9, 0.0, NAN], "uniform") == [1.0, 1.0, 1.0]
    assert class_weights_for("AL-RIPU", [0.9, 0.1], 2, "dwaca").tolist() == [1.0, 1.0]
    assert class_weights_for("AL-DWACA", None, 3, "shrunk").tolist() == [1.0, 1.0, 1.0]  # round 1: no IoU yet
    assert class_weights_for("AL-DWACA", [0.9, 0.0, 0.5], 3, "shrunk", [1000, 10, 190]).tolist() == \
        pytest.approx(_w([0.9, 0.0, 0.5], "shrunk", support=[1000, 10, 190]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=19), st.sampled_from(["smoothed", "shrunk"]),
       st.integers(0, 10 ** 6))
def test_smoothed_and_shrunk_are_bounded_and_monotone(iou, mode, count):
    support = [count] * len(iou)  # equal support: shrinking keeps the order
    w = dynamic_class_weights(iou, mode, support=support)
    assert ((w >= 0.1 / 1.1 - 1e-6) & (w <= 1 + 1e-6)).all() and w.max() == pytest.approx(1.0)
    order = sorted(range(len(iou)), key=lambda c: iou[c])
    assert all(w[a] >= w[b] - 1e-6 for a, b in zip(order, order[1:]))  # lower IoU, no smaller weight


def test_every_mode_is_covered():
    assert set(MODES) == {"dwaca", "smoothed", "shrunk", "uniform"}
