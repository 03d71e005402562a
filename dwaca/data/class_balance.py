"""Class-balanced source sampling, as DWACA and RIPU build their source training list (DATASETS.SOURCE_SAMPLING).

The list is built up front for ``num_draws`` draws (SOLVER.MAX_ITER x SOLVER.BATCH_SIZE x processes: every image
the run will load), in sub-epochs of SUB_EPOCH_DRAWS draws, ``num_draws // SUB_EPOCH_DRAWS + 1`` of them (so the
list is a little longer than needed, as published). Each draw

1. picks class c with probability proportional to ``1 / log(1.01 + share_c)``, share_c being c's share of the
   class occurrences (each image adds 1 to each class it shows) of the images drawn so far in this sub-epoch
   (all shares 0, hence uniform, at a sub-epoch's start);
2. takes the next image of c's list (the images showing c, shuffled once at the start), reshuffling the list when
   it is exhausted;
3. adds 1 to the count of each class that image shows.

Random numbers come from a numpy Generator seeded with the run's seed, in this order: ``rng.shuffle`` of each class
list (class 0 first), then per draw one ``rng.choice(C, p=p)`` and, when c's list is exhausted, ``rng.shuffle`` of
it. (The JSON lists images in name order, consecutive GTAV frames together: hence the first shuffle.) The training
stream visits the list in a seeded permutation (``dwaca.engine.stream.BatchStream``), as the published DataLoader
(``shuffle=True``) does.

Deliberate differences from the published code:

- shuffled first: each class list starts in a seeded random order (published: the pickle's, a directory listing's).
- restart at 0: after a reshuffle the next image is the list's first (published: ``ind % (len - 1)``, the second).
- no crash: a class without images has probability 0, one with a single image repeats it (published: an error).
- unknown names refused: statistics naming images the dataset lacks are an error up front (published: at loading).
- seeded: the draws come from a Generator seeded by the run's seed, not numpy's global RNG.
- all processes: ``num_draws`` counts the images of every process of a distributed run (published: one process).

As published, source images in no class list (absent from the statistics, or without any class) are never drawn;
the trainer logs how many.
"""
from dataclasses import dataclass

import numpy as np

from .build import DATASET_CATALOG
from .label_info import LabelInfoError, load_label_statistics

SAMPLING_MODES = ("class_balanced", "uniform")
SUB_EPOCH_DRAWS = 3000
SHARE_OFFSET = 1.01  # 1 + 1e-2 in the published weights


def class_probabilities(counts, available):
    """(C,) probabilities of the next draw's class from the (C,) class counts of the sub-epoch so far; classes where
    ``available`` (C,) bool is False (no images) get 0."""
    total = counts.sum()
    share = counts / total if total > 0 else np.zeros(len(counts))
    weights = np.where(available, 1.0 / np.log(SHARE_OFFSET + share), 0.0)
    return weights / weights.sum()


def class_balanced_draws(statistics, num_draws, rng, sub_epoch=SUB_EPOCH_DRAWS):
    """The image names of ``(num_draws // sub_epoch + 1) * sub_epoch`` draws by the rule of the module doc, from
    ``statistics`` (``LabelStatistics``) and the numpy Generator ``rng``."""
    lists = [list(files) for files in statistics.label_to_file]
    for files in lists:
        rng.shuffle(files)
    available = np.array([len(files) > 0 for files in lists])
    if not available.any():
        raise LabelInfoError(f"{statistics.origin}: no class has an image to draw")
    classes_of = {name: np.asarray(ids, dtype=np.int64) for name, ids in statistics.file_to_label.items()}
    next_index = [0] * len(lists)
    draws = []
    for _ in range(num_draws // sub_epoch + 1):
        counts = np.zeros(len(lists))
        for _ in range(sub_epoch):
            c = rng.choice(len(lists), p=class_probabilities(counts, available))
            if next_index[c] == len(lists[c]):
                rng.shuffle(lists[c])
                next_index[c] = 0
            name = lists[c][next_index[c]]
            next_index[c] += 1
            draws.append(name)
            counts[classes_of[name]] += 1
    return draws


@dataclass
class SourceSampling:
    """How the source stream draws its images: ``kind`` (one of SAMPLING_MODES), the label ``statistics``
    (class_balanced only, else None) and ``num_draws``, the images the run loads over all processes."""
    kind: str
    statistics: object
    num_draws: int
    never_drawn: int = 0

    @classmethod
    def from_config(cls, cfg, dataset, world, progress=True):
        """For the source ``dataset`` of ``cfg`` trained on ``world`` processes; the statistics are read, or
        computed and cached (``dwaca.data.label_info``), and checked against ``dataset``."""
        kind = cfg.DATASETS.SOURCE_SAMPLING
        num_draws = int(cfg.SOLVER.MAX_ITER) * int(cfg.SOLVER.BATCH_SIZE) * int(world)
        if kind == "uniform":
            return cls(kind, None, num_draws)
        stats = load_label_statistics(dataset, DATASET_CATALOG[cfg.DATASETS.SOURCE_TRAIN][0], progress)
        listed = set().union(*stats.label_to_file)
        return cls(kind, stats, num_draws, sum(name not in listed for name in dataset.names))

    def identity(self):
        """What a resumed run must share with its checkpoint to continue the same stream (JSON-able)."""
        if self.statistics is None:
            return {"kind": self.kind, "statistics_sha256": None, "statistics_file": None, "draws": None}
        return {"kind": self.kind, "statistics_sha256": self.statistics.sha256,
                "statistics_file": str(self.statistics.origin), "draws": self.num_draws}

    def state(self, position):
        """The checkpoint's "source_sampler" entry: ``identity()`` and the stream's ``position`` (batches done)."""
        return {**self.identity(), "position": int(position)}

    def order(self, dataset, seed):
        """The dataset indices the stream's epochs visit (each in a seeded permutation): the class-balanced draws
        from a Generator seeded with ``seed``, or None for every sample once (uniform)."""
        if self.statistics is None:
            return None
        index = {name: i for i, name in enumerate(dataset.names)}
        names = class_balanced_draws(self.statistics, self.num_draws, np.random.default_rng(seed))
        return [index[name] for name in names]

    def describe(self):
        if self.statistics is None:
            return "uniform (every source image once per epoch)"
        return (f"class-balanced, {self.num_draws} draws from {self.statistics.origin} (sha256 "
                f"{self.statistics.sha256[:12]}); {self.never_drawn} images in no class list are never drawn")
