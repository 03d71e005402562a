"""Training, evaluation, metrics, optimiser, checkpoints and distributed helpers."""
from . import distributed
from .checkpoint import CheckpointError, checkpoint_path, latest_checkpoint, load_checkpoint, save_checkpoint
from .evaluator import evaluate
from .metrics import MIOU13_OF_16, ConfusionMatrix, format_table, mean_iou
from .solver import build_optimizer, poly_lr, set_poly_lr
from .trainer import (BatchStream, DeviceError, evaluate_on_test, resolve_device, resolve_resume, results_table,
                      seed_everything, setup_logger, test_checkpoint, train, write_results)

__all__ = ["BatchStream", "CheckpointError", "ConfusionMatrix", "DeviceError", "MIOU13_OF_16", "build_optimizer",
           "checkpoint_path", "distributed", "evaluate", "evaluate_on_test", "format_table", "latest_checkpoint",
           "load_checkpoint", "mean_iou", "poly_lr", "resolve_device", "resolve_resume", "results_table",
           "save_checkpoint", "seed_everything", "set_poly_lr", "setup_logger", "test_checkpoint", "train",
           "write_results"]
