"""A run's curves: ``OUTPUT_DIR/metrics.jsonl``, one JSON object per line, and with LOG.TENSORBOARD the same
scalars as TensorBoard event files under ``OUTPUT_DIR/tensorboard``.

Every record has "kind" and "iteration" (optimisation steps done):

* "train", every logged iteration: "lr", "loss/<name>" for each loss, "seconds_per_iter";
* "round", each selection round: "round" (1-based), "strategy", "pixels" and "regions" bought, the pool's
  "pixels_total" and "budget_pixels", "seconds", "forward_s_per_image", "select_s_per_image", "class_weights" (the
  round's per-class weights, uniform for strategies without any), "iou_source" and "class_pixels" (the ground-truth
  classes of the pixels bought: one count per class, then the ignored pixels);
* "eval", each evaluation on DATASETS.TEST: "dataset", "mIoU" (a fraction, as in results.json) and "per_class_iou"
  ({class name: IoU or null}).

The file is appended to and flushed line by line, so a resumed run continues it; records of iterations beyond the
checkpoint that an interrupted attempt wrote are then written again, and ``read_metrics`` keeps the last record of
each (kind, iteration).
"""
import json
import math
from pathlib import Path

from ..utils.errors import UserError
from ..utils.io import nan_to_none

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


class TensorBoardMissing(UserError, ImportError):
    """LOG.TENSORBOARD is on but the tensorboard package is not installed."""


def check_tensorboard():
    """TensorBoardMissing naming LOG.TENSORBOARD if the tensorboard package cannot be imported."""
    try:
        import tensorboard  # noqa: F401
    except ImportError as err:
        raise TensorBoardMissing("LOG.TENSORBOARD True needs the tensorboard package (pip install tensorboard); "
                                 "set LOG.TENSORBOARD False to write metrics.jsonl only") from err


class MetricsLog:
    """Writes the records of one run (rank 0's; every other rank passes ``output_dir`` None and writes nothing).
    ``start_iter``: the iteration the run starts at; TensorBoard drops its events beyond it (an interrupted
    attempt's)."""

    def __init__(self, output_dir, tensorboard=False, start_iter=0):
        self._file = self._writer = None
        if output_dir is None:
            return
        self._file = open(Path(output_dir) / METRICS_FILE, "a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(str(Path(output_dir) / TENSORBOARD_DIR), purge_step=start_iter + 1)

    def write(self, kind, iteration, **values):
        """One record; its numbers (and a dict's, per key) go to TensorBoard as ``kind/name`` at ``iteration``."""
        if self._file is None:
            return
        record = {"kind": kind, "iteration": int(iteration), **nan_to_none(values)}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            self._add_scalars(kind, iteration, values)

    def _add_scalars(self, kind, iteration, values):
        for name, value in values.items():
            items = value.items() if isinstance(value, dict) else [("", value)]
            for key, x in items:
                if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
                    tag = f"{kind}/{name}/{key}" if key else f"{kind}/{name}"
                    self._writer.add_scalar(tag, x, int(iteration))
        self._writer.flush()

    def close(self):
        if self._file is not None:
            self._file.close()
        if self._writer is not None:
            self._writer.close()
        self._file = self._writer = None


def read_metrics(output_dir, kind=None):
    """The records of ``OUTPUT_DIR/metrics.jsonl`` (of ``kind`` if given), in iteration order, the last of each
    (kind, iteration): see the module doc. A torn last line (the process was killed while writing it) is left out;
    a malformed line elsewhere is a ValueError naming the file and line."""
    path = Path(output_dir) / METRICS_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    latest = {}
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines):
                break
            raise ValueError(f"{path} line {number} is not a JSON object: {err}") from err
        if kind is None or record.get("kind") == kind:
            latest[(record["kind"], record["iteration"])] = record
    return sorted(latest.values(), key=lambda r: (r["iteration"], r["kind"]))
