"""Every config value checked before a run writes anything: types, ranges, choices and the relations between keys
(SOLVER.STOP_ITER within SOLVER.MAX_ITER, ACTIVE.SELECT_ITER increasing and within MAX_ITER, ...). The first
problem is a ConfigError naming the key, what was expected and what was given."""
import math

from ..active.budget import check_active_config
from ..active.weights import MODES as WEIGHT_MODES
from ..data.class_balance import SAMPLING_MODES
from ..data.transforms import INTERPOLATIONS
from ..losses import LCR_TYPES
from ..models import MODEL_NAMES
from ..utils.amp import AMP_DTYPES
from ..utils.errors import UserError


class ConfigError(UserError, ValueError):
    """The config cannot be used; the message names the file or key (yacs' own messages name only the key)."""


def _int(v, low=None, high=None):
    return (isinstance(v, int) and not isinstance(v, bool) and (low is None or v >= low)
            and (high is None or v <= high))


def _real(v, low=None, high=None):
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and (low is None or v >= low) and (high is None or v <= high))


def _size(v):
    return isinstance(v, (list, tuple)) and len(v) == 2 and all(_int(x, 1) for x in v)


def _reals(v, n, low=None):
    return isinstance(v, (list, tuple)) and len(v) == n and all(_real(x, low) for x in v)


# (key, test, what the test expects)
RULES = (
    ("MODEL.NAME", lambda v: v in MODEL_NAMES, f"one of {', '.join(MODEL_NAMES)}"),
    ("MODEL.NUM_CLASSES", lambda v: v in (16, 19), "19 (GTAV -> Cityscapes) or 16 (SYNTHIA -> Cityscapes)"),
    ("MODEL.DEVICE", lambda v: isinstance(v, str) and (v == "cpu" or v.split(":")[0] == "cuda"),
     "'cpu', 'cuda' or 'cuda:N'"),
    ("DATASETS.SOURCE_SAMPLING", lambda v: v in SAMPLING_MODES, f"one of {', '.join(SAMPLING_MODES)}"),
    ("INPUT.SOURCE_INPUT_SIZE_TRAIN", _size, "(W, H), two positive integers"),
    ("INPUT.TARGET_INPUT_SIZE_TRAIN", _size, "(W, H), two positive integers"),
    ("INPUT.INPUT_SIZE_TEST", _size, "(W, H), two positive integers"),
    ("INPUT.INPUT_SCALES_TRAIN", lambda v: _reals(v, 2, 0) and 0 < v[0] <= v[1], "(low, high) with 0 < low <= high"),
    ("INPUT.IGNORE_LABEL", lambda v: v == 255, "255 (RIPU's value, which the label tables, losses and metrics use)"),
    ("INPUT.TO_BGR255", lambda v: isinstance(v, bool), "True or False"),
    ("INPUT.PIXEL_MEAN", lambda v: _reals(v, 3), "three finite numbers"),
    ("INPUT.PIXEL_STD", lambda v: _reals(v, 3) and min(v) > 0, "three positive numbers"),
    ("INPUT.HFLIP_PROB_TRAIN", lambda v: _real(v, 0, 1), "a probability in [0, 1]"),
    ("INPUT.COLOR_JITTER_TRAIN", lambda v: _real(v, 0), "a number >= 0"),
    ("INPUT.INTERPOLATION", lambda v: v in INTERPOLATIONS, f"one of {', '.join(INTERPOLATIONS)}"),
    ("SOLVER.MAX_ITER", lambda v: _int(v, 1), "an integer >= 1"),
    ("SOLVER.STOP_ITER", lambda v: _int(v, 1), "an integer >= 1"),
    ("SOLVER.CHECKPOINT_PERIOD", lambda v: _int(v, 1), "an integer >= 1"),
    ("SOLVER.LR_METHOD", lambda v: v == "poly", "'poly' (the only schedule)"),
    ("SOLVER.BASE_LR", lambda v: _real(v) and v > 0, "a finite number > 0"),
    ("SOLVER.LR_POWER", lambda v: _real(v, 0), "a number >= 0"),
    ("SOLVER.MOMENTUM", lambda v: _real(v, 0) and v < 1, "a number in [0, 1)"),
    ("SOLVER.WEIGHT_DECAY", lambda v: _real(v, 0), "a number >= 0"),
    ("SOLVER.BATCH_SIZE", lambda v: _int(v, 1), "an integer >= 1"),
    ("SOLVER.BATCH_SIZE_VAL", lambda v: _int(v, 1), "an integer >= 1"),
    ("SOLVER.CONSISTENT_LOSS", lambda v: _real(v, 0), "a loss weight >= 0"),
    ("SOLVER.NEGATIVE_LOSS", lambda v: _real(v, 0), "a loss weight >= 0"),
    ("SOLVER.NEGATIVE_THRESHOLD", lambda v: _real(v, 0, 1), "a probability in [0, 1]"),
    ("SOLVER.LCR_TYPE", lambda v: v in LCR_TYPES, f"one of {', '.join(LCR_TYPES)}"),
    ("SOLVER.AMP", lambda v: v == "" or v in AMP_DTYPES, "'' (off), 'bf16' or 'fp16'"),
    ("SOLVER.NUM_WORKERS", lambda v: _int(v, 0), "an integer >= 0"),
    ("SOLVER.KEEP_CHECKPOINTS", lambda v: _int(v, 0), "an integer >= 0 (0 keeps every checkpoint)"),
    ("SOLVER.KEEP_ROUND_CHECKPOINTS", lambda v: isinstance(v, bool), "True or False"),
    ("ACTIVE.SELECT_ITER", lambda v: isinstance(v, (list, tuple)) and all(_int(i, 0) for i in v),
     "a list of integers >= 0"),
    ("ACTIVE.SIGMA", lambda v: _real(v, 0), "a number >= 0"),
    ("ACTIVE.WEIGHT_MODE", lambda v: v in WEIGHT_MODES, f"one of {', '.join(WEIGHT_MODES)}"),
    ("ACTIVE.SOFT_WEIGHTS", lambda v: isinstance(v, bool), "True or False"),
    ("ACTIVE.IOU_SOURCE", lambda v: v in ("pool", "val"), "'pool' or 'val'"),
    ("LOG.TENSORBOARD", lambda v: isinstance(v, bool), "True or False"),
    ("TEST.BATCH_SIZE", lambda v: _int(v, 1), "an integer >= 1"),
    ("TEST.SAVE_PREDICTIONS", lambda v: isinstance(v, bool), "True or False"),
    ("SEED", lambda v: _int(v, -1, 2 ** 31 - 1), "-1 (draw one) or an integer in 0 .. 2^31-1"),
)


