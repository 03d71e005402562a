"""Class-balanced source sampling (dwaca.data.class_balance, dwaca.data.label_info): the draw rule against a
straightforward re-implementation written from its description, the statistics' three sources and their checks, the
restricted unpickler, and the stream built on the draws (resume, sharding)."""
import json
import math
import os
import pickle

import numpy as np
import pytest
import torch

from dwaca.config import ConfigError, load_config, validate_config
from dwaca.data import GTAVDataset
from dwaca.data import label_info
from dwaca.data.class_balance import SourceSampling, class_balanced_draws, class_probabilities
from dwaca.data.label_info import (LabelInfoError, LabelStatistics, load_label_statistics, read_label_info_pickle,
                                   statistics_paths)
from dwaca.engine import Trainer, train
from dwaca.engine.resume import check_source_sampler, source_position
from dwaca.engine.stream import BatchStream

from conftest import CONFIG, REPO, file_bytes

torch.set_num_threads(1)

# 5 classes; class 3 in one image only, class 4 in none
TABLE = {"a.png": [0, 1], "b.png": [0, 1, 2], "c.png": [0], "d.png": [0, 2], "e.png": [0, 1, 3], "f.png": [1],
         "g.png": [0, 1], "h.png": [2]}
NUM_CLASSES = 5


def statistics(table=TABLE, num_classes=NUM_CLASSES, origin="table"):
    label_to_file = tuple(tuple(n for n, ids in table.items() if c in ids) for c in range(num_classes))
    return LabelStatistics(label_to_file, {n: tuple(ids) for n, ids in table.items()}, origin)


