"""One active-selection round over the whole target training set.

For every target image (dataset in "select" mode: image resized to INPUT.INPUT_SIZE_TEST for the network, label grid
at full resolution), in batches of ACTIVE.BATCH_SIZE on the model's device, in eval mode under ``torch.no_grad``:

1. forward the image; the strategy (``strategies.strategy_scores``) scores every pixel of the label grid, the
   logits being upsampled to it inside the kernel (``out_size``). With ACTIVE.UPSAMPLE_VIA_INPUT (default) they are
   first upsampled to the network's input size, as the published selection does (bilinear, align_corners=True,
   twice); without it the kernel upsamples the logits in one step;
2. centres near pixels already bought are blocked: the annotated mask is DILATED by k = ACTIVE.RADIUS_K (a
   (2k+1)^2 max-pool), as RIPU keeps the neighbourhood of earlier picks excluded in later rounds. As k is at least
   the window radius, no new window can touch an annotated pixel. Together with ``select_regions``' exclusion
   radius (2k in RA, so windows of one round are disjoint) every pixel of every selected window is new, and the
   pixels bought are exactly ``sum of the windows' in-image areas`` (= regions x (2k+1)^2 minus border clipping),
   never more than the budget. Both are verified per image (``BudgetError``);
3. ``select_regions`` picks the budget greedily; the simulated oracle (``oracle_labels``, the only place that reads
   target ground truth) fills the selected pixels, which are journaled image by image in the pool's round folder
   (``LabelPool.stage_annotations``); once every image is done the pool commits the round.

A round killed at any point continues from its journal when rerun (images already done are skipped), so it ends
with exactly the pixels an uninterrupted round buys. Under ``torchrun`` image i is scored by rank i % world; the
ranks meet at barriers, rank 0 builds the commit from every rank's journal, each rank publishes its own masks.

Budgets: ``dwaca.active.budget``.
"""
import logging
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from ..data import build_dataset
from ..losses import upsample_to
from ..ops import select_regions
from ..utils import comm as dist
from ..utils.amp import autocast_dtype
from ..utils.faults import crash_point
from .budget import budget_config, check_active_config, config_differences, round_plan, window_area
from .errors import BudgetError, PoolError
from .strategies import class_weights_for, dilate, strategy_scores

logger = logging.getLogger("dwaca.active")


def oracle_labels(dataset, index):
    """The simulated annotator: ground-truth train ids (H, W) uint8 of target image ``index`` (255 = void).

    The ONLY place where target ground truth is read during training; replace it (e.g. by a call into a human
    annotation tool) to run a real annotation loop."""
    return dataset.load_train_ids(index)


def collate_items(items):
    """A batch as the list of its items (their label grids may differ in size)."""
    return items


def build_select_dataset(cfg, pool):
    return build_dataset(cfg, cfg.DATASETS.TARGET_TRAIN, "select", annotation_provider=pool.annotation_provider)


def image_seed(seed, round_index, index):
    """Seed of the random strategy for one image: a function of (seed, round, image) only, so the draw does not
    depend on batching, sharding across ranks, or on which images a resumed round still has to do."""
    return ((int(seed) * 1000 + int(round_index)) * 1_000_003 + int(index)) % (2 ** 63)


def _round_config(active, iteration, images):
    """What a resumed round must share with the run that started it (plan.json "config"): what it selects with and
    everything its budget depends on, keyed by the config key (or argument) it comes from."""
    return {"iteration": int(iteration), **budget_config(active), "target images": int(images)}


def _start_round(pool, round_index, plan):
    """The round's plan.json: written by rank 0 when the round starts, read back by every rank. A round that is
    being resumed keeps its plan (class weights included); one started with another configuration is a ValueError
    naming the keys that differ."""
    if dist.is_main() and pool.journal.read_plan(round_index) is None:
        pool.journal.write_plan(round_index, plan)
    dist.barrier()
    stored = pool.journal.read_plan(round_index)
    differ = config_differences(stored.get("config") or {}, plan["config"])
    if differ:
        raise ValueError(f"round {round_index} in progress ({pool.journal.folder(round_index) / 'plan.json'}) was "
                         f"started with {differ}: finish it with the same configuration or delete that folder")
    return stored


def _score(name, logits, out_size, blocked, plan, weights, active, generators):
    if name != "random":
        return strategy_scores(name, logits, out_size=out_size, blocked=blocked, score_radius=plan["score_radius"],
                               uncertainty_radius=plan["uncertainty_radius"], class_weights=weights,
                               sigma=float(active.SIGMA), soft_weights=bool(active.SOFT_WEIGHTS))
    return torch.cat([strategy_scores(name, logits[j:j + 1], out_size=out_size, blocked=blocked[j:j + 1],
                                      generator=g) for j, g in enumerate(generators)])


def _blocked_pixels(pool, group, height, width, radius, device):
    """(B, H, W) bool: the annotated pixels of ``group``'s images dilated by ``radius``."""
    labeled = torch.zeros((len(group), height, width), dtype=torch.bool)
    for j, it in enumerate(group):
        mask = pool.labeled_mask(it["name"])
        if mask is not None:
            if mask.shape != (height, width):
                raise PoolError(f"{it['name']}: the pool's mask is {list(mask.shape)}, the image's label grid "
                                f"{[height, width]}")
            labeled[j] = torch.from_numpy(mask)
    return dilate(labeled.to(device), radius)


