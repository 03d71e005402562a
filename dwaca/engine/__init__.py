"""Training, evaluation, metrics, optimiser and checkpoints."""
from ..models.checkpoint import CheckpointError, load_checkpoint
from .checkpoint import checkpoint_path, latest_checkpoint, save_checkpoint
from .evaluation import evaluate_on_test, results_table, test_checkpoint, write_results
from .evaluator import evaluate
from .metrics import MIOU13_OF_16, ConfusionMatrix, format_table, mean_iou
from .resume import resolve_resume
from .runtime import DeviceError, resolve_device, seed_everything, setup_logger
from .solver import build_optimizer, poly_lr, set_poly_lr
from .stream import BatchStream
from .trainer import Trainer, TrainerBase, train

__all__ = ["BatchStream", "CheckpointError", "ConfusionMatrix", "DeviceError", "MIOU13_OF_16", "Trainer",
           "TrainerBase", "build_optimizer", "checkpoint_path", "evaluate", "evaluate_on_test", "format_table",
           "latest_checkpoint", "load_checkpoint", "mean_iou", "poly_lr", "resolve_device", "resolve_resume",
           "results_table", "save_checkpoint", "seed_everything", "set_poly_lr", "setup_logger", "test_checkpoint",
           "train", "write_results"]
