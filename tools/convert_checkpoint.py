#!/usr/bin/env python
"""Convert a checkpoint of the published DWACA / RIPU code into ours, checked against the model it is for:

    python tools/convert_checkpoint.py model_iter040000.pth converted.pth -cfg CONFIG
    python tools/convert_checkpoint.py IN OUT --model deeplabv2_resnet101 --num-classes 19

OUT holds our model's weights, the iteration and the config (so a mismatched MODEL.NAME / NUM_CLASSES is named
when it is loaded); it is used like IN (tools/test.py, tools/train.py ``resume OUT``, ``MODEL.WEIGHTS``... all read
the published file directly too). IN's keys and shapes must fit the model; OUT is written atomically, only then.
"""
import argparse
import io
import sys
from pathlib import Path

import torch

try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.config import at_least, config_from_args, run_main
from dwaca.models import MODEL_NAMES
from dwaca.models.build import check_checkpoint_fits
from dwaca.models.checkpoint import CheckpointError, load_checkpoint
from dwaca.utils.io import atomic_write_bytes


def main(argv=None):
    parser = argparse.ArgumentParser(description="Convert a published DWACA / RIPU checkpoint into dwaca's format")
    parser.add_argument("input", help="the published checkpoint (feature_extractor, classifier, iteration)")
    parser.add_argument("output", help="where to write the converted checkpoint")
    parser.add_argument("-cfg", "--config-file", default="", metavar="FILE", help="the config it is for")
    parser.add_argument("--model", choices=MODEL_NAMES, help="MODEL.NAME, without -cfg")
    parser.add_argument("--num-classes", type=at_least(1), help="MODEL.NUM_CLASSES, with --model")
    args = parser.parse_args(argv)
    if bool(args.config_file) == bool(args.model) or bool(args.model) != bool(args.num_classes):
        parser.error("pass either -cfg CONFIG or --model NAME --num-classes N")
    opts = ["MODEL.NAME", args.model, "MODEL.NUM_CLASSES", str(args.num_classes)] if args.model else []
    cfg = config_from_args(argparse.Namespace(config_file=args.config_file, opts=opts))
    state = load_checkpoint(args.input)
    if state.get("config"):  # ours, or converted before
        raise CheckpointError(f"{args.input} is already a dwaca checkpoint, not a published one")
    check_checkpoint_fits(args.input, state, cfg)
    state["config"] = cfg.dump()
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(args.output, buf.getvalue())
    print(f"{args.input} (iteration {state['iteration']}) -> {args.output} for {cfg.MODEL.NAME}, "
          f"{cfg.MODEL.NUM_CLASSES} classes")
    return 0


if __name__ == "__main__":
    run_main(main)
