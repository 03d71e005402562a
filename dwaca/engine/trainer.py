"""The active domain adaptation training loop (RIPU's recipe) with DWACA / RIPU / entropy / random selection.

Each iteration ``it`` (1-based, up to SOLVER.STOP_ITER; the poly schedule runs over SOLVER.MAX_ITER):

1. one source batch and one target batch: supervised source loss, target cross-entropy on the annotated pixels
   only (the target dataset reads labels through the pool), RIPU's negative learning on target predictions and
   local consistency on the source, weighted by cfg.SOLVER (``dwaca.losses.adaptation_losses``); SGD with the head
   at 10x the backbone rate; bf16/fp16 autocast on CUDA when SOLVER.AMP is set;
2. a checkpoint ``OUTPUT_DIR/model_iter{it:06d}.pth`` every SOLVER.CHECKPOINT_PERIOD and at the end; older ones
   beyond SOLVER.KEEP_CHECKPOINTS are deleted, the rounds' kept with SOLVER.KEEP_ROUND_CHECKPOINTS;
3. if ``it`` is the next ACTIVE.SELECT_ITER and training goes on: a selection round
   (``dwaca.active.run_selection_round``) buys the round's budget into the labelled pool ``OUTPUT_DIR/pool``.
   As in RIPU's loop, round r thus sees the model after exactly SELECT_ITER[r] optimizer steps and is recorded at
   that iteration. A round due at STOP_ITER is left to the run that resumes from the final checkpoint (it runs
   before that run's first step; in between, the round can be answered by hand, ``dwaca.active.annotation``).

The source batches follow DATASETS.SOURCE_SAMPLING: "class_balanced" (the published list, rare classes drawn far
more often; ``dwaca.data.class_balance``) or "uniform" (every source image once per epoch); either list is visited
in a seeded permutation per epoch. The target stream is uniform.

Losses, learning rate, rounds and evaluations go to ``OUTPUT_DIR/metrics.jsonl`` (and TensorBoard with
LOG.TENSORBOARD; ``dwaca.engine.metrics_log``).

The loop is ``TrainerBase``'s; 2., 3., logging and the final evaluation are hooks (``dwaca.engine.hooks``) and the
rules of resuming are ``dwaca.engine.resume``'s, each testable alone.

Per-class IoU for the dynamic weights (AL-DWACA), ACTIVE.IOU_SOURCE:

* "pool" (default): the confusion matrix of the model's training-time predictions (argmax of the upsampled target
  logits) on the annotated target pixels, accumulated over the iterations since the previous round and reset after
  each round; no annotated pixel yet (round 1) -> uniform weights. Only labels the run has bought are used.
* "val": the model is evaluated on DATASETS.TEST before the round. That is test-set leakage (the published code
  does it); it is logged as such and meant only for reproducing published numbers.

Resume (yacs key ``resume``, as RIPU): model, optimizer (momentum), AMP scaler, iteration, the LR schedule (a
function of the iteration), the RNG states, the training confusion and the data order (an epoch-seeded
permutation, skipped to the position; the source stream's position and sampling are saved as "source_sampler", and
resuming with another sampling mode, other class statistics or another class-balanced list length is refused) are
restored; the pool is re-read from disk and verified, and rounds it already holds are never redone. If the pool
is ahead of the checkpoint (a crash between a round and the next checkpoint) the pool wins: its rounds are kept,
with a warning (``dwaca.engine.resume``). Augmentation draws are bit-exact across a resume with SOLVER.NUM_WORKERS
0 (they then come from the restored global RNG); with workers, each epoch's worker seeds derive from the run seed
and the position.

A checkpoint of the published DWACA / RIPU code (``dwaca.models.published``) can be resumed too: its weights
and iteration, with a fresh optimizer, seed and an empty pool (OUTPUT_DIR must hold no rounds); rounds due by its
iteration are bought before the first step, each from a checkpoint of this run.

``resume auto`` resumes from the newest readable checkpoint in OUTPUT_DIR (a fresh start if there is none; an
unreadable newer one is skipped with a warning), so one command can be rerun until the run is complete. Each
selection round starts from a checkpoint of its iteration (the periodic one when SELECT_ITER is a multiple of
SOLVER.CHECKPOINT_PERIOD, otherwise one written for it), so a crash after a round never resumes from a state that
trained without the round's labels; a round interrupted by a crash continues from its journal
(``dwaca.active.pool``), and the result equals an uninterrupted run's.

SEED -1 (the default) draws a seed, on rank 0 in a distributed run, shared with every rank and saved in the
checkpoints; a resumed run uses the saved one. Each rank's RNG states are saved and restored by rank.

Distributed (``torchrun --nproc_per_node=N tools/train.py ...``, see ``dwaca.utils.comm``): the model is
wrapped in DistributedDataParallel, rank r trains on every world-th sample of each epoch's permutation, the test
set and the selection round are sharded the same way, and confusion matrices are summed over ranks (the one the
dynamic weights use is saved summed, on rank 0). Only rank 0 writes checkpoints, logs and results.

MODEL.DEVICE "cuda" without a visible CUDA device is an error (``DeviceError``) rather than a silent CPU fallback:
a full-size config would otherwise run for weeks on the CPU. Pass ``MODEL.DEVICE cpu`` explicitly.
"""
import contextlib
import time

