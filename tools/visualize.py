#!/usr/bin/env python
"""Figures for active selection runs (matplotlib, Agg backend).

    python tools/visualize.py --data demo_out/data --run demo_out/dwaca_RA_5 --out selected.png [--index 0]
                                [--num-classes 16]

draws the regions a run's pool holds over a target training image, in the class set of the run's
MODEL.NUM_CLASSES (read from RUN/config.yaml; ``--num-classes`` overrides it). Library functions:

* ``overlay_annotations(image, mask, num_classes)``: image with the annotated pixels painted in their class colour;
* ``plot_selected_regions(path, image, masks, gt=None, num_classes=19)``: one panel per run (plus ground truth);
* ``plot_per_class_iou(path, class_names, results)``: grouped bars of per-class IoU, one colour per method.
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.config import at_least, run_main  # noqa: E402
from dwaca.data import colorize  # noqa: E402

NOT_ANNOTATED = 255


def overlay_annotations(image, mask, num_classes=19, dim=0.45):
    """(H, W, 3) uint8 image, (H, W) pool mask (class ids, 254 annotated void, 255 not annotated) -> (H, W, 3)
    uint8: the image dimmed by ``dim`` everywhere except the annotated pixels, which show their class colour
    (annotated void in white)."""
    image = np.asarray(image, dtype=np.float32)
    out = image * dim
    if mask is not None:
        mask = np.asarray(mask)
        annotated = mask != NOT_ANNOTATED
        colours = colorize(mask, num_classes).astype(np.float32)
        colours[mask == 254] = 255
        out[annotated] = colours[annotated]
    return np.clip(out, 0, 255).astype(np.uint8)


def png_path(path):
    """``path`` with ".png" added when it has none: the file savefig writes (it appends its default format's)."""
    path = Path(path)
    return path if path.suffix else path.with_suffix(".png")


def plot_selected_regions(path, image, masks, gt=None, num_classes=19, title=None):
    """Save a figure: the image, each run's annotations over it (``masks``: {label: pool mask or None}) and the
    ground truth if given."""
    panels = [("target image", np.asarray(image))]
    for label, mask in masks.items():
        n = 0 if mask is None else int((np.asarray(mask) != NOT_ANNOTATED).sum())
        panels.append((f"{label}: {n} px annotated", overlay_annotations(image, mask, num_classes)))
    if gt is not None:
        panels.append(("ground truth", colorize(gt, num_classes)))
    h, w = np.asarray(image).shape[:2]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.5, len(panels) * 6.5 * h / w + 0.6), squeeze=False)
    for ax, (label, img) in zip(axes[:, 0], panels):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = png_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_per_class_iou(path, class_names, results, title="per-class IoU"):
    """Grouped bar chart. results: {method label: {class name: IoU fraction or None/NaN}}."""
    methods = list(results)
    x = np.arange(len(class_names))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(12, 4))
    for i, m in enumerate(methods):
        vals = [results[m].get(c) for c in class_names]
        vals = [np.nan if v is None else 100 * v for v in vals]
        finite = [v for v in vals if not np.isnan(v)]
        miou = np.mean(finite) if finite else float("nan")
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, np.nan_to_num(vals), width, label=f"{m} (mIoU {miou:.1f})")
    ax.set_xticks(x)
    ax.set_xticklabels(class_names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("IoU (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = png_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def load_run_mask(run_dir, name):
    """The pool mask a run holds for target sample ``name`` (None if none), read through its manifest."""
    from dwaca.active import LabelPool
    return LabelPool(Path(run_dir) / "pool").mask(name)


def run_num_classes(run_dir):
    """MODEL.NUM_CLASSES of a run, from the config.yaml its training wrote; FileNotFoundError without one."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"--run {run_dir}: no config.yaml to read MODEL.NUM_CLASSES from; pass --num-classes")
    return int(((yaml.safe_load(path.read_text()) or {}).get("MODEL") or {}).get("NUM_CLASSES", 19))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="DATASETS.ROOT of the run (holds cityscapes/)")
    p.add_argument("--run", action="append", required=True, help="OUTPUT_DIR of a run (repeatable)")
    p.add_argument("--out", required=True, help="output PNG (.png added when it has no suffix)")
    p.add_argument("--index", type=at_least(0), default=0, help="target training image index")
    p.add_argument("--num-classes", type=int, choices=(19, 16, 13),
                   help="class set of the colours and ground truth (default: the runs' MODEL.NUM_CLASSES)")
    args = p.parse_args(argv)
    for run in args.run:  # a mistyped folder would otherwise draw as a run with nothing annotated
        if not (Path(run) / "pool" / "manifest.json").is_file():
            raise FileNotFoundError(f"--run {run}: no pool/manifest.json there (expected the OUTPUT_DIR of a run "
                                    "with a selection round)")
    num_classes = args.num_classes
    if num_classes is None:
        found = {run: run_num_classes(run) for run in args.run}
        if len(set(found.values())) > 1:
            raise ValueError(f"the runs have different MODEL.NUM_CLASSES ({found}); pass --num-classes")
        num_classes = found[args.run[0]]
    from dwaca.data import CityscapesDataset
    ds = CityscapesDataset(Path(args.data) / "cityscapes", "train", num_classes)
    if args.index >= len(ds):
        raise ValueError(f"--index {args.index} is out of range: {ds.root} has {len(ds)} training images "
                         f"(0 to {len(ds) - 1})")
    gt = ds.load_train_ids(args.index)
    image = ds.load_image(args.index, gt.shape).permute(1, 2, 0).numpy()
    masks = {Path(r).name: load_run_mask(r, ds.names[args.index]) for r in args.run}
    print(plot_selected_regions(args.out, image, masks, gt, num_classes, title=ds.names[args.index]))
    return json.dumps({k: None if v is None else int((v != 255).sum()) for k, v in masks.items()})


if __name__ == "__main__":
    run_main(main)
