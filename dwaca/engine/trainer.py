"""The active domain adaptation training loop (RIPU's recipe) with DWACA / RIPU / entropy / random selection.

Each iteration ``it`` (1-based, up to SOLVER.STOP_ITER; the poly schedule runs over SOLVER.MAX_ITER):

1. one source batch and one target batch: supervised source loss, target cross-entropy on the annotated pixels
   only (the target dataset reads labels through the pool), RIPU's negative learning on target predictions and
   local consistency on the source, weighted by cfg.SOLVER (``dwaca.losses.adaptation_losses``); SGD with the head
   at 10x the backbone rate; bf16/fp16 autocast on CUDA when SOLVER.AMP is set;
2. a checkpoint ``OUTPUT_DIR/model_iter{it:06d}.pth`` every SOLVER.CHECKPOINT_PERIOD and at the end;
3. if ``it`` is the next ACTIVE.SELECT_ITER and training goes on: a selection round
   (``dwaca.active.run_selection_round``) buys the round's budget into the labelled pool ``OUTPUT_DIR/pool``.
   As in RIPU's loop, round r thus sees the model after exactly SELECT_ITER[r] optimizer steps and is recorded at
   that iteration. A round due at STOP_ITER is left to the run that resumes from the final checkpoint (it runs
   before that run's first step; in between, the round can be answered by hand, ``dwaca.active.annotation``).

Per-class IoU for the dynamic weights (AL-DWACA), ACTIVE.IOU_SOURCE:

* "pool" (default): the confusion matrix of the model's training-time predictions (argmax of the upsampled target
  logits) on the annotated target pixels, accumulated over the iterations since the previous round and reset after
  each round; no annotated pixel yet (round 1) -> uniform weights. Only labels the run has bought are used.
* "val": the model is evaluated on DATASETS.TEST before the round. That is test-set leakage (the published code
  does it); it is logged as such and meant only for reproducing published numbers.

Resume (yacs key ``resume``, as RIPU): model, optimizer (momentum), AMP scaler, iteration, the LR schedule (a
function of the iteration), the RNG states, the training confusion and the data order (an epoch-seeded
permutation, skipped to the position) are restored; the pool is re-read from disk and verified, and rounds it
already holds are never redone. If the pool is ahead of the checkpoint (a crash between a round and the next
checkpoint) the pool wins: its rounds are kept, with a warning. Augmentation draws are bit-exact across a resume
with SOLVER.NUM_WORKERS 0 (they then come from the restored global RNG); with workers, each epoch's worker seeds
derive from the run seed and the position.

``resume auto`` resumes from the newest checkpoint in OUTPUT_DIR (a fresh start if there is none), so one command
can be rerun until the run is complete. Each selection round starts from a checkpoint of its iteration (the
periodic one when SELECT_ITER is a multiple of SOLVER.CHECKPOINT_PERIOD, otherwise one written for it), so a crash
after a round never resumes from a state that trained without the round's labels; a round interrupted by a crash
continues from its journal (``dwaca.active.pool``), and the result equals an uninterrupted run's.

SEED -1 (the default) draws a seed, on rank 0 in a distributed run, shared with every rank and saved in the
checkpoints; a resumed run uses the saved one. Each rank's RNG states are saved and restored by rank.

Distributed (``torchrun --nproc_per_node=N tools/train.py ...``, see ``dwaca.engine.distributed``): the model is
wrapped in DistributedDataParallel, rank r trains on every world-th sample of each epoch's permutation, the test
set and the selection round are sharded the same way, and confusion matrices are summed over ranks (the one the
dynamic weights use is saved summed, on rank 0). Only rank 0 writes checkpoints, logs and results.

MODEL.DEVICE "cuda" without a visible CUDA device is an error (``DeviceError``) rather than a silent CPU fallback:
a full-size config would otherwise run for weeks on the CPU. Pass ``MODEL.DEVICE cpu`` explicitly.
"""
import logging
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from yacs.config import CfgNode

