#!/usr/bin/env python
"""Export the next selection round's queries for human annotators (no ground truth is read):

    python tools/select_queries.py -cfg CONFIG resume OUTPUT/model_iter000039.pth OUTPUT_DIR OUTPUT --export DIR

loads the model from the checkpoint ``resume``, the pool from OUTPUT_DIR/pool, selects round ``rounds done`` with
ACTIVE.NAME / ACTIVE.SETTING and writes DIR/queries.json + DIR/queries/*.png (see dwaca/active/annotation.py).
It holds OUTPUT_DIR's lock (dwaca/utils/lock.py) throughout: while another process writes there it stops at once.
The annotators fill DIR/labels/; then run tools/import_labels.py DIR --output-dir OUTPUT.
"""
import argparse
import sys
from pathlib import Path

import torch

try:
    import dwaca  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwaca.active import LabelPool, PoolError
from dwaca.active.annotation import AnnotationError, export_queries, load_model_checked
from dwaca.config import add_config_arguments, config_from_args, config_source, make_dir, run_main
from dwaca.engine import ConfusionMatrix, evaluate_on_test, resolve_device, setup_logger
from dwaca.utils.lock import output_dir_lock


def iou_for_round(cfg, state, pool, model, device):
    """(per-class IoU or None, source, labelled pixels per class or None) as the trainer would use them for the
    pool's next round."""
    if cfg.ACTIVE.NAME != "AL-DWACA":
        return None, "none", None
    if cfg.ACTIVE.IOU_SOURCE == "val":
        return torch.tensor(list(evaluate_on_test(cfg, model, device)["per_class_iou"].values())), "val", None
    confusion = state.get("train_confusion")
    # the confusion in the checkpoint belongs to the rounds it saw; stale once the pool moved on
    if confusion is None or int(state.get("rounds_done", 0)) != pool.rounds_done or confusion.sum() == 0:
        return None, "none", None
    matrix = ConfusionMatrix(int(cfg.MODEL.NUM_CLASSES))
    matrix.mat.copy_(confusion)
    return matrix.compute()[0], "pool", matrix.support()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export a selection round's queries for annotators")
    parser.add_argument("--export", required=True, metavar="DIR", help="folder to write the queries to (new)")
    add_config_arguments(parser, interleaved=True)
    args = parser.parse_intermixed_args(argv)  # --export may come anywhere among the KEY VALUE pairs
    cfg = config_from_args(args)  # validated, the ACTIVE budget keys included
    source = config_source(args)
    if not cfg.resume:
        raise AnnotationError(f"{source}: pass the checkpoint to select with as `resume <path>`")
    if not cfg.OUTPUT_DIR:
        raise AnnotationError(f"{source}: OUTPUT_DIR is empty (the pool lives in OUTPUT_DIR/pool)")
    device = resolve_device(cfg)
    model, state = load_model_checked(cfg, cfg.resume, device)
    output_dir = make_dir(cfg.OUTPUT_DIR, "OUTPUT_DIR")
    with output_dir_lock(output_dir):  # before the log file: a refused run writes nothing
        return export_round(cfg, args.export, model, state, device)


def export_round(cfg, export_dir, model, state, device):
    """Export the pool's next round, selected with ``model`` (checkpoint ``state``), to ``export_dir``; returns the
    queries document."""
    pool = LabelPool(Path(cfg.OUTPUT_DIR) / "pool", num_classes=int(cfg.MODEL.NUM_CLASSES))
    if int(state.get("rounds_done", 0)) > pool.rounds_done:
        raise PoolError(f"checkpoint {cfg.resume} has {state['rounds_done']} rounds done, the pool at {pool.root} "
                        f"{pool.rounds_done}")
    log = setup_logger(cfg.OUTPUT_DIR, filename="select_log.txt")
    per_class_iou, iou_source, support = iou_for_round(cfg, state, pool, model, device)
    seed = state.get("seed")
    document = export_queries(cfg, model, pool, export_dir, device=device, checkpoint=cfg.resume,
                              iteration=int(state["iteration"]),  # a round runs after this many steps (trainer)
                              per_class_iou=per_class_iou, iou_source=iou_source, class_support=support,
                              seed=int(cfg.SEED if seed is None else seed))
    log.info("round %d exported to %s: %d images, %d regions, %d pixels requested (budget %d)", document["round"],
             export_dir, len(document["images"]), len(document["boxes"]), document["requested_pixels"],
             document["budget_pixels"])
    return document


if __name__ == "__main__":
    run_main(main)
