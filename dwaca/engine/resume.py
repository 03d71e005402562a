"""The rules of resuming a run: which checkpoint, and how its state fits the labelled pool on disk.

A run that has bought labels keeps its selection budget. The pool is the record of what was bought: a pool behind
the checkpoint is an error (another run's folder), a pool ahead of it (a crash between a round and the next
checkpoint) wins, and its rounds are kept rather than redone. The training confusion that the dynamic weights use
is restored only when pool and checkpoint agree on the rounds: after a round it starts afresh.
"""
from pathlib import Path

from yacs.config import CfgNode

from ..active import LabelPool, PoolError
from ..active.budget import budget_config, config_differences
from ..models.checkpoint import CheckpointError, load_checkpoint, load_model_state
from ..utils import comm as dist
from .checkpoint import latest_checkpoint, list_checkpoints, set_rng_state


def resolve_resume(cfg, output_dir):
    """The checkpoint to resume from: ``resume`` itself, or with ``resume auto`` the newest checkpoint in
    ``output_dir`` (None if there is none: a fresh start). None when ``resume`` is empty."""
    if str(cfg.resume) == "auto":
        return latest_checkpoint(output_dir)
    return Path(cfg.resume) if cfg.resume else None


def read_resume_checkpoint(cfg, output_dir):
    """(path, state, skipped) of the checkpoint to resume from (``resolve_resume``), read on the CPU; (None, None,
    []) when there is none. With ``resume auto`` a checkpoint that cannot be read (torn, truncated, foreign) is
    skipped for the next newest, and ``skipped`` lists each as (path, reason) for the caller to report;
    CheckpointError if none of them can be read. A checkpoint named by ``resume`` must be readable."""
    if str(cfg.resume) != "auto":
        path = resolve_resume(cfg, output_dir)
        return (path, load_checkpoint(path), []) if path is not None else (None, None, [])
    skipped = []
    for _, path in reversed(list_checkpoints(output_dir)):
        try:
            return path, load_checkpoint(path), skipped
        except CheckpointError as err:
            skipped.append((path, str(err)))
    if skipped:
        raise CheckpointError(f"resume auto: none of the {len(skipped)} checkpoints in {output_dir} can be read "
                              f"({skipped[0][1]}); resume from a readable file or start a fresh OUTPUT_DIR")
    return None, None, []


def report_skipped(log, skipped, used):
    """Warn of each unreadable checkpoint ``read_resume_checkpoint`` skipped for ``used``."""
    for path, reason in skipped:
        log.warning("resume auto: skipping %s, which cannot be read (%s); using %s instead", path, reason, used)


def open_pool(root, num_classes):
    """The labelled pool, opened by rank 0 first: opening finishes a commit a crash interrupted, which only one
    process may do."""
    pool = LabelPool(root, num_classes=num_classes, recover=True) if dist.is_main() else None
    dist.barrier()
    return pool or LabelPool(root, num_classes=num_classes)


def check_fresh_start(pool, output_dir):
    """PoolError if a run that resumes nothing finds a pool with rounds: it would buy them a second time."""
    if pool.rounds_done:
        raise PoolError(f"{pool.root} already holds {pool.rounds_done} selection rounds; continue that run with "
                        f"`resume {output_dir}/model_iterNNNNNN.pth` (or `resume auto`) or use a fresh OUTPUT_DIR")


def check_budget_unchanged(path, state, cfg):
    """ValueError naming the keys if a run that has bought labels resumes from checkpoint ``path`` (``state``) with
    another selection budget: its earlier rounds were planned with the checkpoint's."""
    if not state.get("config"):
        return
    differ = config_differences(budget_config(CfgNode.load_cfg(state["config"]).ACTIVE), budget_config(cfg.ACTIVE))
    if differ:
        raise ValueError(f"checkpoint {path} was trained with {differ}: a run that has bought labels keeps its "
                         "selection budget; resume with the checkpoint's values or start a fresh OUTPUT_DIR")


