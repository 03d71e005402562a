"""What every run sets up first: the logger, the device and the seeds."""
import logging
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

from ..utils import comm as dist
from ..utils.errors import UserError

LOGGER_NAME = "dwaca"


class DeviceError(UserError, RuntimeError):
    """MODEL.DEVICE names a device this machine does not have."""


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
