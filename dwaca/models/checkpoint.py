"""Reading a checkpoint's model: the file, the model it was trained for, and its weights.

A checkpoint is ours (``dwaca.engine.checkpoint``, which also holds the training state around the weights) or the
published DWACA / RIPU code's, turned into ours on reading (``published.py``). One that cannot be read, is in
neither format, or belongs to another model (MODEL.NAME, MODEL.NUM_CLASSES or the state dict's keys and shapes
differ) raises ``CheckpointError`` naming the file and what differs, in one line.
"""
import warnings
from pathlib import Path

import torch
import yaml

from ..utils.errors import UserError
from .published import is_published, published_checkpoint

MODEL_KEYS = ("NAME", "NUM_CLASSES")


class CheckpointError(UserError, ValueError):
    """A checkpoint is unreadable or does not fit the configured model."""


def _read(path, map_location):
    try:  # published checkpoints hold only tensors, numbers and dicts
        with warnings.catch_warnings():  # its notes on files it refuses; the second read reports what matters
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # the restricted unpickler raises several types for what it refuses
        pass
    # Ours hold numpy / python RNG states: trusted files written by this trainer only.
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises several types for truncated / foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err


def load_checkpoint(path, map_location="cpu"):
    """The dict written by ``save_checkpoint``, or a published checkpoint as one (``published_checkpoint``);
    FileNotFoundError naming the path if it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    state = _read(path, map_location)
    if is_published(state):
        return published_checkpoint(state)
    if not (isinstance(state, dict) and "model" in state and "iteration" in state):
        raise CheckpointError(f"{path} is neither a dwaca checkpoint (with 'model' and 'iteration') nor a published "
                              "DWACA / RIPU one (with 'feature_extractor' and 'classifier')")
    return state


def check_model_config(path, state, cfg):
    """CheckpointError naming ``path`` if the checkpoint's MODEL.NAME / MODEL.NUM_CLASSES differ from ``cfg``'s."""
    saved = (yaml.safe_load(state.get("config") or "") or {}).get("MODEL", {})
    differences = [f"MODEL.{key} {saved[key]!r} in the checkpoint, {cfg.MODEL[key]!r} configured"
                   for key in MODEL_KEYS if key in saved and saved[key] != cfg.MODEL[key]]
    if differences:
        raise CheckpointError(f"checkpoint {path} is from another model: " + "; ".join(differences))


def _shape(value):
    return tuple(value.shape) if torch.is_tensor(value) else type(value).__name__


def check_state_fits(path, saved, own):
    """CheckpointError naming ``path`` and the first keys that differ if the state dict ``saved`` does not have
    exactly the keys and shapes of ``own`` (a model's state dict, or any name -> tensor of the right shapes)."""
    missing = sorted(own.keys() - saved.keys())
    unexpected = sorted(saved.keys() - own.keys())
    reshaped = [f"{k} {_shape(saved[k])} vs {_shape(own[k])}" for k in sorted(own.keys() & saved.keys())
                if _shape(saved[k]) != _shape(own[k])]
    if missing or unexpected or reshaped:
        parts = [f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected),
                                      ("shape (checkpoint vs model)", reshaped)) if items]
        raise CheckpointError(f"checkpoint {path} does not fit the model: " + "; ".join(parts))


def load_model_state(model, state, path):
    """Load the checkpoint's weights into ``model``; CheckpointError naming ``path`` and the keys that differ."""
    check_state_fits(path, state["model"], model.state_dict())
    model.load_state_dict(state["model"])
