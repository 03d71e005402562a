#!/usr/bin/env python
"""Evaluate a training checkpoint on DATASETS.TEST (like the seed's eval.sh):

    python tools/test.py -cfg CONFIG resume OUTPUT/model_iter040000.pth OUTPUT_DIR results/eval
    python tools/test.py -cfg CONFIG resume auto OUTPUT_DIR OUTPUT      # the newest checkpoint in OUTPUT_DIR

prints the per-class IoU table and writes OUTPUT_DIR/test_results.json (a training run's results.json in the
same OUTPUT_DIR is left as it is). TEST.FLIP (default on, as RIPU) averages over the image and its flip.
"""
import argparse
import sys
from pathlib import Path

try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.config import add_config_arguments, config_from_args, run_main
from dwaca.engine import test_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description="Evaluate a DWACA / RIPU checkpoint")
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    return test_checkpoint(cfg)


if __name__ == "__main__":
    run_main(main)