import torch
from torch.nn.parallel import DistributedDataParallel

from ..active import run_selection_round
from ..active.selection import build_select_dataset
from ..config import unused_settings
from ..data import build_dataset
from ..losses import adaptation_losses, upsample_to
from ..models import build_model
from ..utils import comm as dist
from ..utils.amp import autocast_dtype, check_amp
from ..utils.faults import crash_point
from ..utils.io import make_dir
from ..utils.lock import output_dir_lock
from .checkpoint import check_finite_model, checkpoint_path, prune_checkpoints, rng_state, save_checkpoint
from .evaluation import evaluate_on_test
from .hooks import FinalEvaluation, IterationLogger, PeriodicCheckpointer, SelectionRounds
from .metrics import ConfusionMatrix
from .metrics_log import MetricsLog
from .preflight import preflight
from .resume import check_fresh_start, open_pool, report_skipped, restore_training_state, source_position
from .runtime import seed_everything, setup_logger
from .solver import build_optimizer, set_poly_lr
from .stream import BatchStream


# What a round's record (``run_selection_round``) contributes to metrics.jsonl.
ROUND_METRICS = ("strategy", "pixels", "regions", "seconds", "forward_s_per_image", "select_s_per_image",
                 "class_weights", "iou_source", "class_pixels")


class TrainerBase:
    """The loop: ``before_train``, then per iteration ``before_step``, ``run_step`` and ``after_step``, then
    ``after_train``. Everything around the steps is a hook (``dwaca.engine.hooks``), called in registration order.
    ``iter`` is the number of steps done (1-based inside a step); ``train_seconds`` excludes ``after_train``."""

    def __init__(self):
        self._hooks = []
        self.iter = self.start_iter = self.stop_iter = 0
        self.train_seconds = 0.0

    def register_hooks(self, hooks):
        for hook in hooks:
            hook.trainer = self
        self._hooks.extend(hooks)

    def train(self, start_iter, stop_iter):
        self.iter = self.start_iter = int(start_iter)
        self.stop_iter = int(stop_iter)
        t_start = time.perf_counter()
        self._call("before_train")
        for self.iter in range(self.start_iter + 1, self.stop_iter + 1):
            self._call("before_step")
            self.run_step()
            self._call("after_step")
        self.train_seconds = time.perf_counter() - t_start
        self._call("after_train")

    def _call(self, stage):
        for hook in self._hooks:
            getattr(hook, stage)()

    def run_step(self):
        raise NotImplementedError


def summed_confusion(confusion):
    """(C, C) sum of every rank's ``confusion.mat`` (a copy; the local matrix is left as it is)."""
    return dist.all_reduce_tensor(confusion.mat.clone())