@torch.no_grad()
def select_batches(cfg, model, pool, round_index, batches, *, device, weights, seed, timings=None):
    """The selection of round ``round_index`` over ``batches`` (lists of select-mode items), without any oracle.

    Yields, per image: (item, plan, centers (n, 2) int64 CPU tensor of the picks (row, col), selected (H, W) bool
    ndarray), the pixel count checked against the windows and the budget (``BudgetError``). ``timings``, a
    two-element list, accumulates forward and scoring+selection seconds. The in-process round and the export for
    human annotators (``annotation.select_queries``) both select through here, so they pick the same regions."""
    active = cfg.ACTIVE
    name = active.NAME
    amp_dtype = autocast_dtype(cfg.SOLVER.AMP, device)
    for items in batches:
        groups = {}  # a forward pass shares one out_size: group the batch by label size
        for it in items:
            groups.setdefault(tuple(it["label"].shape[-2:]), []).append(it)
        for (H, W), group in groups.items():
            plan = round_plan(active, round_index, H, W)
            t0 = time.perf_counter()
            image = torch.stack([it["image"] for it in group]).to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(image)
            if active.UPSAMPLE_VIA_INPUT:  # the published two-step upsampling (see the module doc)
                logits = upsample_to(logits.float(), image.shape[-2:])
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t1 = time.perf_counter()
            blocked = _blocked_pixels(pool, group, H, W, plan["block"], device)
            generators = [torch.Generator().manual_seed(image_seed(seed, round_index, it["index"])) for it in group]
            score = _score(name, logits, (H, W), blocked, plan, weights, active, generators)
            centers, selected, _ = select_regions(score, plan["count"], radius=plan["radius"],
                                                  exclusion_radius=plan["exclusion"])
            centers, selected = centers.cpu(), selected.cpu()
            if timings is not None:
                timings[0] += t1 - t0
                timings[1] += time.perf_counter() - t1
            for j, it in enumerate(group):
                picked = centers[j][(centers[j] >= 0).all(-1)]
                sel = selected[j].numpy()
                expected = window_area(picked, plan["radius"], H, W)
                bought = int(sel.sum())
                if bought != expected or bought > plan["budget_pixels"]:
                    raise BudgetError(
                        f"round {round_index}, {it['name']}: {bought} pixels selected, {len(picked)} windows cover "
                        f"{expected} in-image pixels, budget {plan['budget_pixels']}")
                yield it, plan, picked, sel


def _select_images(cfg, model, pool, round_index, indices, *, dataset, device, weights, seed, progress,
                   num_workers):
    """Score, select, label (oracle) and journal the target images ``indices`` (this rank's, not done yet).
    Returns (forward seconds, selection seconds)."""
    from tqdm import tqdm
    active = cfg.ACTIVE
    # its own generator: iterating must not draw from the global RNG, which a resumed run restores
    loader = DataLoader(Subset(dataset, indices), batch_size=max(1, int(active.BATCH_SIZE)), shuffle=False,
                        collate_fn=collate_items, generator=torch.Generator().manual_seed(0),
                        num_workers=int(cfg.SOLVER.NUM_WORKERS if num_workers is None else num_workers))
    bar = tqdm(loader, desc=f"select round {round_index + 1}/{len(active.SELECT_ITER)} ({active.NAME})",
               disable=not progress, leave=False, unit="batch")
    timings = [0.0, 0.0]
    for it, plan, picked, sel in select_batches(cfg, model, pool, round_index, bar, device=device, weights=weights,
                                                seed=seed, timings=timings):
        labels = oracle_labels(dataset, it["index"]) if sel.any() else np.full(sel.shape, 255, np.uint8)
        added = pool.stage_annotations(round_index, it["name"], it["index"], sel, labels, len(picked),
                                       regions_requested=plan["count"], budget_pixels=plan["budget_pixels"],
                                       class_pixels=class_histogram(labels[sel], int(cfg.MODEL.NUM_CLASSES)))
        assert added == int(sel.sum())
        crash_point("select_image")
    return tuple(timings)


def class_histogram(labels, num_classes):
    """[pixels of class 0, ..., of class C-1, ignored pixels] of the label values ``labels`` (a numpy array)."""
    counts = np.bincount(labels.ravel(), minlength=256)
    return [int(c) for c in counts[:num_classes]] + [int(counts[num_classes:].sum())]


def _sum_class_pixels(entries):
    """The elementwise sum of the journal entries' "class_pixels", or None if one lacks it (journaled before the
    histogram was recorded)."""
    histograms = [e.get("class_pixels") for e in entries]
    if not histograms or any(h is None for h in histograms):
        return None
    return [int(sum(column)) for column in zip(*histograms)]


