#!/usr/bin/env python
"""Evaluate a training checkpoint on DATASETS.TEST (like the seed's eval.sh):

    python tools/test.py -cfg CONFIG resume OUTPUT/model_iter040000.pth OUTPUT_DIR results/eval
    python tools/test.py -cfg CONFIG resume auto OUTPUT_DIR OUTPUT      # the newest checkpoint in OUTPUT_DIR

prints the per-class IoU table and writes OUTPUT_DIR/test_results.json (a training run's results.json in the
same OUTPUT_DIR is left as it is). TEST.FLIP (default on, as RIPU) averages over the image and its flip.

Unless TEST.SAVE_PREDICTIONS is False, every test image's prediction is saved twice, at the label's resolution:

    OUTPUT_DIR/inference/<DATASETS.TEST>/<image file name>             RGB, Cityscapes colours (as the published
                                                                       test.py; 16-class ids as their 19-class ids)
    OUTPUT_DIR/inference/<DATASETS.TEST>_labelIds/<key>_labelIds.png   Cityscapes label ids, 8-bit grayscale

(<key>: the image file name without its suffix, e.g. aachen_000000_000019).

The second folder is what cityscapesscripts' evaluation reads (it searches its folder recursively and refuses an
image with two matching files, so point it at that folder, not at inference/):

    CITYSCAPES_DATASET=datasets/cityscapes CITYSCAPES_RESULTS=OUTPUT_DIR/inference/cityscapes_val_labelIds \
        csEvalPixelLevelSemanticLabeling
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
