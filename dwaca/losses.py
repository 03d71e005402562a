"""Training losses of the RIPU / DWACA recipe.

Contract shared by every helper: ``logits`` are raw network outputs (B, C, h, w) at any resolution; they are
upsampled bilinearly (align_corners=True, as RIPU) to the label's (H, W) before anything else, because RIPU computes
every term on full-resolution predictions. Labels are (B, H, W) integer class ids with ``IGNORE_INDEX`` = unlabelled.
Every helper returns a scalar that stays attached to ``logits``' graph, 0 (not NaN) when nothing is selected.
"""
import torch
import torch.nn.functional as F

IGNORE_INDEX = 255
LCR_TYPES = ("l1", "l2", "kl")


def upsample_to(logits, size):
    """(B, C, h, w) -> (B, C, *size), bilinear with align_corners=True; returned unchanged at that size already."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=True)


def _zero(logits):
    # A zero that keeps the graph (and so backward() and DDP's gradient hooks) valid.
    return logits.sum() * 0.0


def cross_entropy(logits, label):
    """Mean cross-entropy over the pixels of ``label`` that are not ``IGNORE_INDEX``; 0 when there are none.

    Serves both the source term (every pixel labelled) and the target term, where ``label`` is the active-label
    mask: annotated pixels carry their class, all others ``IGNORE_INDEX``.
    """
    logits = upsample_to(logits, label.shape[-2:])
    if not (label != IGNORE_INDEX).any():
        return _zero(logits)
    return F.cross_entropy(logits, label.long(), ignore_index=IGNORE_INDEX)


def semantic_boundary(label):
    """(B, H, W) labels -> (B, H, W) bool: RIPU's boundary mask, where the 8-neighbour Laplacian of the label ids
    (zero padded) is non-zero, i.e. a pixel whose id differs from its neighbours' mean id; with the zero padding,
    image-border pixels of non-zero classes count too."""
    kernel = -torch.ones(1, 1, 3, 3, device=label.device)
    kernel[0, 0, 1, 1] = 8.0
    lap = F.conv2d(label.unsqueeze(1).float(), kernel, padding=1).squeeze(1)
    return lap != 0


def local_discrepancy(prob, lcr_type="l1"):
    """(B, C, H, W) probabilities -> (B, H, W): distance of each pixel's distribution from the mean of its 3x3
    window (centre included, replicate padding). "l1": sum |p - m|; "l2": sum (p - m)^2; "kl": KL(p || m)."""
    if lcr_type not in LCR_TYPES:
        raise ValueError(f"SOLVER.LCR_TYPE '{lcr_type}' is not one of {LCR_TYPES}")
    mean = F.avg_pool2d(F.pad(prob, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    if lcr_type == "l1":
        return (prob - mean).abs().sum(1)
    if lcr_type == "l2":
        return (prob - mean).pow(2).sum(1)
    return (prob * torch.log(prob / (mean + 1e-6) + 1e-6)).sum(1)


def local_consistency_loss(logits, label, lcr_type="l1"):
    """RIPU's local consistency regularisation: mean ``local_discrepancy`` of softmax(logits) over the labelled
    pixels of ``semantic_boundary(label)``. RIPU applies it to the source batch, weighted by SOLVER.CONSISTENT_LOSS.
    """
    logits = upsample_to(logits, label.shape[-2:])
    mask = semantic_boundary(label) & (label != IGNORE_INDEX)
    if not mask.any():
        return _zero(logits)
    return local_discrepancy(torch.softmax(logits, 1), lcr_type)[mask].mean()


def negative_learning_loss(logits, threshold=0.05, size=None):
    """RIPU's negative learning on unlabelled target predictions: every (pixel, class) whose softmax probability p
    is below ``threshold`` is pushed further down with -log(1 - p + 1e-6); the sum is divided by the number of such
    (pixel, class) pairs (not pixels). ``size`` (H, W): upsample the logits first, as RIPU does to the input size.
    """
    if size is not None:
        logits = upsample_to(logits, size)
    prob = torch.softmax(logits, 1)
    mask = (prob < threshold).detach()
    if not mask.any():
        return _zero(logits)
    return -(torch.log(1.0 - prob[mask] + 1e-6)).sum() / mask.sum()


def adaptation_losses(src_logits, src_label, tgt_logits, tgt_label, solver_cfg):
    """One training step's terms: {"loss_sup", "loss_sup_tgt", "cr_loss", "nl_loss", "total"}, weighted already.

    src_label: (B, H, W) source ground truth; tgt_label: (B, H, W) active-label mask (IGNORE_INDEX = unannotated).
    ``solver_cfg`` is cfg.SOLVER (CONSISTENT_LOSS, LCR_TYPE, NEGATIVE_LOSS, NEGATIVE_THRESHOLD); a weight of 0
    skips its term (reported as 0). As RIPU: consistency on the source batch, negative learning on all target pixels.
    """
    terms = {"loss_sup": cross_entropy(src_logits, src_label),
             "loss_sup_tgt": cross_entropy(tgt_logits, tgt_label)}
    terms["cr_loss"] = (local_consistency_loss(src_logits, src_label, solver_cfg.LCR_TYPE) * solver_cfg.CONSISTENT_LOSS
                        if solver_cfg.CONSISTENT_LOSS > 0 else _zero(src_logits))
    terms["nl_loss"] = (negative_learning_loss(tgt_logits, solver_cfg.NEGATIVE_THRESHOLD, tgt_label.shape[-2:])
                        * solver_cfg.NEGATIVE_LOSS if solver_cfg.NEGATIVE_LOSS > 0 else _zero(tgt_logits))
    terms["total"] = sum(terms.values())
    return terms
