"""Which classes each source image shows: the statistics behind class-balanced source sampling.

Two file formats hold them, both in the dataset's own folder (``DATASETS.ROOT/gtav``, ``DATASETS.ROOT/synthia``),
looked for in this order:

1. ``<dataset>_label_info.p``: the published pickle (RIPU's ``datasets/generate_*_label_info.py``), a tuple
   ``(label_to_file, file_to_label)``: ``label_to_file[c]`` lists the names of the images that contain train id
   ``c``, ``file_to_label[name]`` the train ids of image ``name``. It is read by ``_PlainDataUnpickler``, which
   builds lists, tuples, dicts, strings and numbers only: a pickle that names any class or function (the way a
   pickle runs code) is refused before anything in it runs.
2. ``<dataset>_label_info.json``: ``tools/generate_label_info.py``'s per-image pixel counts (schema in
   ``label_info_json``); image ``name`` contains class ``c`` where its count is > 0.
3. Neither: the counts are computed from the labels once (a progress bar; minutes on the real datasets) and cached
   as the JSON of 2., written atomically.

Either way the statistics are checked against the dataset: one class list per class, class ids in range, and no
name the dataset lacks (the error names the first few and the statistics file).
"""
import hashlib
import io
import json
import pickle
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..utils.errors import UserError
from ..utils.io import atomic_write_bytes

_SHOWN = 5  # how many offending names an error lists


class LabelInfoError(UserError, ValueError):
    """Class statistics that cannot be used; the message names the file they came from."""


@dataclass(frozen=True)
class LabelStatistics:
    """label_to_file: per train id, the names of the images containing it, in the file's order.
    file_to_label: image name -> its train ids (each once). origin: the file they were read from."""
    label_to_file: tuple
    file_to_label: dict
    origin: Path

    @cached_property
    def sha256(self):
        """Hex digest of what the draws depend on: the class lists in order and each image's classes."""
        canonical = [list(map(list, self.label_to_file)), sorted(self.file_to_label.items())]
        return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles plain data only: every opcode that could import or call something goes through ``find_class``
    (globals, reductions, extension codes), and that is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"it refers to {module}.{name}; only lists, tuples, dicts, strings and numbers "
                                     "are read")


