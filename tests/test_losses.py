import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from dwaca.losses import (adaptation_losses, cross_entropy, local_consistency_loss, local_discrepancy,
                          negative_learning_loss, semantic_boundary)

LN3 = math.log(3.0)


def _pixels(*logit_rows):
    """(1, C, 1, N) logits from N per-pixel logit vectors."""
    return torch.tensor(logit_rows, dtype=torch.float64).t().reshape(1, -1, 1, len(logit_rows))


def test_cross_entropy_averages_over_labelled_pixels_only():
    logits = _pixels([0.0, 0.0], [LN3, 0.0], [5.0, -5.0])
    label = torch.tensor([[[0, 1, 255]]])
    # pixel 0: -log(1/2); pixel 1: -log(1/4); pixel 2 ignored.
    assert cross_entropy(logits, label).item() == pytest.approx((math.log(2) + math.log(4)) / 2)


def test_cross_entropy_upsamples_low_resolution_logits_with_aligned_corners():
    logits = torch.zeros(1, 2, 1, 2, dtype=torch.float64)
    logits[0, 0, 0] = torch.tensor([0.0, 4.0])  # class 0 becomes 0, 1, 2, 3, 4 across five pixels
    label = torch.zeros(1, 1, 5, dtype=torch.long)
    expected = sum(math.log(1 + math.exp(-v)) for v in range(5)) / 5
    assert cross_entropy(logits, label).item() == pytest.approx(expected)


def test_unannotated_target_batch_gives_zero_with_a_valid_graph():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = cross_entropy(logits, torch.full((2, 8, 8), 255))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_semantic_boundary_is_the_nonzero_label_laplacian_with_zero_padding():
    # 0 next to 1 and both 1s differ from their neighbourhood mean; the left 0 does not; the right 1 sits on the
    # zero-padded border.
    assert semantic_boundary(torch.tensor([[[0, 0, 1, 1]]])).tolist() == [[[False, True, True, True]]]
    block = torch.zeros(1, 6, 6, dtype=torch.long)
    block[0, 1:4, 1:4] = 2  # a 3x3 square of class 2: its centre is interior, its ring and the ring around it are not
    mask = semantic_boundary(block)[0]
    assert mask[1, 1] and mask[0, 0] and mask[4, 4]
    assert not (mask[2, 2] or mask[5, 5] or mask[0, 5])


def test_local_discrepancy_uses_replicate_padded_3x3_mean():
    # Class-0 probabilities 3/4, 1/4, 1/4 along one row; replicate padding makes the 3x3 mean a 3-column mean:
    # 7/12, 5/12, 1/4 -> |p - m| = 1/6, 1/6, 0 per class, two classes.
    prob = torch.softmax(_pixels([LN3, 0.0], [0.0, LN3], [0.0, LN3]), 1)
    l1 = local_discrepancy(prob, "l1")[0, 0]
    l2 = local_discrepancy(prob, "l2")[0, 0]
    assert l1.tolist() == pytest.approx([1 / 3, 1 / 3, 0.0])
    assert l2.tolist() == pytest.approx([1 / 18, 1 / 18, 0.0])
    with pytest.raises(ValueError, match="l3"):
        local_discrepancy(prob, "l3")


def test_local_discrepancy_matches_a_direct_neighbourhood_loop():
    torch.manual_seed(0)
    prob = torch.softmax(torch.randn(1, 3, 4, 5, dtype=torch.float64), 1)
    got = local_discrepancy(prob, "l1")[0]
    for i in range(4):
        for j in range(5):
            window = [prob[0, :, min(max(i + di, 0), 3), min(max(j + dj, 0), 4)]
                      for di in (-1, 0, 1) for dj in (-1, 0, 1)]
            expected = (prob[0, :, i, j] - torch.stack(window).mean(0)).abs().sum()
            assert got[i, j].item() == pytest.approx(expected.item())