def check_source_sampler(path, state, identity):
    """ValueError if checkpoint ``path`` (``state``) drew its source batches otherwise than a run with
    ``identity`` (``SourceSampling.identity()``) would: resuming would not continue the same stream. A checkpoint
    without a "source_sampler" entry was written before class-balanced sampling existed: uniform."""
    saved = state.get("source_sampler") or {"kind": "uniform", "statistics_sha256": None, "draws": None}
    if saved["kind"] != identity["kind"]:
        raise ValueError(f"checkpoint {path} drew its source batches with DATASETS.SOURCE_SAMPLING "
                         f"'{saved['kind']}', this run with '{identity['kind']}'; resume with the checkpoint's mode "
                         "or start a fresh OUTPUT_DIR")
    if saved["statistics_sha256"] != identity["statistics_sha256"]:
        raise ValueError(f"checkpoint {path} drew its source batches from label statistics with sha256 "
                         f"{saved['statistics_sha256'][:12]} ({saved.get('statistics_file')}), "
                         f"{identity['statistics_file']} has {identity['statistics_sha256'][:12]}; restore the "
                         "checkpoint's statistics file or start a fresh OUTPUT_DIR")
    if saved["draws"] != identity["draws"]:
        raise ValueError(f"checkpoint {path} drew from a class-balanced list built for {saved['draws']} images "
                         "(SOLVER.MAX_ITER x SOLVER.BATCH_SIZE x processes), this run for "
                         f"{identity['draws']}; resume with the checkpoint's values or start a fresh OUTPUT_DIR")


def source_position(state, iteration):
    """The source stream's position (batches done) saved in checkpoint ``state``, else ``iteration``."""
    return int((state.get("source_sampler") or {}).get("position", iteration))


def check_rounds(path, state, pool, cfg):
    """Refuse to resume from checkpoint ``path`` (``state``) onto ``pool`` (anything with ``rounds_done`` and
    ``root``) when the pool is behind it or the run bought labels under another budget (see the module doc)."""
    ckpt_rounds = int(state.get("rounds_done", 0))
    if pool.rounds_done:
        check_budget_unchanged(path, state, cfg)
    if pool.rounds_done < ckpt_rounds:
        raise PoolError(f"checkpoint {path} has {ckpt_rounds} selection rounds done but the pool at "
                        f"{pool.root} holds {pool.rounds_done}; resume with the OUTPUT_DIR of the interrupted run")


def reconcile_rounds(path, state, pool, cfg, log):
    """``check_rounds``, then a warning if the pool is ahead of the checkpoint; True when the checkpoint's training
    confusion applies (both hold the same rounds)."""
    check_rounds(path, state, pool, cfg)
    ckpt_rounds = int(state.get("rounds_done", 0))
    if pool.rounds_done > ckpt_rounds:
        log.warning("the pool holds %d rounds, the checkpoint %d: keeping the pool's rounds (not redone)",
                    pool.rounds_done, ckpt_rounds)
    return pool.rounds_done == ckpt_rounds


def restore_training_state(trainer, path, state):
    """Load checkpoint ``path`` (``state``) into ``trainer``: weights, optimizer, AMP scaler, training confusion,
    RNG states. Returns the iteration it was saved at."""
    load_model_state(trainer.model, state, path)
    if state.get("optimizer") is not None:
        trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scaler is not None and state.get("scaler"):
        trainer.scaler.load_state_dict(state["scaler"])
    same_rounds = reconcile_rounds(path, state, trainer.pool, trainer.cfg, trainer.log)
    confusion = state.get("train_confusion")
    # saved summed over ranks: rank 0 carries it, so the next sum over ranks counts it once
    if same_rounds and confusion is not None and dist.is_main():
        trainer.train_conf.mat.copy_(confusion.to(trainer.device))
    set_rng_state(state.get("rng"))
    return int(state["iteration"])