def read_label_info_pickle(path):
    """(label_to_file, file_to_label) from a published ``*_label_info.p``, structure checked; LabelInfoError naming
    ``path`` for a pickle that is not plain data of that shape."""
    try:
        data = _PlainDataUnpickler(io.BytesIO(Path(path).read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise LabelInfoError(f"{path}: refused ({err})") from err
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise LabelInfoError(f"{path}: expected a pair (label_to_file, file_to_label), got {type(data).__name__}")
    label_to_file, file_to_label = data
    if not (isinstance(label_to_file, list) and all(isinstance(files, list) and all(isinstance(f, str) for f in files)
                                                   for files in label_to_file)):
        raise LabelInfoError(f"{path}: label_to_file must be a list of lists of image names")
    if not (isinstance(file_to_label, dict) and all(
            isinstance(name, str) and isinstance(ids, list) and all(isinstance(c, int) for c in ids)
            for name, ids in file_to_label.items())):
        raise LabelInfoError(f"{path}: file_to_label must map image names to lists of integer class ids")
    return label_to_file, file_to_label


def read_label_info_json(path):
    """(label_to_file, file_to_label) from ``label_info_json``'s file: the classes with pixels in each image."""
    try:
        info = json.loads(Path(path).read_text())
        images, num_classes = info["images"], int(info["num_classes"])
        counts = {name: np.asarray(c, dtype=np.int64).reshape(num_classes) for name, c in images.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise LabelInfoError(f"{path}: not a label info file of tools/generate_label_info.py ({err})") from err
    file_to_label = {name: np.flatnonzero(c > 0).tolist() for name, c in counts.items()}
    label_to_file = [[name for name, c in counts.items() if c[k] > 0] for k in range(num_classes)]
    return label_to_file, file_to_label


def label_info_json(dataset, dataset_name, progress=True):
    """The JSON document of per-image class pixel counts of ``dataset`` (labels at full resolution; ignored pixels,
    255, not counted)::

        {"dataset": "gtav", "num_classes": 19, "class_names": ["road", ...],   # indexed by train id
         "images": {"00001.png": [c_0, ..., c_N-1]},                          # in the dataset's order
         "total": [t_0, ..., t_N-1]}                                          # sum over images
    """
    images, total = {}, np.zeros(dataset.num_classes, dtype=np.int64)
    for index in tqdm(range(len(dataset)), desc=f"{dataset_name} label info", unit="img", disable=not progress):
        counts = np.bincount(dataset.load_train_ids(index).ravel(), minlength=256)[:dataset.num_classes]
        images[dataset.names[index]] = counts.tolist()
        total += counts
    return {"dataset": dataset_name, "num_classes": dataset.num_classes, "class_names": dataset.class_names,
            "images": images, "total": total.tolist()}


def write_label_info_json(path, info):
    """Write ``label_info_json``'s document to ``path`` atomically (compact: one line)."""
    atomic_write_bytes(path, json.dumps(info, separators=(",", ":")).encode())


def _cache_label_info(path, info):
    try:
        write_label_info_json(path, info)
    except OSError as err:
        raise LabelInfoError(f"{path}: cannot cache the computed class statistics ({err.strerror or err}); write "
                             "them with tools/generate_label_info.py from an account that may") from err


def statistics_paths(dataset, dataset_name):
    """(published pickle, JSON) where the statistics of ``dataset`` are looked for: its root folder."""
    root = Path(dataset.root)
    return root / f"{dataset_name}_label_info.p", root / f"{dataset_name}_label_info.json"


def load_label_statistics(dataset, dataset_name, progress=True):
    """The ``LabelStatistics`` of ``dataset`` from the first source of the module doc that exists (computing and
    caching the JSON if none does), checked against the dataset (``check_statistics``)."""
    pickle_path, json_path = statistics_paths(dataset, dataset_name)
    if pickle_path.is_file():
        origin, (label_to_file, file_to_label) = pickle_path, read_label_info_pickle(pickle_path)
    else:
        if not json_path.is_file():
            _cache_label_info(json_path, label_info_json(dataset, dataset_name, progress))
        origin, (label_to_file, file_to_label) = json_path, read_label_info_json(json_path)
    stats = LabelStatistics(tuple(tuple(files) for files in label_to_file),
                            {name: tuple(sorted(set(ids))) for name, ids in file_to_label.items()}, origin)
    check_statistics(stats, dataset)
    return stats


def check_statistics(stats, dataset):
    """LabelInfoError naming ``stats.origin`` if the statistics do not fit ``dataset``: another number of classes,
    a class id out of range, an image name the dataset lacks, no image at all, or a class list naming an image that
    file_to_label lacks."""
    where, num_classes = stats.origin, dataset.num_classes
    if len(stats.label_to_file) != num_classes:
        raise LabelInfoError(f"{where}: {len(stats.label_to_file)} class lists, but MODEL.NUM_CLASSES is "
                             f"{num_classes}; remove the file or point DATASETS.ROOT at the matching dataset")
    bad_ids = sorted({c for ids in stats.file_to_label.values() for c in ids if not 0 <= c < num_classes})
    if bad_ids:
        raise LabelInfoError(f"{where}: class ids {bad_ids[:_SHOWN]} out of range 0..{num_classes - 1}")
    listed = set(stats.file_to_label).union(*stats.label_to_file)
    unknown = sorted(listed.difference(dataset.names))
    if unknown:
        raise LabelInfoError(f"{where}: {len(unknown)} image names that {dataset!r} does not have (first: "
                             f"{unknown[:_SHOWN]}); regenerate it with tools/generate_label_info.py or remove it")
    if not any(stats.label_to_file):
        raise LabelInfoError(f"{where}: no class list names an image")
    unlabelled = sorted(listed.difference(stats.file_to_label))
    if unlabelled:
        raise LabelInfoError(f"{where}: {len(unlabelled)} images in class lists have no entry in file_to_label "
                             f"(first: {unlabelled[:_SHOWN]})")
