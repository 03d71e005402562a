"""ACTIVE.SOFT_WEIGHTS: the expected class weight under the softmax (``dwaca.active.expected_weight``) against a
per-pixel loop in float64, the kernel's uncertainty, linearity in the weights, and its place in a selection round."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dwaca.active import strategy_scores
from dwaca.active.expected_weight import expected_weight_uncertainty
from dwaca.ops import region_score

C = 5


def _loop_oracle(logits, out_size, weights, radius, sigma):
    """Every output pixel by hand in float64: torch's bilinear upsampling, then sum_c p_c w_c times the entropy,
    averaged over the window clipped at the border (Gaussian-weighted for sigma > 0)."""
    v = torch.nn.functional.interpolate(logits.double(), out_size, mode="bilinear", align_corners=True)[0].numpy()
    p = np.exp(v - v.max(0))
    p /= p.sum(0)
    we = (p * np.asarray(weights, np.float64)[:, None, None]).sum(0) * -(p * np.log(p + 1e-6)).sum(0) / math.log(C)
    H, W = out_size
    out = np.zeros((H, W))
    for y in range(H):
        for x in range(W):
            total = count = 0.0
            for yy in range(max(0, y - radius), min(H, y + radius + 1)):
                for xx in range(max(0, x - radius), min(W, x + radius + 1)):
                    g = math.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma ** 2)) if sigma else 1.0
                    total += g * we[yy, xx]
                    count += g
            out[y, x] = total / count
    return out


@pytest.mark.parametrize("radius,sigma,out_size", [(1, 0.0, (9, 13)), (0, 0.0, (4, 6)), (2, 0.0, (7, 5)),
                                                   (1, 1.5, (9, 13))])
def test_matches_a_per_pixel_loop(radius, sigma, out_size):
    g = torch.Generator().manual_seed(radius * 10 + int(sigma))
    logits = 3 * torch.randn(1, C, 4, 6, generator=g)
    weights = torch.rand(C, generator=g)
    got = expected_weight_uncertainty(logits, out_size, weights, radius=radius, sigma=sigma)
    np.testing.assert_allclose(got[0].numpy(), _loop_oracle(logits, out_size, weights, radius, sigma), atol=2e-6)


@pytest.mark.parametrize("radius,sigma", [(0, 0.0), (1, 0.0), (3, 0.0), (1, 2.0)])
def test_equal_weights_give_the_kernels_uncertainty(radius, sigma):
    logits = torch.randn(3, C, 8, 10, generator=torch.Generator().manual_seed(radius))
    got = expected_weight_uncertainty(logits, (15, 19), torch.full((C,), 0.5), radius=radius, sigma=sigma)
    want = region_score(logits, radius=radius, out_size=(15, 19), sigma=sigma).uncertainty
    torch.testing.assert_close(got, 0.5 * want, rtol=0, atol=1e-6)
    empty = expected_weight_uncertainty(logits[:0], (15, 19), torch.rand(C), radius=radius, sigma=sigma)
    assert empty.shape == (0, 15, 19) and empty.dtype == torch.float32


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=C, max_size=C), st.lists(st.floats(0, 1), min_size=C, max_size=C),
       st.floats(0, 4), st.integers(0, 2 ** 16))
def test_linear_in_the_weights(w1, w2, a, seed):
    logits = torch.randn(2, C, 5, 7, generator=torch.Generator().manual_seed(seed))
    w1, w2 = torch.tensor(w1), torch.tensor(w2)

    def u(w):
        return expected_weight_uncertainty(logits, (9, 13), w, radius=1).double()
    torch.testing.assert_close(u(a * w1 + w2), a * u(w1) + u(w2), rtol=0, atol=1e-5)


def test_a_confident_pixel_takes_its_class_weight_and_a_uniform_one_the_mean():
    logits = torch.zeros(1, C, 1, 2)
    logits[0, 3, 0, 0] = 50.0  # certain of class 3: entropy ~0 but weight w_3
    weights = torch.tensor([0.0, 0.1, 0.2, 0.9, 0.3])
    u = expected_weight_uncertainty(logits, (1, 2), weights, radius=0)[0, 0]
    assert u[1] == pytest.approx(weights.mean().item(), abs=1e-6)  # uniform: entropy 1, weight the mean
    p3 = torch.softmax(logits[0, :, 0, 0], 0)
    entropy = -(p3 * torch.log(p3 + 1e-6)).sum() / math.log(C)
    assert u[0] == pytest.approx((0.9 * entropy).item(), rel=1e-3)


def _score_inputs():
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(2, C, 6, 8, generator=g)
    blocked = torch.zeros(2, 12, 16, dtype=torch.bool)
    blocked[0, :3] = True
    return logits, blocked


def test_the_strategy_multiplies_the_kernels_impurity_and_blocks_pixels():
    logits, blocked = _score_inputs()
    weights = torch.tensor([1.0, 0.2, 0.0, 0.7, 0.4])
    score = strategy_scores("AL-DWACA", logits, out_size=(12, 16), blocked=blocked, class_weights=weights,
                            soft_weights=True)
    impurity = region_score(logits, out_size=(12, 16)).impurity
    want = impurity * expected_weight_uncertainty(logits, (12, 16), weights)
    assert torch.isinf(score[blocked]).all() and (score[blocked] < 0).all()
    torch.testing.assert_close(score[~blocked], want[~blocked], rtol=0, atol=0)
    hard = strategy_scores("AL-DWACA", logits, out_size=(12, 16), blocked=blocked, class_weights=weights)
    assert not torch.allclose(score[~blocked], hard[~blocked])


def test_equal_weights_and_other_strategies_score_as_without_soft_weights():
    logits, blocked = _score_inputs()
    for name, weights in (("AL-DWACA", torch.full((C,), 0.3)), ("AL-RIPU", torch.rand(C)), ("entropy", None)):
        kw = dict(out_size=(12, 16), blocked=blocked, class_weights=weights)
        assert torch.equal(strategy_scores(name, logits, soft_weights=True, **kw), strategy_scores(name, logits, **kw))


def test_bad_weights_are_refused_naming_them():
    logits, blocked = _score_inputs()
    with pytest.raises(ValueError, match="class_weights must be finite and >= 0"):
        strategy_scores("AL-DWACA", logits, out_size=(12, 16), blocked=blocked,
                        class_weights=torch.tensor([1.0, -0.5, 0.0, 0.7, 0.4]), soft_weights=True)
    with pytest.raises(ValueError, match=r"class_weights must have shape \(5,\)"):
        strategy_scores("AL-DWACA", logits, out_size=(12, 16), blocked=blocked, class_weights=torch.ones(4),
                        soft_weights=True)
