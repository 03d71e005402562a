"""The synthetic benchmark generator and the two dataset tools."""
import json

import numpy as np
import pytest
from PIL import Image

from dwaca.data import CityscapesDataset, GTAVDataset
from dwaca.data.synthetic import SOURCE_STYLE, TARGET_STYLE, generate_benchmark, render_scene

from conftest import file_bytes, run_tool

SMALL = dict(num_source=3, num_target_train=4, num_target_val=2, width=64, height=32)
# Cityscapes label ids the generator may write: void 0 and 1, and the ids of the 19 evaluated classes.
WRITABLE_IDS = {0, 1, 7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    generate_benchmark(out, seed=3, **SMALL)
    return out


def test_layout_is_the_real_datasets(bench):
    expected = {f"gtav/{kind}/{i:05d}.png" for kind in ("images", "labels") for i in (1, 2, 3)}
    for split, cities, n in (("train", ("aachen", "bochum", "bremen"), 4), ("val", ("frankfurt", "lindau", "munster"), 2)):
        for i in range(n):
            city = cities[i % 3]
            stem = f"{city}/{city}_{i // 3:06d}_000019"
            expected |= {f"cityscapes/leftImg8bit/{split}/{stem}_leftImg8bit.png",
                         f"cityscapes/gtFine/{split}/{stem}_gtFine_labelIds.png"}
    assert set(file_bytes(bench, "*.png")) == expected
    info = json.loads((bench / "synthetic_info.json").read_text())
    assert info["seed"] == 3 and len(info["class_pixel_frequencies"]["source"]) == 19
    label = Image.open(bench / "gtav/labels/00001.png")
    assert label.mode == "P" and label.size == (64, 32)
    assert Image.open(bench / "cityscapes/gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png").mode == "L"


def test_labels_are_cityscapes_label_ids_not_train_ids(bench):
    ids = set()
    for path in list((bench / "gtav/labels").glob("*.png")) + list((bench / "cityscapes/gtFine").rglob("*.png")):
        ids |= set(np.unique(np.array(Image.open(path))).tolist())
    assert ids <= WRITABLE_IDS
    assert {7, 11, 23} <= ids  # road, building and sky are in every scene
    src, val = GTAVDataset(bench / "gtav"), CityscapesDataset(bench / "cityscapes", "val")
    assert len(src) == 3 and len(val) == 2 and src[0]["image"].shape == (3, 32, 64)
    assert {0, 2, 10} <= set(src[0]["label"].unique().tolist())


def test_same_seed_same_bytes_other_seed_other_bytes(bench, tmp_path):
    generate_benchmark(tmp_path / "again", seed=3, **SMALL)
    generate_benchmark(tmp_path / "other", seed=4, **SMALL)
    same, other = file_bytes(tmp_path / "again", "*.png"), file_bytes(tmp_path / "other", "*.png")
    assert same == file_bytes(bench, "*.png")
    assert set(other) == set(same) and all(other[k] != same[k] for k in same if "leftImg8bit" in k or "images" in k)


def test_refuses_to_mix_with_an_existing_benchmark(bench, tmp_path):
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_benchmark(bench, seed=5, **SMALL)
    generate_benchmark(tmp_path, seed=5, num_source=4, num_target_train=1, num_target_val=1, width=32, height=16)
    generate_benchmark(tmp_path, seed=5, overwrite=True, **SMALL)
    assert len(list((tmp_path / "gtav/images").iterdir())) == 3


def test_domains_differ_in_appearance_and_content():
    n = 24
    stats = {}
    for style in (SOURCE_STYLE, TARGET_STYLE):
        scenes = [render_scene(style, 64, 128, np.random.default_rng([0, i])) for i in range(n)]
        images = np.stack([s[0] for s in scenes]).astype(np.float64)
        labels = np.stack([s[1] for s in scenes])
        road = images[labels == 0]
        saturation = (road.max(1) - road.min(1)).mean()
        rare = np.isin(labels, [5, 6, 7, 11, 12, 17, 18]).mean()  # pole, light, sign, person, rider, motorbike, bike
        stats[style.name] = saturation, rare, (labels == 254).mean()
    assert stats["source"][0] > 1.3 * stats["target"][0]  # the source renders colours more saturated
    assert stats["target"][1] > 1.3 * stats["source"][1]  # rare classes rarer in the source
    assert stats["source"][2] == 0 < stats["target"][2]  # only the target camera sees its bonnet (void)


def test_make_synthetic_tool_prints_the_summary(tmp_path, monkeypatch, capsys):
    argv = ["--out", tmp_path, "--seed", 1, "--num-source", 2, "--num-target-train", 1, "--num-target-val", 1,
            "--width", 32, "--height", 16]
    assert run_tool("make_synthetic", argv, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "traffic light" in out and "target_val" in out
    assert len(list((tmp_path / "gtav/images").iterdir())) == 2


def test_generate_label_info_counts_pixels_per_image(bench, tmp_path, monkeypatch):
    assert run_tool("generate_label_info", ["-d", bench / "gtav", "-o", tmp_path], monkeypatch) == 0
    info = json.loads((tmp_path / "gtav_label_info.json").read_text())
    assert info["num_classes"] == 19 and info["class_names"][18] == "bicycle"
    dataset = GTAVDataset(bench / "gtav")
    assert list(info["images"]) == dataset.names
    for index, name in enumerate(dataset.names):
        expected = np.bincount(dataset.load_train_ids(index).ravel(), minlength=256)[:19]
        assert info["images"][name] == expected.tolist()
    assert info["total"] == np.sum(list(info["images"].values()), axis=0).tolist()
    assert run_tool("generate_label_info", ["-d", bench / "cityscapes", "-o", tmp_path / "cs16.json", "--dataset",
                                           "cityscapes", "--split", "val", "--num-classes", 16], monkeypatch) == 0
    info16 = json.loads((tmp_path / "cs16.json").read_text())
    assert info16["num_classes"] == 16 and len(info16["total"]) == 16 and len(info16["images"]) == 2