def _commit(pool, round_index, record, num_images, my_indices):
    """All ranks agree on the round: rank 0 writes commit.json from every rank's journal, each rank publishes its
    own images' masks, rank 0 writes the manifest, and every rank reloads the committed pool."""
    dist.barrier()
    if dist.is_main():
        pool.prepare_commit(round_index, record, num_images)
    dist.barrier()
    done = pool.journal.done(round_index)
    pool.journal.publish(round_index, [done[i]["name"] for i in my_indices])
    dist.barrier()
    if dist.is_main():
        pool.finish_commit(round_index)
    dist.barrier()
    if not dist.is_main():
        pool.reload()
    return pool.rounds[round_index]


def run_selection_round(cfg, model, pool, round_index, iteration, *, device, per_class_iou=None, iou_source="none",
                        class_support=None, dataset=None, seed=0, progress=True, num_workers=None):
    """Run selection round ``round_index`` (0-based) at training ``iteration`` and commit it to ``pool``.

    per_class_iou: (C,) IoU fractions (NaN allowed) for AL-DWACA's dynamic weights, None = uniform.
    iou_source: where it came from ("pool", "val", "none"), recorded in the manifest.
    class_support: (C,) labelled pixels per class behind ``per_class_iou`` (ACTIVE.WEIGHT_MODE shrunk), or None.
    dataset: the target training set in "select" mode whose ``annotation_provider`` is the pool (built if None).
    seed: base seed of the random strategy (each image's generator is seeded with ``image_seed``).

    Crash-safe and shardable: each image is journaled in the pool's round folder as soon as it is selected, so a
    rerun after a crash continues the round where it stopped (its plan, class weights included, is kept); in a
    ``torchrun`` run, image i is scored by rank i % world and the ranks commit together. Every rank gets the
    round's manifest record.
    """
    check_active_config(cfg)  # before anything is written: a bad budget must not leave a plan.json behind
    active = cfg.ACTIVE
    name = active.NAME
    if pool.rounds_done != round_index:
        raise PoolError(f"round {round_index} requested but the pool at {pool.root} has {pool.rounds_done} rounds")
    if dataset is None:
        dataset = build_select_dataset(cfg, pool)
    weights = class_weights_for(name, per_class_iou, int(cfg.MODEL.NUM_CLASSES), active.WEIGHT_MODE, class_support)
    # full precision (JSON round-trips floats exactly): the export path selects with these very weights
    plan = _start_round(pool, round_index, {
        "index": round_index, "config": _round_config(active, iteration, len(dataset)), "iou_source": iou_source,
        "class_weights": weights.tolist()})
    weights = torch.tensor(plan["class_weights"], dtype=torch.float32)
    my_indices = dist.shard(range(len(dataset)))
    done = pool.journal.done(round_index)
    todo = [i for i in my_indices if i not in done]

    was_training = model.training
    model.eval()
    t_round = time.perf_counter()
    try:
        times = _select_images(cfg, model, pool, round_index, todo, dataset=dataset, device=device,
                               weights=weights, seed=seed, progress=progress and dist.is_main(),
                               num_workers=num_workers)
    finally:
        model.train(was_training)
    gathered = dist.all_gather_object((times[0], times[1], len(todo)))
    selected_now = max(sum(g[2] for g in gathered), 1)
    seconds = time.perf_counter() - t_round
    record = {"index": round_index, "iteration": int(iteration), "strategy": name, "setting": active.SETTING,
              "radius": int(active.RADIUS_K), "images": len(dataset), "iou_source": plan["iou_source"],
              "class_weights": plan["class_weights"], "seconds": round(seconds, 3),
              "forward_s_per_image": round(sum(g[0] for g in gathered) / selected_now, 5),
              "select_s_per_image": round(sum(g[1] for g in gathered) / selected_now, 5)}
    if dist.is_main():
        journal = pool.journal.done(round_index).values()
        record["regions"] = sum(int(e["regions"]) for e in journal)
        record["regions_requested"] = sum(int(e.get("regions_requested", 0)) for e in journal)
        class_pixels = _sum_class_pixels(list(journal))
        if class_pixels is not None:  # ground-truth classes of the pixels bought: the last entry is ignored pixels
            record["class_pixels"] = class_pixels
    record = _commit(pool, round_index, record, len(dataset), my_indices)
    budget_total = record["budget_pixels"]
    if record["regions"] < record["regions_requested"]:
        logger.warning("round %d: only %d of %d regions found (no unannotated candidates left)", round_index + 1,
                       record["regions"], record["regions_requested"])
    logger.info("selection round %d/%d at iteration %d (%s, %s): %d regions, %d pixels bought (budget %d), pool "
                "%d / %d pixels; %.1f s, per image %.1f ms forward + %.1f ms scoring/selection",
                round_index + 1, len(active.SELECT_ITER), iteration, name, active.SETTING, record["regions"],
                record["pixels"], budget_total, pool.pixels_total, pool.budget_pixels, seconds,
                1e3 * record["forward_s_per_image"], 1e3 * record["select_s_per_image"])
    return record


__all__ = ["build_select_dataset", "collate_items", "image_seed", "oracle_labels", "run_selection_round",
           "select_batches"]
