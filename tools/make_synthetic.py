#!/usr/bin/env python
"""Write the synthetic GTAV-format source -> Cityscapes-format target benchmark (see dwaca/data/synthetic/).

    python tools/make_synthetic.py --out datasets/synthetic --seed 0

then point DATASETS.ROOT at the output folder (SOURCE_TRAIN gtav_train, TARGET_TRAIN cityscapes_train,
TEST cityscapes_val)."""
import argparse
import sys
from pathlib import Path

try:
    import dwaca  # noqa: F401  (installed package preferred)
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.config import at_least, make_dir, run_main
from dwaca.data.labels import class_names
from dwaca.data.synthetic import generate_benchmark


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output root (gets gtav/ and cityscapes/)")
    p.add_argument("--seed", type=int, default=0)
    # training draws batches from both training sets and ends evaluating on target-val: none may be empty
    p.add_argument("--num-source", type=at_least(1), default=300)
    p.add_argument("--num-target-train", type=at_least(1), default=150)
    p.add_argument("--num-target-val", type=at_least(1), default=50)
    # the generator draws any size; below 16 px its objects are a pixel or two: no segmentation benchmark
    p.add_argument("--width", type=at_least(16), default=256)
    p.add_argument("--height", type=at_least(16), default=128)
    p.add_argument("--overwrite", action="store_true", help="replace existing OUT/gtav and OUT/cityscapes")
    args = p.parse_args(argv)
    make_dir(args.out, "--out")
    try:
        stats = generate_benchmark(args.out, seed=args.seed, num_source=args.num_source,
                                   num_target_train=args.num_target_train, num_target_val=args.num_target_val,
                                   width=args.width, height=args.height, overwrite=args.overwrite)
    except FileExistsError as err:
        p.error(str(err))
    domains = list(stats["frequencies"])
    print(f"wrote {args.num_source} source, {args.num_target_train} target-train, {args.num_target_val} target-val "
          f"images of {args.width}x{args.height} to {args.out} in {stats['seconds']:.1f} s")
    print("class pixel frequency (% of labelled pixels)")
    print(f"{'class':15s}" + "".join(f"{d:>14s}" for d in domains))
    for i, name in enumerate(class_names(19)):
        print(f"{name:15s}" + "".join(f"{100 * stats['frequencies'][d][i]:14.3f}" for d in domains))


if __name__ == "__main__":
    run_main(main)