def test_local_consistency_averages_over_labelled_boundary_pixels():
    logits = _pixels([LN3, 0.0], [0.0, LN3], [0.0, LN3])
    # label 0,1,1: all three on the boundary mask -> (1/3 + 1/3 + 0) / 3.
    assert local_consistency_loss(logits, torch.tensor([[[0, 1, 1]]])).item() == pytest.approx(2 / 9)
    assert local_consistency_loss(logits, torch.tensor([[[0, 1, 1]]]), "l2").item() == pytest.approx(1 / 27)
    # The ignored pixel leaves the mean: (1/3 + 1/3) / 2.
    assert local_consistency_loss(logits, torch.tensor([[[0, 1, 255]]])).item() == pytest.approx(1 / 3)


def test_local_consistency_without_boundary_pixels_is_zero_not_nan():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = local_consistency_loss(logits, torch.zeros(1, 4, 4, dtype=torch.long))
    assert loss.item() == 0.0
    loss.backward()


def test_negative_learning_averages_over_low_probability_entries():
    probs = torch.tensor([[0.9, 0.06, 0.04], [0.98, 0.01, 0.01]], dtype=torch.float64)
    logits = _pixels(*probs.log().tolist())
    # Below 0.05: 0.04 (pixel 0), 0.01 and 0.01 (pixel 1): three entries.
    expected = -(math.log(0.96 + 1e-6) + 2 * math.log(0.99 + 1e-6)) / 3
    assert negative_learning_loss(logits, 0.05).item() == pytest.approx(expected)
    # Upsampled to 1x4 (aligned corners): pixels 1 and 2 interpolate the logits, so the count and the sum change.
    up = F.interpolate(logits, size=(1, 4), mode="bilinear", align_corners=True)
    p = torch.softmax(up, 1)
    expected_up = -(torch.log(1 - p[p < 0.05] + 1e-6)).sum() / (p < 0.05).sum()
    assert negative_learning_loss(logits, 0.05, size=(1, 4)).item() == pytest.approx(expected_up.item())
    assert negative_learning_loss(logits, 0.05, size=(1, 4)).item() != pytest.approx(expected)


def test_negative_learning_with_nothing_below_threshold_is_zero_not_nan():
    logits = torch.zeros(1, 2, 3, 3, requires_grad=True)  # p = 0.5 everywhere
    loss = negative_learning_loss(logits, 0.05)
    assert loss.item() == 0.0
    loss.backward()


def _solver(cr=0.1, nl=1.0):
    return SimpleNamespace(CONSISTENT_LOSS=cr, LCR_TYPE="l1", NEGATIVE_LOSS=nl, NEGATIVE_THRESHOLD=0.05)


def test_adaptation_losses_weights_and_sums_the_terms():
    torch.manual_seed(0)
    src = (torch.randn(2, 4, 3, 5) * 4).requires_grad_()
    tgt = (torch.randn(2, 4, 3, 5) * 4).requires_grad_()
    src_label = torch.randint(0, 4, (2, 6, 10))
    tgt_label = torch.full((2, 6, 10), 255)
    tgt_label[:, :2, :3] = 1
    terms = adaptation_losses(src, src_label, tgt, tgt_label, _solver(cr=0.5, nl=2.0))
    assert terms["loss_sup"].item() == pytest.approx(cross_entropy(src, src_label).item())
    assert terms["loss_sup_tgt"].item() == pytest.approx(cross_entropy(tgt, tgt_label).item())
    assert terms["cr_loss"].item() == pytest.approx(0.5 * local_consistency_loss(src, src_label).item())
    assert terms["nl_loss"].item() == pytest.approx(2.0 * negative_learning_loss(tgt, 0.05, (6, 10)).item())
    assert terms["total"].item() == pytest.approx(sum(terms[k].item() for k in
                                                      ("loss_sup", "loss_sup_tgt", "cr_loss", "nl_loss")))
    terms["total"].backward()
    assert src.grad.abs().sum() > 0 and tgt.grad.abs().sum() > 0

    off = adaptation_losses(src, src_label, tgt, tgt_label, _solver(cr=0.0, nl=0.0))
    assert off["cr_loss"].item() == 0.0 and off["nl_loss"].item() == 0.0