from ..active import LabelPool, PoolError, run_selection_round
from ..active.annotation import check_active_config
from ..active.pool import atomic_write_json, crash_point
from ..active.selection import budget_config, build_select_dataset, config_differences
from ..config import make_dir, unused_settings
from ..losses import adaptation_losses, upsample_to
from . import distributed as dist
from .checkpoint import (check_finite_model, check_model_config, checkpoint_path, latest_checkpoint, load_checkpoint,
                         load_model_state, rng_state, save_checkpoint, set_rng_state)
from .evaluator import evaluate
from .metrics import MIOU13_OF_16, ConfusionMatrix, format_table, mean_iou
from .solver import build_optimizer, set_poly_lr

LOGGER_NAME = "dwaca"


class DeviceError(RuntimeError):
    """MODEL.DEVICE names a device this machine does not have."""


# -- set-up ----------------------------------------------------------------------------------------------------------
def setup_logger(output_dir=None, name=LOGGER_NAME, filename="log.txt"):
    """The package logger: INFO to stdout and, with ``output_dir``, to ``output_dir/filename`` (appended).
    Handlers installed by an earlier call are replaced, so repeated runs in one process do not duplicate lines."""
    log = logging.getLogger(name)
    log.setLevel(logging.INFO if dist.is_main() else logging.WARNING)  # one rank tells the story
    log.propagate = False
    for h in list(log.handlers):
        if getattr(h, "_dwaca", False):
            log.removeHandler(h)
            h.close()
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s", "%H:%M:%S")
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    stream._dwaca = True
    log.addHandler(stream)
    if output_dir:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(Path(output_dir) / filename)
        fh.setFormatter(fmt)
        fh._dwaca = True
        log.addHandler(fh)
    return log


def resolve_device(cfg):
    """torch.device of MODEL.DEVICE; DeviceError if it asks for CUDA that is not there."""
    name = str(cfg.MODEL.DEVICE)
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"MODEL.DEVICE is '{name}' but CUDA is not available on this machine; "
                          "run with `MODEL.DEVICE cpu` (slow for full-size configs)")
    if device.type == "cuda" and device.index is None and dist.world_size() > 1:
        device = torch.device("cuda", dist.local_rank())
    return device


def seed_everything(seed):
    """Seed python, numpy and torch; a negative seed draws one (returned, so it can be logged and saved). In a
    distributed run every rank calls it and rank 0's draw is used by all: the data shards and the strategies'
    draws only fit together when the ranks share the seed."""
    seed = int(seed)
    if seed < 0:
        seed = dist.broadcast_object(int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    return seed


class BatchStream:
    """An endless stream of batches with an exact, restorable position.

    Epoch e visits the dataset in the permutation drawn from ``seed`` and e; rank r of ``world`` takes its
    elements r, r + world, ... (DistributedSampler-style: no overlap, the tail that does not divide is dropped).
    ``position`` counts the batches delivered so far (drop_last, so every epoch has
    ``len(dataset) // world // batch_size`` of them). Starting at a position
    skips to it without loading the skipped samples. ``reset()`` drops prefetched batches so the next ones are
    read afresh (after the labelled pool changed).
    """

    def __init__(self, dataset, batch_size, seed, num_workers=0, position=0, pin_memory=False, rank=0, world=1):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.rank, self.world = int(rank), int(world)
        self.per_epoch = len(dataset) // self.world // self.batch_size
        if self.per_epoch == 0:
            raise ValueError(f"{dataset!r} has {len(dataset)} samples, fewer than one batch of {self.batch_size} "
                             f"on each of {self.world} ranks")
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.position = int(position)
        self._it = None

    def _epoch_iterator(self):
        epoch, offset = divmod(self.position, self.per_epoch)
        perm = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))
        indices = perm[self.rank::self.world][offset * self.batch_size: self.per_epoch * self.batch_size].tolist()
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=indices, drop_last=True,
                            num_workers=self.num_workers, pin_memory=self.pin_memory,
                            generator=torch.Generator().manual_seed(self.seed * 7919 + self.position))
        return iter(loader)

    def next(self):
        if self._it is None:
            self._it = self._epoch_iterator()
        try:
            batch = next(self._it)
        except StopIteration:
            self._it = self._epoch_iterator()
            batch = next(self._it)
        self.position += 1
        return batch

    def reset(self):
        self._it = None


