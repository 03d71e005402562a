"""What a run checks before it writes anything: the config, the device, the checkpoint it resumes from, the
labelled pool on disk, any annotation export still pending, every dataset it will read and the source's class
statistics. The first problem is an error naming the key, file
or value and what was expected; OUTPUT_DIR is neither created nor changed."""
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

from ..active.annotation import PENDING, read_pending
from ..active.errors import AnnotationError
from ..active.pool import rounds_on_disk
from ..config import check_training_batch, validate_config
from ..data import build_dataset, check_dataset
from ..data.class_balance import SourceSampling
from ..models.build import check_checkpoint_fits
from .metrics_log import check_tensorboard
from .resume import check_fresh_start, check_rounds, check_source_sampler, read_resume_checkpoint
from ..utils import comm as dist
from .runtime import resolve_device


def check_output_dir(cfg):
    """OUTPUT_DIR as a Path; ValueError if it is empty or names a file."""
    if not cfg.OUTPUT_DIR:
        raise ValueError("OUTPUT_DIR is empty; pass `OUTPUT_DIR <dir>`")
    output_dir = Path(cfg.OUTPUT_DIR)
    if output_dir.exists() and not output_dir.is_dir():
        raise NotADirectoryError(f"OUTPUT_DIR {output_dir} is a file, not a folder")
    return output_dir


def read_resume_state(cfg, output_dir):
    """(checkpoint path or None, its state dict or None, unreadable checkpoints skipped): the checkpoint ``resume``
    names (``read_resume_checkpoint``), checked to fit the configured model."""
    path, state, skipped = read_resume_checkpoint(cfg, output_dir)
    if path is not None:
        check_checkpoint_fits(path, state, cfg)
    return path, state, skipped


def check_pool_on_disk(cfg, output_dir, resume_path, state):
    """The pool's rounds against the checkpoint (``dwaca.engine.resume``), and no export awaiting its import: a
    round answered by the oracle meanwhile would make the annotators' labels unusable."""
    root = output_dir / "pool"
    pool = SimpleNamespace(root=root, rounds_done=rounds_on_disk(root))  # read as on disk; nothing is recovered yet
    if state is None or state.get("published"):  # a published checkpoint comes without the pool of its run
        check_fresh_start(pool, output_dir)
    else:
        check_rounds(resume_path, state, pool, cfg)
    pending = read_pending(pool)
    if pending is not None and int(pending.get("round", -1)) >= pool.rounds_done:
        raise AnnotationError(f"{root / PENDING}: round {pending.get('round')} was exported to {pending.get('dir')} "
                              "and not imported yet; import the annotators' labels with tools/import_labels.py "
                              "before training on (or delete that file to abandon the export)")


def check_datasets(cfg, splits):
    """``check_dataset`` on DATASETS.<key> for each (key, mode) of ``splits``: every file's header, up front."""
    for key, mode in splits:
        check_dataset(build_dataset(cfg, cfg.DATASETS[key], mode), progress=dist.is_main())


def check_source_sampling(cfg, resume_path, state):
    """The source stream's sampling (``dwaca.data.class_balance``): class-balanced statistics read (or computed and
    cached, by rank 0 first) and checked against the source set; a resumed checkpoint must have drawn alike.
    Returns the ``SourceSampling``, which the trainer's source stream draws from."""
    source = build_dataset(cfg, cfg.DATASETS.SOURCE_TRAIN, "train_source")
    sampling = SourceSampling.from_config(cfg, source, dist.world_size()) if dist.is_main() else None
    dist.barrier()
    sampling = sampling or SourceSampling.from_config(cfg, source, dist.world_size(), progress=False)
    if state is not None and not state.get("published"):  # a published checkpoint starts the stream afresh
        check_source_sampler(resume_path, state, sampling.identity())
    return sampling


TRAINING_SPLITS = (("SOURCE_TRAIN", "train_source"), ("TARGET_TRAIN", "train_target"), ("TEST", "test"))


class Checked(NamedTuple):
    """What ``preflight`` found: OUTPUT_DIR, the device, the checkpoint to resume from (path and state, or None),
    the unreadable checkpoints ``resume auto`` skipped ((path, reason) pairs) and the source stream's
    ``SourceSampling``."""
    output_dir: Path
    device: object
    resume_path: object
    state: object
    skipped: list
    source_sampling: SourceSampling


def preflight(cfg):
    """Check everything a training run needs before it writes anything; returns ``Checked``."""
    validate_config(cfg)
    check_training_batch(cfg)
    if cfg.LOG.TENSORBOARD:
        check_tensorboard()
    output_dir = check_output_dir(cfg)
    device = resolve_device(cfg)
    resume_path, state, skipped = read_resume_state(cfg, output_dir)
    check_pool_on_disk(cfg, output_dir, resume_path, state)
    check_datasets(cfg, TRAINING_SPLITS)  # the selection rounds read TARGET_TRAIN's files too
    sampling = check_source_sampling(cfg, resume_path, state)
    return Checked(output_dir, device, resume_path, state, skipped, sampling)
