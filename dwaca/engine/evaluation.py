"""Evaluation on DATASETS.TEST: the loader, the scores (summed over ranks), the table and results.json, and the
evaluation of a saved checkpoint (tools/test.py)."""
import contextlib
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset

from ..data import build_dataset, check_dataset, class_names
from ..models import build_model
from ..models.build import check_checkpoint_fits
from ..models.checkpoint import load_model_state
from ..utils import comm as dist
from ..utils.io import atomic_write_json, make_dir, nan_to_none
from .evaluator import evaluate
from .metrics import MIOU13_OF_16, format_table, mean_iou
from .prediction_export import PredictionExporter, export_paths
from .resume import read_resume_checkpoint, report_skipped
from .runtime import resolve_device, setup_logger


def build_test_loader(cfg, batch_size=None, dataset=None):
    """Loader over this rank's share of DATASETS.TEST (all of it in a single process) and the whole dataset;
    ``batch_size`` defaults to TEST.BATCH_SIZE, ``dataset`` (already built) to DATASETS.TEST's."""
    dataset = build_dataset(cfg, cfg.DATASETS.TEST, "test") if dataset is None else dataset
    part = dataset if dist.world_size() == 1 else Subset(dataset, dist.shard(range(len(dataset))))
    batch_size = cfg.TEST.BATCH_SIZE if batch_size is None else batch_size
    # Its own generator: iterating a loader draws a seed, which must not advance the training's global RNG.
    return DataLoader(part, batch_size=max(1, int(batch_size)), shuffle=False, num_workers=int(cfg.SOLVER.NUM_WORKERS),
                      generator=torch.Generator()), dataset


def evaluate_on_test(cfg, model, device, loader=None, batch_size=None, on_batch=None):
    """Evaluate on DATASETS.TEST (with TEST.FLIP, on the image and its flip): evaluator's dict plus "mIoU13" for
    16-class models. ``batch_size`` as ``build_test_loader``'s, ``on_batch`` as ``evaluate``'s."""
    if loader is None:
        loader, _ = build_test_loader(cfg, batch_size)
    num_classes = int(cfg.MODEL.NUM_CLASSES)
    res = evaluate(model, loader, num_classes, device, class_names(num_classes), flip=bool(cfg.TEST.FLIP),
                   on_batch=on_batch)
    if dist.world_size() > 1:  # each rank saw its shard: score the summed confusion
        confusion = res["confusion"]
        dist.all_reduce_tensor(confusion.mat)
        iou, res["mIoU"], res["pixel_acc"] = confusion.compute()
        res["per_class_iou"] = dict(zip(class_names(num_classes), iou.tolist()))
    if num_classes == 16:
        iou = torch.tensor([res["per_class_iou"][n] for n in class_names(16)], dtype=torch.float64)
        res["mIoU13"] = mean_iou(iou, MIOU13_OF_16)
    return res


def results_table(cfg, res, title=""):
    names = class_names(int(cfg.MODEL.NUM_CLASSES))
    table = format_table(names, torch.tensor([res["per_class_iou"][n] for n in names], dtype=torch.float64), title)
    if "mIoU13" in res:
        table += f"\n{'mIoU13':<{max(len(n) for n in names)}}  {100 * res['mIoU13']:6.2f}"
    return table


def write_results(output_dir, res, filename="results.json", **extra):
    """``output_dir/filename`` (atomic): mIoU, per_class_iou {name: IoU or null}, pixel_acc, [mIoU13], extra."""
    out = {"mIoU": res["mIoU"], "per_class_iou": res["per_class_iou"], "pixel_acc": res["pixel_acc"]}
    if "mIoU13" in res:
        out["mIoU13"] = res["mIoU13"]
    out.update(extra)
    path = Path(output_dir) / filename
    atomic_write_json(path, nan_to_none(out))
    return path


def prediction_exporter(cfg, dataset):
    """The exporter of tools/test.py's predictions (``prediction_export``) under OUTPUT_DIR/inference, or None with
    TEST.SAVE_PREDICTIONS False. Writes nothing yet; refuses names that would share a file."""
    if not cfg.TEST.SAVE_PREDICTIONS:
        return None
    paths = export_paths(Path(cfg.OUTPUT_DIR) / "inference", cfg.DATASETS.TEST, dataset.names, dataset.image_suffix)
    return PredictionExporter(paths, int(cfg.MODEL.NUM_CLASSES))


def test_checkpoint(cfg, log=None):
    """Evaluate the checkpoint ``cfg.resume`` (``auto``: the newest in OUTPUT_DIR) on DATASETS.TEST; write
    OUTPUT_DIR/test_results.json (not results.json: OUTPUT_DIR may be the training run's, whose results.json holds
    the run's record) and, with TEST.SAVE_PREDICTIONS, every image's predictions under OUTPUT_DIR/inference (see
    ``prediction_export``); return the dict. Bad arguments are refused before OUTPUT_DIR gets a test_log.txt."""
    if not cfg.resume:
        raise ValueError("pass the checkpoint to evaluate as `resume <path>` (or `resume auto`: the newest in "
                         "OUTPUT_DIR)")
    if not cfg.OUTPUT_DIR:
        raise ValueError("OUTPUT_DIR is empty; pass `OUTPUT_DIR <dir>`")
    checkpoint, state, skipped = read_resume_checkpoint(cfg, cfg.OUTPUT_DIR)
    if checkpoint is None:  # unlike training, there is nothing to start from
        raise FileNotFoundError(f"resume auto: no model_iter*.pth checkpoint in OUTPUT_DIR {cfg.OUTPUT_DIR}")
    device = resolve_device(cfg)
    check_checkpoint_fits(checkpoint, state, cfg)
    dataset = build_dataset(cfg, cfg.DATASETS.TEST, "test")
    check_dataset(dataset)
    exporter = prediction_exporter(cfg, dataset)
    log = log or setup_logger(make_dir(cfg.OUTPUT_DIR, "OUTPUT_DIR"), filename="test_log.txt")
    report_skipped(log, skipped, checkpoint)
    model = build_model(cfg).to(device)
    load_model_state(model, state, checkpoint)
    with exporter or contextlib.nullcontext():
        res = evaluate_on_test(cfg, model, device, loader=build_test_loader(cfg, dataset=dataset)[0],
                               on_batch=exporter)
    if exporter is not None:
        log.info("%d predictions saved under %s", exporter.submitted, Path(cfg.OUTPUT_DIR) / "inference")
    table = results_table(cfg, res, title=f"{checkpoint} on {cfg.DATASETS.TEST}")
    log.info("\n%s", table)  # the logger writes to stdout too
    path = write_results(cfg.OUTPUT_DIR, res, "test_results.json", iteration=int(state["iteration"]),
                         checkpoint=str(checkpoint), dataset=cfg.DATASETS.TEST)
    log.info("mIoU %.2f%%, results written to %s", 100 * res["mIoU"], path)
    return res


test_checkpoint.__test__ = False  # not a pytest test
