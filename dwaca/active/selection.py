"""One active-selection round over the whole target training set.

For every target image (dataset in "select" mode: image resized to INPUT.INPUT_SIZE_TEST for the network, label grid
at full resolution), in batches of ACTIVE.BATCH_SIZE on the model's device, in eval mode under ``torch.no_grad``:

1. forward the image; the strategy (``strategies.strategy_scores``) scores every pixel of the label grid, the
   logits being upsampled to it inside the kernel (``out_size``);
2. pixels already bought are blocked: the annotated mask is DILATED by the selection radius r (a (2r+1)^2
   max-pool), so no new (2r+1)^2 window can touch an annotated pixel. Together with ``select_regions``' exclusion
   radius (2k in RA, so windows of one round are disjoint) every pixel of every selected window is new, and the
   pixels bought are exactly ``sum of the windows' in-image areas`` (= regions x (2k+1)^2 minus border clipping),
   never more than the budget. Both are verified per image (``BudgetError``);
3. ``select_regions`` picks the budget greedily; the simulated oracle (``oracle_labels``, the only place that reads
   target ground truth) fills the selected pixels, which go into the ``LabelPool``; the pool commits the round.

Budgets (H, W = the label's size, n = len(ACTIVE.SELECT_ITER)), identical for every strategy:

* "RA": radius k = ACTIVE.RADIUS_K, exclusion 2k, ``floor(RATIO / n * H * W / (2k+1)^2)`` regions per image and
  round; budget ``regions * (2k+1)^2`` pixels.
* "PA": radius 0, exclusion RADIUS_K, ``PIXELS // n`` pixels per image and round, the remainder in the last round,
  so an image gets exactly PIXELS in total; the score still uses the radius-k neighbourhood.
"""
import logging
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..ops import select_regions
from .pool import LabelPool, PoolError
from .strategies import STRATEGIES, class_weights_for, dilate, strategy_scores

SETTINGS = ("RA", "PA")
logger = logging.getLogger("dwaca.active")


class BudgetError(PoolError):
    """A round bought a number of pixels its budget does not allow."""


def round_plan(active_cfg, round_index, height, width):
    """What round ``round_index`` buys in one image of (height, width).

    Returns dict(count=regions (RA) or pixels (PA) per image, radius=window radius, exclusion=exclusion radius,
    score_radius=neighbourhood of the score, budget_pixels=pixels allowed per image)."""
    setting = active_cfg.SETTING
    n = len(active_cfg.SELECT_ITER)
    k = int(active_cfg.RADIUS_K)
    if n == 0:
        raise ValueError("ACTIVE.SELECT_ITER is empty")
    if not 0 <= round_index < n:
        raise ValueError(f"round {round_index} out of range for {n} rounds")
    if setting == "RA":
        area = (2 * k + 1) ** 2
        count = int(np.floor(float(active_cfg.RATIO) / n * height * width / area))
        return dict(count=count, radius=k, exclusion=2 * k, score_radius=k, budget_pixels=count * area)
    if setting == "PA":
        total = int(active_cfg.PIXELS)
        per = total // n
        count = total - per * (n - 1) if round_index == n - 1 else per
        return dict(count=count, radius=0, exclusion=k, score_radius=k, budget_pixels=count)
    raise ValueError(f"ACTIVE.SETTING '{setting}' is not one of {SETTINGS}")


def window_area(centers, radius, height, width):
    """Sum over ``centers`` ((N, 2) (row, col), -1 padded) of the in-image area of their (2r+1)^2 windows."""
    c = centers[(centers >= 0).all(-1)].to(torch.int64)
    if c.numel() == 0:
        return 0
    rows = (c[:, 0] + radius).clamp(max=height - 1) - (c[:, 0] - radius).clamp(min=0) + 1
    cols = (c[:, 1] + radius).clamp(max=width - 1) - (c[:, 1] - radius).clamp(min=0) + 1
    return int((rows * cols).sum())


def oracle_labels(dataset, index):
    """The simulated annotator: ground-truth train ids (H, W) uint8 of target image ``index`` (255 = void).

    The ONLY place where target ground truth is read during training; replace it (e.g. by a call into a human
    annotation tool) to run a real annotation loop."""
    return dataset.load_train_ids(index)


def _collate(items):
    return items


def build_select_dataset(cfg, pool):
    from ..data import build_dataset
    return build_dataset(cfg, cfg.DATASETS.TARGET_TRAIN, "select", annotation_provider=pool.annotation_provider)


