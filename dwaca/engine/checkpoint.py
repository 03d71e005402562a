"""Training checkpoints: ``OUTPUT_DIR/model_iter{iteration:06d}.pth``, written atomically.

A checkpoint holds everything a run needs to continue exactly where it stopped::

    {"model": state_dict, "optimizer": state_dict, "scaler": state_dict or None,
     "iteration": optimisation steps done, "rounds_done": selection rounds done,
     "train_confusion": (C, C) int64 confusion on annotated target pixels since the last round,
     "rng": [{"torch", "cuda", "numpy", "python"} of rank 0, of rank 1, ...], "config": the yacs dump,
     "seed": the run's seed,
     "source_sampler": {"kind", "position": source batches done, "statistics_sha256", "statistics_file", "draws"}
                       (``dwaca.data.class_balance.SourceSampling.state``; written by the trainer)}

Reading one back and checking that it fits the model is ``dwaca.models.checkpoint``'s.
"""
import io
import random
import re
from pathlib import Path

import numpy as np
import torch

from ..utils import comm as dist
from ..utils.io import atomic_write_bytes

CHECKPOINT_RE = re.compile(r"model_iter(\d{6,})\.pth$")


def checkpoint_path(output_dir, iteration):
    return Path(output_dir) / f"model_iter{iteration:06d}.pth"


def rng_state():
    """This process's RNG states."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(states):
    """Restore this rank's entry of a checkpoint's "rng" (a single dict: checkpoints written before the ranks'
    states were gathered). A rank the checkpoint has no state for (resumed on more processes) keeps its seeded
    generators."""
    if isinstance(states, dict):
        states = [states]
    if not states or dist.rank() >= len(states):
        return
    state = states[dist.rank()]
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except (RuntimeError, IndexError):  # resumed on a different number of GPUs: keep their fresh generators
            pass


def save_checkpoint(path, *, model, optimizer, iteration, rounds_done, cfg, scaler=None, train_confusion=None,
                    seed=None, rng=None, extra=None):
    """Serialise the training state to ``path`` atomically (temp file in the same folder, fsync, os.replace).
    ``rng``: every rank's ``rng_state()`` in rank order (default: this process's alone)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None,
             "iteration": int(iteration), "rounds_done": int(rounds_done),
             "train_confusion": train_confusion.cpu() if train_confusion is not None else None,
             "rng": rng if rng is not None else [rng_state()], "config": cfg.dump(), "seed": seed}
    if extra:
        state.update(extra)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def check_finite_model(model, iteration):
    """FloatingPointError naming the tensors if the model's weights or buffers (BatchNorm statistics) hold NaN or
    inf: training diverged, the loss may still be finite (eval-mode statistics are not used by it), and a checkpoint
    of that state would only be resumed into the same failure."""
    floats = [(name, t) for name, t in model.state_dict().items() if t.is_floating_point()]
    finite = torch.stack([torch.isfinite(t).all() for _, t in floats]).tolist() if floats else []  # one sync
    bad = [name for (name, _), ok in zip(floats, finite) if not ok]
    if bad:
        raise FloatingPointError(f"training diverged by iteration {iteration}: {', '.join(bad[:3])}"
                                 f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''} hold NaN or inf (lower "
                                 "SOLVER.BASE_LR or check the data); no checkpoint written")


def list_checkpoints(output_dir):
    """[(iteration, path), ...] of the ``model_iter*.pth`` files in ``output_dir``, oldest first."""
    found = []
    for p in Path(output_dir).glob("model_iter*.pth"):
        m = CHECKPOINT_RE.search(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(output_dir):
    """The checkpoint with the highest iteration in ``output_dir``, or None."""
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def prune_checkpoints(output_dir, saved_iter, keep, protected=()):
    """Delete the checkpoints of ``output_dir`` older than the one just saved at ``saved_iter`` so that ``keep`` of
    the unprotected ones are left, that one included (``keep`` 0: delete nothing). Checkpoints at an iteration in
    ``protected`` (the selection rounds' that the annotation workflow resumes from) stay, and so do any beyond
    ``saved_iter``: a run resumed from an older checkpoint has not yet replaced them. Returns the deleted paths."""
    if keep <= 0:
        return []
    protected = set(protected)
    older = [(it, p) for it, p in list_checkpoints(output_dir) if it < saved_iter and it not in protected]
    doomed = [p for _, p in older[:max(0, len(older) - (keep - 1))]]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed
