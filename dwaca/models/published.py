"""Checkpoints of the published DWACA / RIPU code, read as ours.

Their train.py saves ``{"iteration": int, "feature_extractor": state_dict, "classifier": state_dict,
"optimizer_fea": ..., "optimizer_cls": ...}``, with keys prefixed ``module.`` when saved from
DistributedDataParallel. Our model holds the same layers under the same names (``deeplab.py``), so a feature
extractor key (``backbone.<torchvision ResNet name>``) is our key and a classifier key ``k`` is ``head.k``. With
MODEL.FREEZE_BN their BatchNorms are FrozenBatchNorm2d (weight, bias, running_mean, running_var and no
num_batches_tracked, filled with 0 here). Their two SGD states (other parameter groups than ours) are not read.
Whether the weights fit the configured model (head, NUM_CLASSES) is checked on loading, like our own checkpoints'.
"""
import torch

PARTS = {"feature_extractor": "", "classifier": "head."}  # published part -> prefix of its keys in our model
DDP_PREFIX = "module."


def is_published(state):
    """True if ``state`` (a loaded checkpoint file) is in the published format."""
    return isinstance(state, dict) and "model" not in state and all(isinstance(state.get(p), dict) for p in PARTS)


def _strip_ddp(key):
    return key[len(DDP_PREFIX):] if key.startswith(DDP_PREFIX) else key


def published_model_state(state):
    """Our model's state dict (name -> tensor) from the published checkpoint ``state``."""
    model = {prefix + _strip_ddp(key): value for part, prefix in PARTS.items() for key, value in state[part].items()}
    for key in [k for k in model if k.endswith(".running_var")]:  # FrozenBatchNorm2d counts no batches
        model.setdefault(key[:-len("running_var")] + "num_batches_tracked", torch.tensor(0))
    return model


def published_checkpoint(state):
    """The published checkpoint ``state`` as our checkpoint dict: its weights and iteration only, marked
    ``"published": True`` (no optimizer, config, rounds or RNG states: a run resumed from it starts those afresh)."""
    return {"model": published_model_state(state), "iteration": int(state.get("iteration", 0)), "published": True}