def _value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


def _relations(cfg):
    """The first broken relation between keys, as a message, or None."""
    solver, select = cfg.SOLVER, list(cfg.ACTIVE.SELECT_ITER)
    if solver.STOP_ITER > solver.MAX_ITER:
        return (f"SOLVER.STOP_ITER {solver.STOP_ITER} is beyond SOLVER.MAX_ITER {solver.MAX_ITER} (the poly "
                "schedule reaches learning rate 0 at MAX_ITER)")
    if any(b <= a for a, b in zip(select, select[1:])):
        return f"ACTIVE.SELECT_ITER must be strictly increasing, got {select}"
    if select and select[-1] > solver.MAX_ITER:
        return f"ACTIVE.SELECT_ITER {select} has a round beyond SOLVER.MAX_ITER {solver.MAX_ITER}"
    return None


def validate_config(cfg, source="the config"):
    """ConfigError naming ``source``, the key and what was expected, for the first value or relation that does not
    hold; the ACTIVE budget keys as ``dwaca.active.check_active_config`` checks them."""
    for key, test, expected in RULES:
        value = _value(cfg, key)
        if not test(value):
            raise ConfigError(f"{source}: {key} must be {expected}, got {value!r}")
    problem = _relations(cfg)
    if problem:
        raise ConfigError(f"{source}: {problem}")
    check_active_config(cfg, source)


def check_training_batch(cfg, source="the config"):
    """ConfigError if training ``cfg`` would batch-normalise one value per channel: the V3+ head's image-pooling
    branch has a BatchNorm on its 1x1 pooled map (as published), which cannot train on one image per process."""
    if cfg.MODEL.NAME.startswith("deeplabv3plus") and not cfg.MODEL.FREEZE_BN and cfg.SOLVER.BATCH_SIZE < 2:
        raise ConfigError(f"{source}: SOLVER.BATCH_SIZE {cfg.SOLVER.BATCH_SIZE} (images per process) with "
                          f"MODEL.FREEZE_BN False cannot train {cfg.MODEL.NAME}: the BatchNorm after its image pooling "
                          "needs two images; set SOLVER.BATCH_SIZE >= 2 or MODEL.FREEZE_BN True")
