"""Reading a checkpoint's model: the file, the model it was trained for, and its weights.

A checkpoint that cannot be read, or that belongs to another model (MODEL.NAME, MODEL.NUM_CLASSES or the state
dict's keys and shapes differ), raises ``CheckpointError`` naming the file and what differs. The training state
around the weights (optimizer, RNG, rounds) is ``dwaca.engine.checkpoint``'s.
"""
from pathlib import Path

import torch
import yaml

from ..utils.errors import UserError

MODEL_KEYS = ("NAME", "NUM_CLASSES")


class CheckpointError(UserError, ValueError):
    """A checkpoint is unreadable or does not fit the configured model."""


def load_checkpoint(path, map_location="cpu"):
    """The dict written by ``save_checkpoint``; FileNotFoundError naming the path if it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    # The checkpoint holds numpy / python RNG states: trusted files written by this trainer only.
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises several types for truncated / foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err
    for key in ("model", "iteration"):
        if not isinstance(state, dict) or key not in state:
            raise CheckpointError(f"{path} is not a dwaca checkpoint (no '{key}')")
    return state


def check_model_config(path, state, cfg):
    """CheckpointError naming ``path`` if the checkpoint's MODEL.NAME / MODEL.NUM_CLASSES differ from ``cfg``'s."""
    saved = (yaml.safe_load(state.get("config") or "") or {}).get("MODEL", {})
    differences = [f"MODEL.{key} {saved[key]!r} in the checkpoint, {cfg.MODEL[key]!r} configured"
                   for key in MODEL_KEYS if key in saved and saved[key] != cfg.MODEL[key]]
    if differences:
        raise CheckpointError(f"checkpoint {path} is from another model: " + "; ".join(differences))


def load_model_state(model, state, path):
    """Load the checkpoint's weights into ``model``; CheckpointError naming ``path`` and the keys that differ."""
    own = model.state_dict()
    saved = state["model"]
    missing = sorted(own.keys() - saved.keys())
    unexpected = sorted(saved.keys() - own.keys())
    reshaped = [f"{k} {tuple(saved[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(own.keys() & saved.keys())
                if tuple(saved[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or reshaped:
        parts = [f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected),
                                      ("shape (checkpoint vs model)", reshaped)) if items]
        raise CheckpointError(f"checkpoint {path} does not fit the model: " + "; ".join(parts))
    model.load_state_dict(saved)