class Trainer(TrainerBase):
    """RIPU's recipe with active selection (see the module doc). ``Trainer(cfg)`` checks everything up front
    (``dwaca.engine.preflight``: nothing is written before), prepares OUTPUT_DIR, seeds, opens the pool and builds model and optimizer;
    ``resume_or_load()`` restores the checkpoint's state and builds the data streams at its iteration, which it
    returns; ``train(start, stop)`` runs the loop, ``run()`` all three."""

    def __init__(self, cfg, log=None):
        super().__init__()
        self.cfg = cfg
        checked = preflight(cfg)
        self.output_dir, self.device, self.source_sampling = checked.output_dir, checked.device, checked.source_sampling
        self.resume_path, self.state, self._skipped = checked.resume_path, checked.state, checked.skipped
        self._lock = contextlib.ExitStack()
        self.metrics = MetricsLog(None)  # opened by resume_or_load, at the iteration the run starts from
        if dist.is_main():  # one run per folder, from here until close()
            make_dir(self.output_dir, "OUTPUT_DIR")
            self._lock.enter_context(output_dir_lock(self.output_dir))
        try:
            self._set_up(log)
        except BaseException:
            self.close()
            raise

    def _set_up(self, log):
        cfg = self.cfg
        self.log = self._prepare_output_dir(log)
        saved_seed = self.state.get("seed") if self.state is not None else None
        self.seed = seed_everything(cfg.SEED if saved_seed is None else saved_seed)
        self.log.info("output dir %s, device %s, seed %d, strategy %s %s, %d threads, rank %d of %d",
                      self.output_dir, self.device, self.seed, cfg.ACTIVE.NAME, cfg.ACTIVE.SETTING,
                      torch.get_num_threads(), dist.rank(), dist.world_size())
        for key in unused_settings(cfg):
            self.log.warning("%s is set but has no effect here (kept so RIPU's configs load)", key)
        num_classes = int(cfg.MODEL.NUM_CLASSES)
        self.pool = open_pool(self.output_dir / "pool", num_classes)
        if self.state is None or self.state.get("published"):
            check_fresh_start(self.pool, self.output_dir)
        self.model = build_model(cfg).to(self.device)
        self.optimizer = build_optimizer(self.model, cfg.SOLVER)
        self.amp_dtype, self.scaler = self._amp_settings()
        self.train_conf = ConfusionMatrix(num_classes, self.device)
        self.rounds_done = 0
        self.saved_iter = -1  # the last iteration on disk; -1: a fresh run's iteration 0 is not
        self.last_checkpoint = None
        self.results = None
        self.lr, self.losses = None, {}
        self.register_hooks(self.build_hooks())

    def _prepare_output_dir(self, log):
        """The logger; rank 0 writes config.yaml and removes torn checkpoint writes."""
        main = dist.is_main()
        log = log or setup_logger(self.output_dir if main else None)
        if main:
            (self.output_dir / "config.yaml").write_text(self.cfg.dump())
            for torn in self.output_dir.glob(".model_iter*.tmp"):  # a checkpoint write that was killed
                torn.unlink()
        return log

    def _amp_settings(self):
        """(autocast dtype or None, GradScaler for fp16 or None); SOLVER.AMP is ignored, with a warning, off CUDA."""
        amp = check_amp(self.cfg.SOLVER.AMP)
        if amp and self.device.type != "cuda":
            self.log.warning("SOLVER.AMP '%s' ignored on %s (mixed precision is used on CUDA only)", amp,
                             self.device)
        dtype = autocast_dtype(amp, self.device)
        return dtype, torch.amp.GradScaler("cuda") if dtype is torch.float16 else None

    def build_hooks(self):
        stop_iter = int(self.cfg.SOLVER.STOP_ITER)
        return [IterationLogger(max(1, min(20, stop_iter // 10 or 1))),
                PeriodicCheckpointer(max(1, int(self.cfg.SOLVER.CHECKPOINT_PERIOD))),
                SelectionRounds(self.cfg.ACTIVE.SELECT_ITER),
                FinalEvaluation()]

    def resume_or_load(self):
        """Restore the checkpoint's state, if resuming, and build the data streams at its iteration; returns it."""
        start_iter = src_position = 0
        report_skipped(self.log, self._skipped, self.resume_path)
        if self.state is not None and self.state.get("published"):
            start_iter = src_position = restore_training_state(self, self.resume_path, self.state)
            self.log.info("resumed from the published checkpoint %s at iteration %d: its weights only (optimizer "
                          "state not restored, an empty pool, this run's seed)", self.resume_path, start_iter)
        elif self.state is not None:
            start_iter = restore_training_state(self, self.resume_path, self.state)
            self.saved_iter = start_iter
            self.log.info("resumed from %s at iteration %d with %d/%d rounds done", self.resume_path, start_iter,
                          self.pool.rounds_done, len(self.cfg.ACTIVE.SELECT_ITER))
            src_position = source_position(self.state, start_iter)
        self.rounds_done = self.pool.rounds_done
        self.state = None
        self.metrics = MetricsLog(self.output_dir if dist.is_main() else None, bool(self.cfg.LOG.TENSORBOARD),
                                  start_iter)
        self.trained = DistributedDataParallel(self.model) if dist.world_size() > 1 else self.model
        self._build_data(start_iter, src_position)
        self.model.train()
        return start_iter

    def _build_data(self, start_iter, src_position):
        cfg = self.cfg
        source = build_dataset(cfg, cfg.DATASETS.SOURCE_TRAIN, "train_source")
        target = build_dataset(cfg, cfg.DATASETS.TARGET_TRAIN, "train_target",
                               annotation_provider=self.pool.annotation_provider)
        self.select_set = build_select_dataset(cfg, self.pool)
        options = dict(batch_size=int(cfg.SOLVER.BATCH_SIZE), num_workers=int(cfg.SOLVER.NUM_WORKERS),
                       position=start_iter, pin_memory=self.device.type == "cuda", rank=dist.rank(),
                       world=dist.world_size())
        self.log.info("source sampling: %s", self.source_sampling.describe())
        self.src_stream = BatchStream(source, seed=self.seed, draws=self.source_sampling.order(source, self.seed),
                                      **dict(options, position=src_position))
        self.tgt_stream = BatchStream(target, seed=self.seed + 1, **options)
        self.log.info("source %s: %d images, target %s: %d images, test %s; %d selection rounds at %s",
                      cfg.DATASETS.SOURCE_TRAIN, len(source), cfg.DATASETS.TARGET_TRAIN, len(target),
                      cfg.DATASETS.TEST, len(cfg.ACTIVE.SELECT_ITER), [int(i) for i in cfg.ACTIVE.SELECT_ITER])

    # -- one step ----------------------------------------------------------------------------------------------------
    def run_step(self):
        """One source and one target batch: the adaptation losses (``dwaca.losses``), one SGD step, and the
        confusion of the target predictions on annotated pixels (for the dynamic weights)."""
        crash_point("train_step")
        solver = self.cfg.SOLVER
        self.lr = set_poly_lr(self.optimizer, solver.BASE_LR, self.iter - 1, int(solver.MAX_ITER), solver.LR_POWER)
        src, tgt = self.src_stream.next(), self.tgt_stream.next()
        src_lbl = src["label"].to(self.device, non_blocking=True)
        tgt_lbl = tgt["label"].to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        src_logits, tgt_logits = self._forward(src["image"], tgt["image"])
        losses = adaptation_losses(src_logits, src_lbl, tgt_logits, tgt_lbl, solver)
        if not torch.isfinite(losses["total"]):
            raise FloatingPointError(f"non-finite loss at iteration {self.iter}: "
                                     f"{ {k: v.item() for k, v in losses.items()} }")
        self._backward(losses["total"])
        if (tgt_lbl != 255).any():
            with torch.no_grad():
                self.train_conf.update(upsample_to(tgt_logits.detach(), tgt_lbl.shape[-2:]).argmax(1), tgt_lbl)
        self.losses = losses

    def _forward(self, src_img, tgt_img):
        src_img = src_img.to(self.device, non_blocking=True)
        tgt_img = tgt_img.to(self.device, non_blocking=True)
        if self.amp_dtype is None:
            return self.trained(src_img), self.trained(tgt_img)
        with torch.autocast("cuda", dtype=self.amp_dtype):
            src_logits, tgt_logits = self.trained(src_img), self.trained(tgt_img)
        return src_logits.float(), tgt_logits.float()

    def _backward(self, loss):
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    # -- what the hooks call -----------------------------------------------------------------------------------------
    def checkpoint(self, iteration):
        """Save the state after ``iteration`` steps. Every rank calls it (the confusion is summed over ranks, the RNG
        states gathered); rank 0 writes."""
        check_finite_model(self.model, iteration)  # every rank holds the same weights, so all raise alike
        conf = summed_confusion(self.train_conf)
        rng = dist.all_gather_object(rng_state())
        path = None
        if dist.is_main():
            crash_point("checkpoint")
            path = save_checkpoint(checkpoint_path(self.output_dir, iteration), model=self.model,
                                   optimizer=self.optimizer, iteration=iteration, rounds_done=self.rounds_done,
                                   cfg=self.cfg, scaler=self.scaler, train_confusion=conf, seed=self.seed, rng=rng,
                                   extra={"source_sampler": self.source_sampling.state(self.src_stream.position)})
            self.log.info("saved %s", path)
            self._prune_checkpoints(iteration)
        self.last_checkpoint, self.saved_iter = path, iteration

    def _prune_checkpoints(self, iteration):
        """Keep SOLVER.KEEP_CHECKPOINTS checkpoints, and those of the selection rounds with
        SOLVER.KEEP_ROUND_CHECKPOINTS (``dwaca.engine.checkpoint.prune_checkpoints``)."""
        solver = self.cfg.SOLVER
        rounds = self.cfg.ACTIVE.SELECT_ITER if solver.KEEP_ROUND_CHECKPOINTS else ()
        for path in prune_checkpoints(self.output_dir, iteration, int(solver.KEEP_CHECKPOINTS), rounds):
            self.log.info("removed %s (SOLVER.KEEP_CHECKPOINTS %d)", path.name, solver.KEEP_CHECKPOINTS)

    def checkpoint_name(self):
        return str(self.last_checkpoint) if self.last_checkpoint else None

    def select_round(self, iteration):
        """Buy the next selection round with the model after ``iteration`` steps; the training confusion and the
        target stream's prefetched batches start afresh (the pool changed)."""
        per_class_iou, iou_source, support = self._round_class_iou()
        record = run_selection_round(self.cfg, self.model, self.pool, self.rounds_done, iteration,
                                     device=self.device, per_class_iou=per_class_iou, iou_source=iou_source,
                                     class_support=support, dataset=self.select_set, seed=self.seed)
        self.rounds_done += 1
        self.metrics.write("round", iteration, round=self.rounds_done, pixels_total=self.pool.pixels_total,
                           budget_pixels=self.pool.budget_pixels,
                           **{k: record[k] for k in ROUND_METRICS if k in record})
        self.train_conf.reset()
        self.tgt_stream.reset()
        self.model.train()

    def _round_class_iou(self):
        """(per-class IoU or None, its source, the labelled pixels per class behind it or None) for the dynamic
        weights of the next round (ACTIVE.IOU_SOURCE)."""
        cfg = self.cfg
        if cfg.ACTIVE.NAME != "AL-DWACA":
            return None, "none", None
        if cfg.ACTIVE.IOU_SOURCE == "val":
            self.log.warning("ACTIVE.IOU_SOURCE=val: the dynamic class weights use IoU measured on %s, the evaluation "
                             "set (TEST-SET LEAKAGE; only for reproducing published numbers)", cfg.DATASETS.TEST)
            res = evaluate_on_test(cfg, self.model, self.device, batch_size=cfg.SOLVER.BATCH_SIZE_VAL)
            self.record_evaluation(res)
            return torch.tensor(list(res["per_class_iou"].values())), "val", None
        if cfg.ACTIVE.IOU_SOURCE != "pool":
            raise ValueError(f"ACTIVE.IOU_SOURCE must be 'pool' or 'val', got '{cfg.ACTIVE.IOU_SOURCE}'")
        total = ConfusionMatrix(self.train_conf.num_classes, self.train_conf.mat.device)
        total.mat.copy_(summed_confusion(self.train_conf))
        if total.mat.sum() == 0:
            return None, "none", None
        return total.compute()[0], "pool", total.support()

    def run(self):
        """Resume (or start), train to SOLVER.STOP_ITER, evaluate, release OUTPUT_DIR; returns ``summary()``."""
        try:
            self.train(self.resume_or_load(), int(self.cfg.SOLVER.STOP_ITER))
            return self.summary()
        finally:
            self.close()

    def record_evaluation(self, res):
        """An evaluation's scores into metrics.jsonl, at the current iteration."""
        self.metrics.write("eval", self.iter, dataset=self.cfg.DATASETS.TEST, mIoU=res["mIoU"],
                           per_class_iou=res["per_class_iou"])

    def close(self):
        """Close metrics.jsonl and release OUTPUT_DIR's lock (the OS releases it when the process ends in any
        case)."""
        self.metrics.close()
        self._lock.close()

    def summary(self):
        return {"results": self.results, "output_dir": str(self.output_dir), "iteration": self.iter,
                "rounds_done": self.rounds_done, "checkpoint": self.checkpoint_name(),
                "train_seconds": self.train_seconds, "seed": self.seed}


def train(cfg, log=None):
    """Train (and select) according to ``cfg``, evaluate on DATASETS.TEST, write results.json; returns
    {"results": evaluator dict, "output_dir", "iteration", "rounds_done", "checkpoint", "train_seconds", "seed"}.
    In a distributed run (process group initialised, see ``dwaca.utils.comm``) every rank calls it."""
    return Trainer(cfg, log).run()