@torch.no_grad()
def run_selection_round(cfg, model, pool, round_index, iteration, *, device, per_class_iou=None, iou_source="none",
                        dataset=None, seed=0, progress=True, num_workers=None):
    """Run selection round ``round_index`` (0-based) at training ``iteration`` and commit it to ``pool``.

    per_class_iou: (C,) IoU fractions (NaN allowed) for AL-DWACA's dynamic weights, None = uniform.
    iou_source: where it came from ("pool", "val", "none"), recorded in the manifest.
    dataset: the target training set in "select" mode whose ``annotation_provider`` is the pool (built if None).
    seed: base seed of the random strategy (its generator is seeded with seed * 1000 + round_index).
    Returns the round's manifest record.
    """
    active = cfg.ACTIVE
    name = active.NAME
    if name not in STRATEGIES:
        raise ValueError(f"ACTIVE.NAME '{name}' is not one of {STRATEGIES}")
    if pool.rounds_done != round_index:
        raise PoolError(f"round {round_index} requested but the pool at {pool.root} has {pool.rounds_done} rounds")
    if dataset is None:
        dataset = build_select_dataset(cfg, pool)
    num_classes = int(cfg.MODEL.NUM_CLASSES)
    weights = class_weights_for(name, per_class_iou, num_classes, active.WEIGHT_MODE)
    generator = torch.Generator().manual_seed(int(seed) * 1000 + round_index) if name == "random" else None
    amp = str(cfg.SOLVER.AMP) if device.type == "cuda" else ""
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)

    loader = DataLoader(dataset, batch_size=max(1, int(active.BATCH_SIZE)), shuffle=False, collate_fn=_collate,
                        num_workers=int(cfg.SOLVER.NUM_WORKERS if num_workers is None else num_workers))
    was_training = model.training
    model.eval()
    t_round = time.perf_counter()
    t_forward = t_select = 0.0
    regions_total = regions_requested = 0
    budget_total = 0
    images = 0
    try:
        from tqdm import tqdm
        bar = tqdm(loader, desc=f"select round {round_index + 1}/{len(active.SELECT_ITER)} ({name})",
                   disable=not progress, leave=False, unit="batch")
        for items in bar:
            # group by label size (a batch must share one out_size)
            groups = {}
            for it in items:
                groups.setdefault(tuple(it["label"].shape[-2:]), []).append(it)
            for (H, W), group in groups.items():
                plan = round_plan(active, round_index, H, W)
                t0 = time.perf_counter()
                image = torch.stack([it["image"] for it in group]).to(device, non_blocking=True)
                if amp_dtype is not None:
                    with torch.autocast("cuda", dtype=amp_dtype):
                        logits = model(image)
                else:
                    logits = model(image)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t1 = time.perf_counter()
                labeled = torch.zeros((len(group), H, W), dtype=torch.bool)
                for j, it in enumerate(group):
                    m = pool.labeled_mask(it["name"])
                    if m is not None:
                        labeled[j] = torch.from_numpy(m)
                labeled = labeled.to(device)
                blocked = dilate(labeled, plan["radius"])
                score = strategy_scores(name, logits, out_size=(H, W), blocked=blocked,
                                        score_radius=plan["score_radius"], class_weights=weights,
                                        sigma=float(active.SIGMA) if name == "AL-DWACA" else 0.0,
                                        generator=generator)
                centers, selected, _ = select_regions(score, plan["count"], radius=plan["radius"],
                                                      exclusion_radius=plan["exclusion"])
                centers, selected = centers.cpu(), selected.cpu()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t2 = time.perf_counter()
                t_forward += t1 - t0
                t_select += t2 - t1
                for j, it in enumerate(group):
                    sel = selected[j].numpy()
                    picked = int((centers[j] >= 0).all(-1).sum())
                    expected = window_area(centers[j], plan["radius"], H, W)
                    bought = int(sel.sum())
                    if bought != expected or bought > plan["budget_pixels"]:
                        raise BudgetError(
                            f"round {round_index}, {it['name']}: {bought} pixels selected, {picked} windows cover "
                            f"{expected} in-image pixels, budget {plan['budget_pixels']}")
                    if sel.any():
                        added = pool.add_annotations(it["name"], it["index"], sel, oracle_labels(dataset, it["index"]),
                                                     picked)
                        assert added == bought
                    regions_total += picked
                    regions_requested += plan["count"]
                    budget_total += plan["budget_pixels"]
                    images += 1
    except BaseException:
        pool.discard_pending()
        raise
    finally:
        model.train(was_training)
    seconds = time.perf_counter() - t_round
    record = {"index": round_index, "iteration": int(iteration), "strategy": name, "setting": active.SETTING,
              "radius": int(active.RADIUS_K), "images": images, "regions": regions_total,
              "regions_requested": regions_requested, "iou_source": iou_source,
              "class_weights": [round(float(w), 6) for w in weights.tolist()],
              "seconds": round(seconds, 3),
              "forward_s_per_image": round(t_forward / max(images, 1), 5),
              "select_s_per_image": round(t_select / max(images, 1), 5)}
    record = pool.commit_round(record, budget_total)
    if record["pixels"] > budget_total:  # commit_round refuses this already; kept as the documented invariant
        raise BudgetError(f"round {round_index} bought {record['pixels']} > budget {budget_total}")
    if regions_total < regions_requested:
        logger.warning("round %d: only %d of %d regions found (no unannotated candidates left)", round_index + 1,
                       regions_total, regions_requested)
    logger.info("selection round %d/%d at iteration %d (%s, %s): %d regions, %d pixels bought (budget %d), pool "
                "%d / %d pixels; %.1f s, per image %.1f ms forward + %.1f ms scoring/selection",
                round_index + 1, len(active.SELECT_ITER), iteration, name, active.SETTING, regions_total,
                record["pixels"], budget_total, pool.pixels_total, pool.budget_pixels, seconds,
                1e3 * record["forward_s_per_image"], 1e3 * record["select_s_per_image"])
    return record


__all__ = ["BudgetError", "LabelPool", "SETTINGS", "build_select_dataset", "oracle_labels", "round_plan",
           "run_selection_round", "window_area"]