def reference_draws(label_to_file, file_to_label, num_classes, num_draws, seed, sub_epoch):
    """The published rule, written out plainly: per sub-epoch, class weights 1 / log(1.01 + share), the next image of
    the class's (initially shuffled) list, reshuffled and restarted at 0 when exhausted; empty classes weigh 0."""
    rng = np.random.default_rng(seed)
    lists = [list(files) for files in label_to_file]
    for files in lists:
        rng.shuffle(files)
    position = [0] * num_classes
    out = []
    for _ in range(num_draws // sub_epoch + 1):
        seen = [0] * num_classes
        for _ in range(sub_epoch):
            total = sum(seen)
            weights = [0.0 if not lists[c] else 1 / math.log(1.01 + (seen[c] / total if total else 0.0))
                       for c in range(num_classes)]
            c = int(rng.choice(num_classes, p=np.array(weights) / sum(weights)))
            if position[c] >= len(lists[c]):
                rng.shuffle(lists[c])
                position[c] = 0
            name = lists[c][position[c]]
            position[c] += 1
            out.append(name)
            for k in set(file_to_label[name]):
                seen[k] += 1
    return out


class RecordingRng:
    """A Generator that records the class probabilities it is asked to draw from."""

    def __init__(self, seed):
        self.rng, self.probabilities = np.random.default_rng(seed), []

    def choice(self, n, p):
        self.probabilities.append(np.array(p))
        return self.rng.choice(n, p=p)

    def shuffle(self, x):
        self.rng.shuffle(x)


# -- the draw rule ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed, num_draws, sub_epoch", [(0, 30, 7), (1, 50, 4), (2, 10, 3000)])
def test_draws_equal_a_plain_reimplementation(seed, num_draws, sub_epoch):
    stats = statistics()
    ours = class_balanced_draws(stats, num_draws, np.random.default_rng(seed), sub_epoch=sub_epoch)
    assert len(ours) == (num_draws // sub_epoch + 1) * sub_epoch
    assert ours == reference_draws(stats.label_to_file, stats.file_to_label, NUM_CLASSES, num_draws, seed, sub_epoch)


def test_first_draws_of_a_sub_epoch_have_the_published_probabilities():
    rng = RecordingRng(5)
    draws = class_balanced_draws(statistics(), 9, rng, sub_epoch=4)  # 3 sub-epochs of 4
    for start in (0, 4, 8):  # uniform over the classes that have images (class 4 has none)
        assert rng.probabilities[start] == pytest.approx([0.25, 0.25, 0.25, 0.25, 0.0])
    for k in (1, 5, 9):  # after one image: 1 / log(1.01 + share), share over that image's classes
        first = TABLE[draws[k - 1]]
        weights = [1 / math.log(1.01 + (c in first) / len(first)) for c in range(4)] + [0.0]
        assert rng.probabilities[k] == pytest.approx(np.array(weights) / sum(weights))
    assert class_probabilities(np.array([3.0, 1.0, 0.0]), np.array([True, True, False])) == pytest.approx(
        np.array([1 / math.log(1.76), 1 / math.log(1.26), 0.0]) / (1 / math.log(1.76) + 1 / math.log(1.26)))


def test_rare_classes_are_drawn_far_more_often_than_uniformly():
    table = {f"{i:03d}.png": [0, 1] if i % 10 else [0] for i in range(200)}
    table["rare1.png"], table["rare2.png"] = [0, 2], [0, 1, 2]
    stats = statistics(table, 3)
    draws = class_balanced_draws(stats, 3000, np.random.default_rng(0))
    rare = sum(name.startswith("rare") for name in draws) / len(draws)
    assert rare > 20 * 2 / len(table)  # uniform sampling: 1%; here about a third of the draws


def test_exhausted_lists_are_reshuffled_and_restart_at_their_first_image():
    table = {"x1": [0], "x2": [0], "x3": [0], "y1": [1], "y2": [1], "z1": [2]}  # class 3: no image
    draws = class_balanced_draws(statistics(table, 4), 200, np.random.default_rng(3), sub_epoch=50)
    for prefix, size in (("x", 3), ("y", 2), ("z", 1)):
        mine = [name for name in draws if name.startswith(prefix)]
        assert len(mine) > 4 * size
        passes = [mine[i:i + size] for i in range(0, len(mine) - size + 1, size)]
        assert all(sorted(p) == sorted(n for n in table if n.startswith(prefix)) for p in passes)
    orders = {tuple(p) for p in (lambda m: [m[i:i + 3] for i in range(0, len(m) - 2, 3)])(
        [n for n in draws if n.startswith("x")])}
    assert len(orders) > 1  # reshuffled, not replayed


def test_draws_are_deterministic_per_seed_and_leave_the_global_rng_alone():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    first = class_balanced_draws(statistics(), 100, np.random.default_rng(7), sub_epoch=20)
    assert np.array_equal(np.random.get_state()[1], before)
    assert first == class_balanced_draws(statistics(), 100, np.random.default_rng(7), sub_epoch=20)
    assert first != class_balanced_draws(statistics(), 100, np.random.default_rng(8), sub_epoch=20)


# -- where the statistics come from ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bench(make_benchmark):
    return make_benchmark(seed=2, num_source=6, num_target_train=2, num_target_val=2)


@pytest.fixture
def source(bench, tmp_path):
    """A private copy of the benchmark's source set (the statistics files are written beside it)."""
    for sub in ("images", "labels"):
        (tmp_path / "gtav" / sub).mkdir(parents=True)
        for f in (bench / "gtav" / sub).iterdir():
            (tmp_path / "gtav" / sub / f.name).write_bytes(f.read_bytes())
    return GTAVDataset(tmp_path / "gtav")


def test_statistics_are_computed_once_and_cached_as_json(source, monkeypatch):
    pickle_path, json_path = statistics_paths(source, "gtav")
    stats = load_label_statistics(source, "gtav", progress=False)
    assert stats.origin == json_path and not pickle_path.exists()
    info = json.loads(json_path.read_text())
    assert info == label_info.label_info_json(source, "gtav", progress=False)
    for index, name in enumerate(source.names):
        present = np.flatnonzero(np.bincount(source.load_train_ids(index).ravel(), minlength=256)[:19]).tolist()
        assert list(stats.file_to_label[name]) == present
    monkeypatch.setattr(label_info, "label_info_json", lambda *a, **k: pytest.fail("recomputed"))
    assert load_label_statistics(source, "gtav").sha256 == stats.sha256


def test_json_then_pickle_take_precedence(source):
    pickle_path, json_path = statistics_paths(source, "gtav")
    info = label_info.label_info_json(source, "gtav", progress=False)
    first = source.names[0]
    info["images"][first] = [0] * 18 + [5]  # only bicycle
    json_path.write_text(json.dumps(info))
    stats = load_label_statistics(source, "gtav")
    assert stats.origin == json_path and stats.file_to_label[first] == (18,)
    assert stats.label_to_file[18][0] == first
    label_to_file = [[n for n in source.names if c == 0] for c in range(19)]
    pickle_path.write_bytes(pickle.dumps((label_to_file, {n: [0] for n in source.names}), protocol=3))
    stats = load_label_statistics(source, "gtav")
    assert stats.origin == pickle_path and stats.label_to_file[0] == tuple(source.names)
    assert all(ids == (0,) for ids in stats.file_to_label.values())


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _TouchPath:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("payload", [_Exploit, _TouchPath])
def test_a_pickle_that_would_run_code_is_refused_without_running_it(source, payload):
    pickle_path, _ = statistics_paths(source, "gtav")
    marker = pickle_path.parent / "marker"
    pickle_path.write_bytes(pickle.dumps(([[]] * 19, {"x": payload(marker)})))
    with pytest.raises(LabelInfoError, match=r"gtav_label_info\.p: refused .*refers to (posix|builtins|io)"):
        read_label_info_pickle(pickle_path)
    with pytest.raises(LabelInfoError, match=r"gtav_label_info\.p"):
        load_label_statistics(source, "gtav")
    assert not marker.exists()


def test_statistics_that_do_not_fit_the_dataset_are_refused_naming_the_file(source):
    pickle_path, _ = statistics_paths(source, "gtav")

    def write(label_to_file, file_to_label):
        pickle_path.write_bytes(pickle.dumps((label_to_file, file_to_label)))

    names = source.names
    write([list(names)] + [[]] * 18, {n: [0] for n in names + ["99999.png", "88888.png"]})
    with pytest.raises(LabelInfoError, match=r"gtav_label_info\.p: 2 image names .*'88888.png', '99999.png'"):
        load_label_statistics(source, "gtav")
    write([list(names)] + [[]] * 18, {n: [0, 19] for n in names})
    with pytest.raises(LabelInfoError, match=r"class ids \[19\] out of range 0..18"):
        load_label_statistics(source, "gtav")
    write([list(names)] * 16, {n: [0] for n in names})
    with pytest.raises(LabelInfoError, match="16 class lists, but MODEL.NUM_CLASSES is 19"):
        load_label_statistics(source, "gtav")
    write([list(names)] + [[]] * 18, {n: [0] for n in names[1:]})
    with pytest.raises(LabelInfoError, match="no entry in file_to_label"):
        load_label_statistics(source, "gtav")
    write([[]] * 19, {n: [] for n in names})
    with pytest.raises(LabelInfoError, match="no class list names an image"):
        load_label_statistics(source, "gtav")
    write({"not": "a list"}, {})
    with pytest.raises(LabelInfoError, match="label_to_file must be a list"):
        load_label_statistics(source, "gtav")


def test_images_absent_from_the_statistics_are_never_drawn(source):
    pickle_path, _ = statistics_paths(source, "gtav")
    kept = source.names[:3]
    pickle_path.write_bytes(pickle.dumps(([list(kept)] + [[]] * 18, {n: [0] for n in kept})))
    sampling = SourceSampling.from_config(_cfg(source.root.parent, "class_balanced"), source, world=1)
    assert sampling.never_drawn == len(source.names) - 3
    assert {source.names[i] for i in sampling.order(source, seed=0)} == set(kept)


# -- the stream -----------------------------------------------------------------------------------------------------
def _cfg(root, mode, *extra):
    return load_config(str(CONFIG), ["DATASETS.ROOT", str(root), "DATASETS.SOURCE_SAMPLING", mode,
                                     "SOLVER.MAX_ITER", "40", "SOLVER.STOP_ITER", "4", "SOLVER.BATCH_SIZE", "2",
                                     "SOLVER.NUM_WORKERS", "0", *map(str, extra)])


class Names(torch.utils.data.Dataset):
    """Items that are only their index."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return index


def _names(stream, steps):
    return [stream.next() for _ in range(steps)]


def test_a_resumed_stream_continues_the_uninterrupted_one(source):
    cfg = _cfg(source.root.parent, "class_balanced")
    sampling = SourceSampling.from_config(cfg, source, world=1)
    draws = sampling.order(source, seed=11)
    assert len(draws) == 3000  # 40 x 2 draws, one sub-epoch
    whole = _names(BatchStream(Names(len(source)), 2, seed=11, draws=draws), 12)
    first = BatchStream(Names(len(source)), 2, seed=11, draws=draws)
    head = _names(first, 5)
    state = {"source_sampler": sampling.state(first.position)}
    again = SourceSampling.from_config(cfg, source, world=1)
    check_source_sampler("ckpt", state, again.identity())
    resumed = BatchStream(Names(len(source)), 2, seed=11, draws=again.order(source, seed=11),
                          position=source_position(state, 0))
    assert [b.tolist() for b in head + _names(resumed, 7)] == [b.tolist() for b in whole]


def test_ranks_take_disjoint_slices_whose_union_is_the_single_process_batch():
    draws = list(np.random.default_rng(0).permutation(60))  # distinct, so slices can be told apart
    for world in (2, 3):
        single = BatchStream(Names(60), 2 * world, seed=4, draws=draws)
        ranks = [BatchStream(Names(60), 2, seed=4, draws=draws, rank=r, world=world) for r in range(world)]
        for _ in range(2 * single.per_epoch):  # over an epoch boundary
            parts = [set(stream.next().tolist()) for stream in ranks]
            assert sum(map(len, parts)) == len(set().union(*parts)) == 2 * world
            assert set().union(*parts) == set(single.next().tolist())


def test_sharded_class_balanced_batches_are_the_single_process_batches(source):
    draws = SourceSampling.from_config(_cfg(source.root.parent, "class_balanced"), source, world=2).order(source, 5)
    single = BatchStream(Names(len(source)), 4, seed=5, draws=draws)
    ranks = [BatchStream(Names(len(source)), 2, seed=5, draws=draws, rank=r, world=2) for r in range(2)]
    for _ in range(10):
        assert sorted(ranks[0].next().tolist() + ranks[1].next().tolist()) == sorted(single.next().tolist())


# -- config, checkpoints and the trainer -----------------------------------------------------------------------------
def test_the_config_key_is_checked_and_set_in_every_shipped_config():
    with pytest.raises(ConfigError, match="DATASETS.SOURCE_SAMPLING must be one of class_balanced, uniform"):
        validate_config(load_config(str(CONFIG), ["DATASETS.SOURCE_SAMPLING", "balanced"]))
    for path in sorted((REPO / "configs").glob("*/*.yaml")):
        expected = "uniform" if path.parent.name == "synthetic" else "class_balanced"
        assert load_config(str(path)).DATASETS.SOURCE_SAMPLING == expected, path


def test_resuming_with_other_sampling_is_refused():
    balanced = {"kind": "class_balanced", "statistics_sha256": "a" * 64, "statistics_file": "s.p", "draws": 80}
    check_source_sampler("ck", {"source_sampler": dict(balanced, position=3)}, balanced)
    check_source_sampler("ck", {}, {"kind": "uniform", "statistics_sha256": None, "draws": None})
    with pytest.raises(ValueError, match="ck drew its source batches with DATASETS.SOURCE_SAMPLING 'uniform'"):
        check_source_sampler("ck", {}, balanced)  # written before class-balanced sampling existed
    with pytest.raises(ValueError, match=r"sha256 aaaaaaaaaaaa \(s.p\), t.json has bbbbbbbbbbbb"):
        check_source_sampler("ck", {"source_sampler": balanced},
                             dict(balanced, statistics_sha256="b" * 64, statistics_file="t.json"))
    with pytest.raises(ValueError, match="built for 80 images .*this run for 160"):
        check_source_sampler("ck", {"source_sampler": balanced}, dict(balanced, draws=160))


def test_the_trainer_saves_and_resumes_the_class_balanced_stream(bench, tmp_path):
    tiny = ["INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
            "INPUT.INPUT_SIZE_TEST", "(64, 32)", "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)", "SOLVER.CHECKPOINT_PERIOD",
            "2", "ACTIVE.SELECT_ITER", "[10]", "SEED", "3", "MODEL.DEVICE", "cpu", "SOLVER.STOP_ITER", "2"]
    train(_cfg(bench, "class_balanced", "OUTPUT_DIR", tmp_path / "run", *tiny))
    saved = torch.load(tmp_path / "run" / "model_iter000002.pth", weights_only=False)["source_sampler"]
    assert saved["kind"] == "class_balanced" and saved["position"] == 2 and saved["draws"] == 80
    reference = Trainer(_cfg(bench, "class_balanced", "OUTPUT_DIR", tmp_path / "ref", *tiny))
    reference.resume_or_load()
    reference.close()
    resumed = Trainer(_cfg(bench, "class_balanced", "OUTPUT_DIR", tmp_path / "run", *tiny, "resume", "auto"))
    resumed.resume_or_load()
    resumed.close()
    assert resumed.src_stream.position == 2
    assert [b["name"] for b in _names(reference.src_stream, 5)][2:] == [b["name"] for b in
                                                                           _names(resumed.src_stream, 3)]
    before = file_bytes(tmp_path / "run")
    with pytest.raises(ValueError, match="DATASETS.SOURCE_SAMPLING 'class_balanced', this run with 'uniform'"):
        Trainer(_cfg(bench, "uniform", "OUTPUT_DIR", tmp_path / "run", *tiny, "resume", "auto"))
    assert file_bytes(tmp_path / "run") == before  # refused before anything is written
    assert saved["statistics_file"].endswith("gtav_label_info.json")