def _nan_to_none(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    return x


# -- evaluation ------------------------------------------------------------------------------------------------------
def build_test_loader(cfg, batch_size=None):
    """Loader over this rank's share of DATASETS.TEST (all of it in a single process) and the whole dataset;
    ``batch_size`` defaults to TEST.BATCH_SIZE."""
    from ..data import build_dataset
    dataset = build_dataset(cfg, cfg.DATASETS.TEST, "test")
    part = dataset if dist.world_size() == 1 else Subset(dataset, dist.shard(range(len(dataset))))
    batch_size = cfg.TEST.BATCH_SIZE if batch_size is None else batch_size
    # Its own generator: iterating a loader draws a seed, which must not advance the training's global RNG.
    return DataLoader(part, batch_size=max(1, int(batch_size)), shuffle=False, num_workers=int(cfg.SOLVER.NUM_WORKERS),
                      generator=torch.Generator()), dataset


def evaluate_on_test(cfg, model, device, loader=None, batch_size=None):
    """Evaluate on DATASETS.TEST (with TEST.FLIP, on the image and its flip): evaluator's dict plus "mIoU13" for
    16-class models. ``batch_size`` as ``build_test_loader``'s."""
    from ..data import class_names
    if loader is None:
        loader, _ = build_test_loader(cfg, batch_size)
    num_classes = int(cfg.MODEL.NUM_CLASSES)
    res = evaluate(model, loader, num_classes, device, class_names(num_classes), flip=bool(cfg.TEST.FLIP))
    if dist.world_size() > 1:  # each rank saw its shard: score the summed confusion
        confusion = res["confusion"]
        dist.all_reduce_tensor(confusion.mat)
        iou, res["mIoU"], res["pixel_acc"] = confusion.compute()
        res["per_class_iou"] = dict(zip(class_names(num_classes), iou.tolist()))
    if num_classes == 16:
        iou = torch.tensor([res["per_class_iou"][n] for n in class_names(16)], dtype=torch.float64)
        res["mIoU13"] = mean_iou(iou, MIOU13_OF_16)
    return res


def results_table(cfg, res, title=""):
    from ..data import class_names
    names = class_names(int(cfg.MODEL.NUM_CLASSES))
    table = format_table(names, torch.tensor([res["per_class_iou"][n] for n in names], dtype=torch.float64), title)
    if "mIoU13" in res:
        table += f"\n{'mIoU13':<{max(len(n) for n in names)}}  {100 * res['mIoU13']:6.2f}"
    return table


def write_results(output_dir, res, filename="results.json", **extra):
    """``output_dir/filename`` (atomic): mIoU, per_class_iou {name: IoU or null}, pixel_acc, [mIoU13], extra."""
    out = {"mIoU": res["mIoU"], "per_class_iou": res["per_class_iou"], "pixel_acc": res["pixel_acc"]}
    if "mIoU13" in res:
        out["mIoU13"] = res["mIoU13"]
    out.update(extra)
    path = Path(output_dir) / filename
    atomic_write_json(path, _nan_to_none(out))
    return path


# -- training --------------------------------------------------------------------------------------------------------
def _amp_settings(cfg, device, log):
    amp = str(cfg.SOLVER.AMP or "")
    if amp not in ("", "bf16", "fp16"):
        raise ValueError(f"SOLVER.AMP must be '', 'bf16' or 'fp16', got '{amp}'")
    if amp and device.type != "cuda":
        log.warning("SOLVER.AMP '%s' ignored on %s (mixed precision is used on CUDA only)", amp, device)
        amp = ""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
    return dtype, scaler


def check_budget_unchanged(path, state, cfg):
    """ValueError naming the keys if a run that has bought labels resumes from checkpoint ``path`` (``state``) with
    another selection budget: its earlier rounds were planned with the checkpoint's."""
    if not state.get("config"):
        return
    differ = config_differences(budget_config(CfgNode.load_cfg(state["config"]).ACTIVE), budget_config(cfg.ACTIVE))
    if differ:
        raise ValueError(f"checkpoint {path} was trained with {differ}: a run that has bought labels keeps its "
                         "selection budget; resume with the checkpoint's values or start a fresh OUTPUT_DIR")


def resolve_resume(cfg, output_dir):
    """The checkpoint to resume from: ``resume`` itself, or with ``resume auto`` the newest checkpoint in
    ``output_dir`` (None if there is none: a fresh start). None when ``resume`` is empty."""
    if str(cfg.resume) == "auto":
        return latest_checkpoint(output_dir)
    return Path(cfg.resume) if cfg.resume else None


def open_pool(root, num_classes):
    """The labelled pool, opened by rank 0 first: opening finishes a commit a crash interrupted, which only one
    process may do."""
    pool = LabelPool(root, num_classes=num_classes, recover=True) if dist.is_main() else None
    dist.barrier()
    return pool or LabelPool(root, num_classes=num_classes)


def summed_confusion(confusion):
    """(C, C) sum of every rank's ``confusion.mat`` (a copy; the local matrix is left as it is)."""
    return dist.all_reduce_tensor(confusion.mat.clone())


def round_class_iou(cfg, model, device, train_conf, log):
    """(per-class IoU or None, its source) for the dynamic weights of the next round (ACTIVE.IOU_SOURCE)."""
    if cfg.ACTIVE.NAME != "AL-DWACA":
        return None, "none"
    if cfg.ACTIVE.IOU_SOURCE == "val":
        log.warning("ACTIVE.IOU_SOURCE=val: the dynamic class weights use IoU measured on %s, the evaluation set "
                    "(TEST-SET LEAKAGE; only for reproducing published numbers)", cfg.DATASETS.TEST)
        res = evaluate_on_test(cfg, model, device, batch_size=cfg.SOLVER.BATCH_SIZE_VAL)
        return torch.tensor(list(res["per_class_iou"].values())), "val"
    if cfg.ACTIVE.IOU_SOURCE != "pool":
        raise ValueError(f"ACTIVE.IOU_SOURCE must be 'pool' or 'val', got '{cfg.ACTIVE.IOU_SOURCE}'")
    total = ConfusionMatrix(train_conf.num_classes, train_conf.mat.device)
    total.mat.copy_(summed_confusion(train_conf))
    if total.mat.sum() == 0:
        return None, "none"
    return total.compute()[0], "pool"


def train(cfg, log=None):
    """Train (and select) according to ``cfg``, evaluate on DATASETS.TEST, write results.json; returns
    {"results": evaluator dict, "output_dir", "iteration", "rounds_done", "checkpoint", "seed"}. In a distributed run
    (process group initialised, see ``dwaca.engine.distributed``) every rank calls it."""
    from ..data import build_dataset
    from ..models import build_model

    check_active_config(cfg)
    if not cfg.OUTPUT_DIR:
        raise ValueError("OUTPUT_DIR is empty; pass `OUTPUT_DIR <dir>`")
    output_dir = Path(cfg.OUTPUT_DIR)
    main = dist.is_main()
    if main:
        output_dir.mkdir(parents=True, exist_ok=True)
    log = log or setup_logger(output_dir if main else None)
    device = resolve_device(cfg)
    if main:
        (output_dir / "config.yaml").write_text(cfg.dump())
        for torn in output_dir.glob(".model_iter*.tmp"):  # a checkpoint write that was killed
            torn.unlink()

    resume = resolve_resume(cfg, output_dir)
    state = None
    if resume is not None:
        state = load_checkpoint(resume, map_location="cpu")
        check_model_config(resume, state, cfg)
        seed = state.get("seed")
        seed = seed_everything(cfg.SEED if seed is None else seed)
    else:
        seed = seed_everything(cfg.SEED)
    log.info("output dir %s, device %s, seed %d, strategy %s %s, %d threads, rank %d of %d", output_dir, device,
             seed, cfg.ACTIVE.NAME, cfg.ACTIVE.SETTING, torch.get_num_threads(), dist.rank(), dist.world_size())
    for key in unused_settings(cfg):
        log.warning("%s is set but has no effect here (kept so RIPU's configs load)", key)

    num_classes = int(cfg.MODEL.NUM_CLASSES)
    pool = open_pool(output_dir / "pool", num_classes)
    if state is None and pool.rounds_done:
        raise PoolError(f"{pool.root} already holds {pool.rounds_done} selection rounds; continue that run with "
                        f"`resume {output_dir}/model_iterNNNNNN.pth` (or `resume auto`) or use a fresh OUTPUT_DIR")
    model = build_model(cfg).to(device)
    optimizer = build_optimizer(model, cfg.SOLVER)
    amp_dtype, scaler = _amp_settings(cfg, device, log)
    train_conf = ConfusionMatrix(num_classes, device)

    select_iters = [int(i) for i in cfg.ACTIVE.SELECT_ITER]
    n_rounds = len(select_iters)
    start_iter = 0
    if state is not None:
        load_model_state(model, state, resume)
        if state.get("optimizer") is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start_iter = int(state["iteration"])
        ckpt_rounds = int(state.get("rounds_done", 0))
        if pool.rounds_done:
            check_budget_unchanged(resume, state, cfg)
        if pool.rounds_done < ckpt_rounds:
            raise PoolError(f"checkpoint {resume} has {ckpt_rounds} selection rounds done but the pool at "
                            f"{pool.root} holds {pool.rounds_done}; resume with the OUTPUT_DIR of the interrupted run")
        # saved summed over ranks: rank 0 carries it, so the next sum over ranks counts it once
        if state.get("train_confusion") is not None and pool.rounds_done == ckpt_rounds and main:
            train_conf.mat.copy_(state["train_confusion"].to(device))
        if pool.rounds_done > ckpt_rounds:
            log.warning("the pool holds %d rounds, the checkpoint %d: keeping the pool's rounds (not redone)",
                        pool.rounds_done, ckpt_rounds)
        set_rng_state(state.get("rng"))
        log.info("resumed from %s at iteration %d with %d/%d rounds done", resume, start_iter,
                 pool.rounds_done, n_rounds)
    rounds_done = pool.rounds_done
    del state
    trained = DistributedDataParallel(model) if dist.world_size() > 1 else model

    source = build_dataset(cfg, cfg.DATASETS.SOURCE_TRAIN, "train_source")
    target = build_dataset(cfg, cfg.DATASETS.TARGET_TRAIN, "train_target", annotation_provider=pool.annotation_provider)
    select_set = build_select_dataset(cfg, pool)
    workers = int(cfg.SOLVER.NUM_WORKERS)
    bs = int(cfg.SOLVER.BATCH_SIZE)
    pin = device.type == "cuda"
    shard = dict(rank=dist.rank(), world=dist.world_size())
    src_stream = BatchStream(source, bs, seed, workers, position=start_iter, pin_memory=pin, **shard)
    tgt_stream = BatchStream(target, bs, seed + 1, workers, position=start_iter, pin_memory=pin, **shard)
    log.info("source %s: %d images, target %s: %d images, test %s; %d selection rounds at %s",
             cfg.DATASETS.SOURCE_TRAIN, len(source), cfg.DATASETS.TARGET_TRAIN, len(target), cfg.DATASETS.TEST,
             n_rounds, select_iters)

    def checkpoint(iteration):
        """Every rank calls it (the confusion is summed over ranks, the RNG states gathered); rank 0 writes."""
        check_finite_model(model, iteration)  # every rank holds the same weights, so all raise alike
        conf = summed_confusion(train_conf)
        rng = dist.all_gather_object(rng_state())
        if not main:
            return None
        crash_point("checkpoint")
        path = save_checkpoint(checkpoint_path(output_dir, iteration), model=model, optimizer=optimizer,
                               iteration=iteration, rounds_done=rounds_done, cfg=cfg, scaler=scaler,
                               train_confusion=conf, seed=seed, rng=rng)
        log.info("saved %s", path)
        return path

    stop_iter, max_iter = int(cfg.SOLVER.STOP_ITER), int(cfg.SOLVER.MAX_ITER)
    period = max(1, int(cfg.SOLVER.CHECKPOINT_PERIOD))
    log_period = max(1, min(20, stop_iter // 10 or 1))
    last_ckpt = None
    saved_iter = start_iter if resume is not None else -1  # -1: a fresh run's iteration 0 is not on disk

    def select_due(iteration):
        """The selection rounds due after ``iteration`` steps (RIPU: round r sees the model trained
        ACTIVE.SELECT_ITER[r] steps), each after a checkpoint of the state it starts from."""
        nonlocal rounds_done, last_ckpt, saved_iter
        while rounds_done < n_rounds and select_iters[rounds_done] <= iteration:
            if saved_iter < iteration:
                last_ckpt, saved_iter = checkpoint(iteration), iteration
            per_class_iou, iou_source = round_class_iou(cfg, model, device, train_conf, log)
            run_selection_round(cfg, model, pool, rounds_done, iteration, device=device, per_class_iou=per_class_iou,
                                iou_source=iou_source, dataset=select_set, seed=seed)
            rounds_done += 1
            train_conf.reset()
            tgt_stream.reset()
            model.train()

    # A round is bought only when training continues after it, so a run stopped at a round's iteration (crash,
    # preemption, or STOP_ITER set there to answer the round by hand) leaves it to the run that resumes.
    t_start = time.perf_counter()
    if start_iter < stop_iter:
        select_due(start_iter)
    model.train()
    t_window = time.perf_counter()
    it = start_iter
    for it in range(start_iter + 1, stop_iter + 1):
        # 1. one step
        crash_point("train_step")
        lr = set_poly_lr(optimizer, cfg.SOLVER.BASE_LR, it - 1, max_iter, cfg.SOLVER.LR_POWER)
        src, tgt = src_stream.next(), tgt_stream.next()
        src_img = src["image"].to(device, non_blocking=True)
        src_lbl = src["label"].to(device, non_blocking=True)
        tgt_img = tgt["image"].to(device, non_blocking=True)
        tgt_lbl = tgt["label"].to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        if amp_dtype is not None:
            with torch.autocast("cuda", dtype=amp_dtype):
                src_logits, tgt_logits = trained(src_img), trained(tgt_img)
            src_logits, tgt_logits = src_logits.float(), tgt_logits.float()
        else:
            src_logits, tgt_logits = trained(src_img), trained(tgt_img)
        losses = adaptation_losses(src_logits, src_lbl, tgt_logits, tgt_lbl, cfg.SOLVER)
        if not torch.isfinite(losses["total"]):
            raise FloatingPointError(f"non-finite loss at iteration {it}: "
                                     f"{ {k: v.item() for k, v in losses.items()} }")
        if scaler is not None:
            scaler.scale(losses["total"]).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            losses["total"].backward()
            optimizer.step()
        if (tgt_lbl != 255).any():
            with torch.no_grad():
                train_conf.update(upsample_to(tgt_logits.detach(), tgt_lbl.shape[-2:]).argmax(1), tgt_lbl)

        if it % log_period == 0 or it == stop_iter:
            dt = (time.perf_counter() - t_window) / log_period
            t_window = time.perf_counter()
            eta = dt * (stop_iter - it)
            log.info("iter %d/%d  lr %.2e  %s  %.2f s/iter  eta %.0f s", it, stop_iter, lr,
                     "  ".join(f"{k} {v.item():.4f}" for k, v in losses.items()), dt, eta)

        # 2. checkpoint
        if it % period == 0 or it == stop_iter:
            last_ckpt, saved_iter = checkpoint(it), it

        # 3. selection rounds due after this step
        if it < stop_iter:
            select_due(it)
    train_seconds = time.perf_counter() - t_start
    if rounds_done < n_rounds:
        log.warning("training stopped at iteration %d with %d of %d selection rounds done", it, rounds_done,
                    n_rounds)

    res = evaluate_on_test(cfg, model, device, batch_size=cfg.SOLVER.BATCH_SIZE_VAL)
    out = {"results": res, "output_dir": str(output_dir), "iteration": it, "rounds_done": rounds_done,
           "checkpoint": str(last_ckpt) if last_ckpt else None, "train_seconds": train_seconds, "seed": seed}
    if not main:
        return out
    table = results_table(cfg, res, title=f"{cfg.ACTIVE.NAME} {cfg.ACTIVE.SETTING} on {cfg.DATASETS.TEST}, "
                                         f"iteration {it}")
    log.info("\n%s", table)  # the logger writes to stdout too
    path = write_results(output_dir, res, iteration=it, checkpoint=out["checkpoint"],
                         strategy=cfg.ACTIVE.NAME, setting=cfg.ACTIVE.SETTING, rounds_done=rounds_done,
                         pixels_total=pool.pixels_total, budget_pixels=pool.budget_pixels,
                         train_seconds=round(train_seconds, 2), dataset=cfg.DATASETS.TEST)
    log.info("mIoU %.2f%%, results written to %s", 100 * res["mIoU"], path)
    return out


def test_checkpoint(cfg, log=None):
    """Evaluate the checkpoint ``cfg.resume`` (``auto``: the newest in OUTPUT_DIR) on DATASETS.TEST; write
    OUTPUT_DIR/test_results.json (not results.json: OUTPUT_DIR may be the training run's, whose results.json holds
    the run's record); return the dict. Bad arguments are refused before OUTPUT_DIR gets a test_log.txt."""
    from ..models import build_model
    if not cfg.resume:
        raise ValueError("pass the checkpoint to evaluate as `resume <path>` (or `resume auto`: the newest in "
                         "OUTPUT_DIR)")
    if not cfg.OUTPUT_DIR:
        raise ValueError("OUTPUT_DIR is empty; pass `OUTPUT_DIR <dir>`")
    checkpoint = resolve_resume(cfg, cfg.OUTPUT_DIR)
    if checkpoint is None:  # unlike training, there is nothing to start from
        raise FileNotFoundError(f"resume auto: no model_iter*.pth checkpoint in OUTPUT_DIR {cfg.OUTPUT_DIR}")
    log = log or setup_logger(make_dir(cfg.OUTPUT_DIR, "OUTPUT_DIR"), filename="test_log.txt")
    device = resolve_device(cfg)
    state = load_checkpoint(checkpoint, map_location="cpu")
    check_model_config(checkpoint, state, cfg)
    model = build_model(cfg).to(device)
    load_model_state(model, state, checkpoint)
    res = evaluate_on_test(cfg, model, device)
    table = results_table(cfg, res, title=f"{checkpoint} on {cfg.DATASETS.TEST}")
    log.info("\n%s", table)  # the logger writes to stdout too
    path = write_results(cfg.OUTPUT_DIR, res, "test_results.json", iteration=int(state["iteration"]),
                         checkpoint=str(checkpoint), dataset=cfg.DATASETS.TEST)
    log.info("mIoU %.2f%%, results written to %s", 100 * res["mIoU"], path)
    return res


test_checkpoint.__test__ = False  # not a pytest test

__all__ = ["BatchStream", "DeviceError", "build_test_loader", "evaluate_on_test", "resolve_device", "resolve_resume",
           "results_table", "seed_everything", "setup_logger", "test_checkpoint", "train", "write_results"]
