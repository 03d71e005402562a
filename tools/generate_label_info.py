#!/usr/bin/env python
"""Per-image class pixel counts of a dataset (RIPU's ``generate_*_label_info.py`` step), saved as JSON.

    python tools/generate_label_info.py -d datasets/gtav -o datasets/gtav/
    python tools/generate_label_info.py -d datasets/synthia -o datasets/synthia/ --dataset synthia

Schema of the output (``<OUT>/<dataset>_label_info.json`` when OUT is a folder, else OUT itself)::

    {"dataset": "gtav",
     "num_classes": 19,
     "class_names": ["road", ...],                 # indexed by train id
     "images": {"00001.png": [c_0, ..., c_N-1]},   # labelled pixels per train id, at the label's resolution
     "total": [t_0, ..., t_N-1]}                   # sum over images

Ignored pixels (255) are not counted. ``label_to_file`` of RIPU is ``[n for n, c in images.items() if c[k] > 0]``.
Written into the dataset's own folder (as above), this is the file class-balanced source sampling
(DATASETS.SOURCE_SAMPLING, ``dwaca.data.class_balance``) reads when that folder holds no published
``<dataset>_label_info.p``; a training run that finds neither computes it and writes it there itself.
"""
import argparse
import sys
from pathlib import Path

try:
    import dwaca  # noqa: F401  (installed package preferred)
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.config import make_dir, run_main
from dwaca.data import CityscapesDataset, GTAVDataset, SynthiaDataset
from dwaca.data.label_info import label_info_json, write_label_info_json

DEFAULT_NUM_CLASSES = {"gtav": 19, "synthia": 16, "cityscapes": 19}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", "--data-root", required=True, help="the dataset's own root, e.g. datasets/gtav")
    p.add_argument("-o", "--out", required=True, help="output folder, or a .json file")
    p.add_argument("--dataset", choices=sorted(DEFAULT_NUM_CLASSES), default="gtav")
    p.add_argument("--num-classes", type=int, choices=(19, 16, 13), help="default: 16 for synthia, else 19")
    p.add_argument("--split", default="train", help="Cityscapes split")
    p.add_argument("--list-file", help="RIPU list file restricting the images (default: all found)")
    args = p.parse_args(argv)

    out = Path(args.out)
    if out.suffix != ".json":
        out = out / f"{args.dataset}_label_info.json"
    make_dir(out.parent, f"-o {args.out}")  # before the count, which takes minutes on the real datasets
    num_classes = args.num_classes or DEFAULT_NUM_CLASSES[args.dataset]
    if args.dataset == "cityscapes":
        dataset = CityscapesDataset(args.data_root, args.split, num_classes, list_file=args.list_file)
    else:
        dataset_cls = GTAVDataset if args.dataset == "gtav" else SynthiaDataset
        dataset = dataset_cls(args.data_root, num_classes=num_classes, list_file=args.list_file)
    info = label_info_json(dataset, args.dataset)
    write_label_info_json(out, info)
    print(f"{len(info['images'])} images, {sum(info['total'])} labelled pixels -> {out}")


if __name__ == "__main__":
    run_main(main)
