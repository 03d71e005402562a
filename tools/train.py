#!/usr/bin/env python
"""Active domain adaptation training (RIPU's command line):

    python tools/train.py -cfg configs/gtav/deeplabv3plus_r101_RA_wt_5%.yaml OUTPUT_DIR results/x
    python tools/train.py -cfg CONFIG OUTPUT_DIR results/x resume results/x/model_iter002000.pth
    python tools/train.py -cfg CONFIG OUTPUT_DIR results/x resume auto      # newest checkpoint, or a fresh start
    torchrun --nproc_per_node=4 tools/train.py -cfg CONFIG OUTPUT_DIR results/x resume auto   # DDP, 4 processes

Trailing KEY VALUE pairs override the config (an unknown key is an error). See dwaca/engine/trainer.py.
"""
import argparse
import sys
from pathlib import Path

try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.config import add_config_arguments, config_from_args, run_main
from dwaca.engine import Trainer
from dwaca.utils import comm as dist


def main(argv=None):
    parser = argparse.ArgumentParser(description="Active Domain Adaptation training (DWACA / RIPU)")
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    dist.init_from_env(str(cfg.MODEL.DEVICE).split(":")[0])  # a no-op without torchrun
    try:
        trainer = Trainer(cfg)  # refuses any misuse before OUTPUT_DIR is created or changed
        trainer.log.info("config file %s, overrides %s", args.config_file, args.opts)
        return trainer.run()
    finally:
        dist.cleanup()


if __name__ == "__main__":
    run_main(main)
