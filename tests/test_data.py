"""Datasets in their on-disk formats, class tables, paired transforms and build_dataset, on small hand-made files."""
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dwaca.config.defaults import get_cfg_defaults
from dwaca.data import (CityscapesDataset, GTAVDataset, SynthiaDataset, build_dataset, build_transforms,
                        class_names, colorize, labels16_to_13, palette)
from dwaca.data.labels import (SYNTHIA_13_IN_16, apply_lut, cityscapes_id_to_trainid_lut,
                               synthia_id_to_trainid_lut)
from dwaca.data.transforms import eval_transform, resize_image, resize_mask, train_transform

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


# ---- helpers that write files in the real formats ---------------------------------------------------------------
def save_rgb(path, array):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def save_gray(path, array):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(path)


def save_palette_label(path, array):
    """A GTAV-style palette PNG whose palette indices are the ids (palette colours deliberately unrelated)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").convert("P")
    img.putpalette((np.arange(768) * 7 % 256).astype(np.uint8).tolist())
    img.save(path)


def save_png16_rgb(path, array):
    """(H, W, 3) uint16 -> 16-bit RGB PNG, as SYNTHIA ships its labels (PIL cannot write these)."""
    h, w, _ = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def rand_rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# A 2x4 Cityscapes label-id map and its train ids: road, sidewalk, terrain, sky / void, car, out-of-table, bicycle.
CS_IDS = np.array([[7, 8, 22, 23], [0, 26, 200, 33]], dtype=np.uint8)
CS_TRAIN19 = np.array([[0, 1, 9, 10], [255, 13, 255, 18]])
CS_TRAIN16 = np.array([[0, 1, 255, 9], [255, 12, 255, 15]])
CS_TRAIN13 = np.array([[0, 1, 255, 6], [255, 9, 255, 12]])


def make_cityscapes(root, split="train", stems=("bremen/bremen_000001_000019", "aachen/aachen_000000_000019"),
                    label=CS_IDS):
    for k, stem in enumerate(stems):
        save_rgb(root / "leftImg8bit" / split / f"{stem}_leftImg8bit.png", rand_rgb(*label.shape, seed=k))
        save_gray(root / "gtFine" / split / f"{stem}_gtFine_labelIds.png", label)
    return root


def make_gtav(root, names=("00002.png", "00001.png", "00010.png"), label=CS_IDS, image_hw=None):
    for k, name in enumerate(names):
        save_rgb(root / "images" / name, rand_rgb(*(image_hw or label.shape), seed=k))
        save_palette_label(root / "labels" / name, label)
    return root


# ---- class tables ----------------------------------------------------------------------------------------------
def test_cityscapes_id_tables_for_all_class_sets():
    for n, expected in ((19, CS_TRAIN19), (16, CS_TRAIN16), (13, CS_TRAIN13)):
        np.testing.assert_array_equal(apply_lut(CS_IDS, cityscapes_id_to_trainid_lut(n)), expected)
    lut = cityscapes_id_to_trainid_lut(19)
    assert lut.shape == (256,) and lut.dtype == np.uint8
    assert sorted(set(lut.tolist()) - {255}) == list(range(19))
    assert (lut[34:] == 255).all() and (lut[:7] == 255).all()


def test_synthia_id_table_matches_the_published_mapping():
    lut16 = synthia_id_to_trainid_lut(16)
    assert lut16.shape == (65536,)
    # SYNTHIA id -> 16-class id: road 3, sidewalk 4, building 2, wall 21, fence 5, pole 7, light 15, sign 9,
    # vegetation 6, sky 1, person 10, rider 17, car 8, bus 19, motorcycle 12, bicycle 11.
    synthia_ids = [3, 4, 2, 21, 5, 7, 15, 9, 6, 1, 10, 17, 8, 19, 12, 11]
    assert lut16[synthia_ids].tolist() == list(range(16))
    for unused in (0, 13, 14, 16, 18, 20, 22, 23, 300, 65535):
        assert lut16[unused] == 255
    lut19 = synthia_id_to_trainid_lut(19)
    assert [class_names(19)[lut19[i]] for i in (1, 8, 19, 12)] == ["sky", "car", "bus", "motorcycle"]


def test_class_sets_names_and_13_within_16():
    assert class_names(16) == ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                               "traffic sign", "vegetation", "sky", "person", "rider", "car", "bus", "motorcycle",
                               "bicycle"]
    assert len(class_names(13)) == 13 and not {"wall", "fence", "pole"} & set(class_names(13))
    assert [class_names(16)[i] for i in SYNTHIA_13_IN_16] == class_names(13)
    pred16 = np.array([[0, 3, 4, 5], [6, 9, 15, 255]])
    np.testing.assert_array_equal(labels16_to_13(pred16), [[0, 255, 255, 255], [3, 6, 12, 255]])
    with pytest.raises(ValueError, match="num_classes"):
        class_names(20)


def test_palette_and_colorize():
    assert palette(19)[0].tolist() == [128, 64, 128] and palette(19)[10].tolist() == [70, 130, 180]
    assert palette(16)[9].tolist() == [70, 130, 180]  # sky is id 9 among 16
    rgb = colorize(np.array([[0, 255], [18, 40]]), 19)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [128, 64, 128] and rgb[1, 0].tolist() == [119, 11, 32]
    assert rgb[0, 1].tolist() == [0, 0, 0] and rgb[1, 1].tolist() == [0, 0, 0]


def test_apply_lut_sends_values_outside_the_table_to_ignore():
    lut = cityscapes_id_to_trainid_lut(19)
    np.testing.assert_array_equal(apply_lut(np.array([-1, 7, 256, 70000], dtype=np.int64), lut), [255, 0, 255, 255])
    np.testing.assert_array_equal(apply_lut(np.array([7, 300], dtype=np.uint16), lut), [0, 255])


# ---- datasets --------------------------------------------------------------------------------------------------
def test_cityscapes_layout_mapping_names_and_sorted_discovery(tmp_path):
    root = make_cityscapes(tmp_path / "cityscapes")
    ds = CityscapesDataset(root, "train")
    assert ds.names == ["aachen/aachen_000000_000019_leftImg8bit.png", "bremen/bremen_000001_000019_leftImg8bit.png"]
    item = ds[1]
    assert item["name"] == ds.names[1] and item["index"] == 1
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, 2, 4)
    assert item["label"].dtype == torch.int64
    np.testing.assert_array_equal(item["label"].numpy(), CS_TRAIN19)
    # default transform normalises with the ImageNet statistics
    raw = np.asarray(Image.open(root / "leftImg8bit/train" / ds.names[1]), dtype=np.float64) / 255
    np.testing.assert_allclose(item["image"].permute(1, 2, 0).numpy(), (raw - MEAN) / STD, atol=1e-5)
    np.testing.assert_array_equal(CityscapesDataset(root, "train", num_classes=16)[0]["label"].numpy(), CS_TRAIN16)
    np.testing.assert_array_equal(CityscapesDataset(root, "train", num_classes=13)[0]["label"].numpy(), CS_TRAIN13)


def test_gtav_palette_labels_are_read_as_ids(tmp_path):
    ds = GTAVDataset(make_gtav(tmp_path / "gtav"))
    assert ds.names == ["00001.png", "00002.png", "00010.png"]
    np.testing.assert_array_equal(ds[2]["label"].numpy(), CS_TRAIN19)


def test_gtav_image_of_another_size_is_resized_to_its_label(tmp_path):
    label = np.full((6, 10), 7, dtype=np.uint8)
    label[:, 5:] = 26
    ds = GTAVDataset(make_gtav(tmp_path / "gtav", names=("00001.png",), label=label, image_hw=(5, 8)))
    item = ds[0]
    assert item["image"].shape == (3, 6, 10)
    assert ds.load_image(0).shape == (3, 5, 8)  # untouched without a target size
    np.testing.assert_array_equal(item["label"].numpy(), np.where(label == 7, 0, 13))


def test_synthia_16bit_labels_first_channel(tmp_path):
    ids = np.array([[3, 1, 21, 22], [10, 300, 11, 0]], dtype=np.uint16)
    label = np.stack([ids, np.full_like(ids, 4000), np.full_like(ids, 65535)], axis=-1)  # other channels: noise
    # both the RAND_CITYSCAPES folder itself and RIPU's datasets/synthia holding it are accepted as root
    for root, base in ((tmp_path / "synthia", tmp_path / "synthia"),
                       (tmp_path / "ripu", tmp_path / "ripu" / "RAND_CITYSCAPES")):
        save_rgb(base / "RGB" / "0000000.png", rand_rgb(2, 4))
        save_png16_rgb(base / "GT" / "LABELS" / "0000000.png", label)
        ds = SynthiaDataset(root)
        assert ds.names == ["0000000.png"]
        np.testing.assert_array_equal(ds[0]["label"].numpy(), [[0, 9, 3, 255], [10, 255, 15, 255]])
    np.testing.assert_array_equal(SynthiaDataset(tmp_path / "synthia", num_classes=13)[0]["label"].numpy(),
                                  [[0, 6, 255, 255], [7, 255, 12, 255]])


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_synthia_labels_in_small_palettes_keep_their_ids(tmp_path, bits):
    # re-encoded labels (PNG optimisers shrink small palettes below 8 bits) read as ids, not packed bytes
    ids = (np.array([[3, 1, 5, 6], [10, 12, 11, 0]]) % (1 << bits)).astype(np.uint8)
    root = tmp_path / "synthia"
    save_rgb(root / "RGB" / "0000000.png", rand_rgb(2, 4))
    path = root / "GT" / "LABELS" / "0000000.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(ids, mode="L").convert("P").save(path, bits=bits)
    assert path.read_bytes()[24] == bits  # the IHDR bit depth
    lut = synthia_id_to_trainid_lut(16)
    np.testing.assert_array_equal(SynthiaDataset(root)[0]["label"].numpy(), lut[ids])


def test_list_files_keep_their_order_and_accept_suffixless_names(tmp_path):
    root = make_cityscapes(tmp_path / "cityscapes")
    lst = tmp_path / "cityscapes_train_list.txt"
    lst.write_text("bremen/bremen_000001_000019_leftImg8bit.png\n\naachen/aachen_000000_000019\n")
    assert CityscapesDataset(root, "train", list_file=lst).names == [
        "bremen/bremen_000001_000019_leftImg8bit.png", "aachen/aachen_000000_000019_leftImg8bit.png"]
    gtav = make_gtav(tmp_path / "gtav")
    (tmp_path / "gtav_list.txt").write_text("00010.png\n00001.png\n")
    ds = GTAVDataset(gtav, list_file=tmp_path / "gtav_list.txt")
    assert ds.names == ["00010.png", "00001.png"] and len(ds) == 2
    (tmp_path / "bad_list.txt").write_text("00001.png\n00042.png\n")
    with pytest.raises(FileNotFoundError, match="00042.png"):
        GTAVDataset(gtav, list_file=tmp_path / "bad_list.txt")


def test_missing_root_and_missing_subfolder_name_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected layout"):
        GTAVDataset(tmp_path / "nowhere")
    root = make_cityscapes(tmp_path / "cityscapes", split="train")
    with pytest.raises(FileNotFoundError, match=r"(?s)leftImg8bit[/\\]val.*gtFine.*train"):
        CityscapesDataset(root, "val")
    (tmp_path / "synthia" / "RGB").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"GT[/\\]LABELS"):
        SynthiaDataset(tmp_path / "synthia")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "labels").mkdir()
    with pytest.raises(FileNotFoundError, match="no"):
        GTAVDataset(tmp_path / "empty")


def test_corrupt_image_or_label_raises_naming_the_file(tmp_path):
    root = make_gtav(tmp_path / "gtav")
    (root / "images" / "00002.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    ds = GTAVDataset(root)
    ds[0]  # the others still load
    with pytest.raises(OSError, match="00002.png"):
        ds[1]
    (root / "labels" / "00010.png").write_bytes(Path(root / "labels" / "00001.png").read_bytes()[:40])
    with pytest.raises(OSError, match="00010.png"):
        ds[2]
    synthia = tmp_path / "synthia"
    save_rgb(synthia / "RGB" / "0000000.png", rand_rgb(2, 4))
    (synthia / "GT" / "LABELS").mkdir(parents=True)
    (synthia / "GT" / "LABELS" / "0000000.png").write_bytes(b"garbage")
    with pytest.raises(OSError, match="0000000.png"):
        SynthiaDataset(synthia)[0]
    # one flipped bit inside the compressed data: libpng would abort the whole process in decode_png
    label = synthia / "GT" / "LABELS" / "0000000.png"
    save_png16_rgb(label, np.random.default_rng(0).integers(0, 24, (32, 48, 3)).astype(np.uint16))
    data = bytearray(label.read_bytes())
    data[60] ^= 0x10  # IDAT's data starts at byte 41
    label.write_bytes(bytes(data))
    with pytest.raises(OSError, match="0000000.png"):
        SynthiaDataset(synthia)[0]


def test_unpaired_files_are_listed(tmp_path):
    root = make_gtav(tmp_path / "gtav")
    (root / "labels" / "00002.png").unlink()
    save_palette_label(root / "labels" / "00077.png", CS_IDS)
    with pytest.raises(ValueError, match=r"00002\.png.*00077\.png"):
        GTAVDataset(root)
    cs = make_cityscapes(tmp_path / "cityscapes")
    (cs / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(ValueError, match="aachen_000000_000019_leftImg8bit.png"):
        CityscapesDataset(cs, "train")


def test_annotation_provider_replaces_the_label(tmp_path):
    root = make_cityscapes(tmp_path / "cityscapes")
    pool = {"aachen/aachen_000000_000019_leftImg8bit.png": np.array([[255, 5, 255, 255], [255, 255, 255, 2]])}
    calls = []

    def provider(index, name):
        calls.append((index, name))
        return pool.get(name)

    ds = CityscapesDataset(root, "train", annotation_provider=provider)
    annotated, empty = ds[0], ds[1]
    assert calls == [(0, ds.names[0]), (1, ds.names[1])]
    np.testing.assert_array_equal(annotated["label"].numpy(), pool[ds.names[0]])
    assert annotated["has_annotation"] and not empty["has_annotation"]
    assert (empty["label"] == 255).all()
    bad = CityscapesDataset(root, "train", annotation_provider=lambda i, n: np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        bad[0]


# ---- transforms ------------------------------------------------------------------------------------------------
def coordinate_image(h, w):
    """Image whose red channel is 4*x and green 4*y, and two masks holding x and y."""
    yy, xx = np.mgrid[0:h, 0:w]
    image = torch.from_numpy(np.stack([4 * xx, 4 * yy, np.zeros_like(xx)]).astype(np.uint8))
    return image, torch.from_numpy(xx.astype(np.uint8)), torch.from_numpy(yy.astype(np.uint8))


def decode(image, channel):
    return (image[channel] * STD[channel] + MEAN[channel]) * 255 / 4


def test_train_transform_keeps_image_and_masks_aligned():
    image, mask_x, mask_y = coordinate_image(32, 64)
    transform = train_transform((32, 16), scale_range=(0.5, 2.5), hflip_prob=0.5)
    flipped = padded = 0
    torch.manual_seed(0)
    for _ in range(40):
        img, lx, ly = transform(image, mask_x, mask_y)
        assert img.shape == (3, 16, 32) and lx.shape == ly.shape == (16, 32) and lx.dtype == torch.int64
        assert ((lx == 255) == (ly == 255)).all()
        inside = lx != 255
        # the image padding is black where the label padding is ignore
        np.testing.assert_allclose(decode(img, 0)[~inside], 0, atol=1e-3)
        padded += int((~inside).any())
        inner = inside.clone()
        inner[0], inner[-1], inner[:, 0], inner[:, -1] = False, False, False, False  # interpolation at crop edges
        inner &= torch.roll(inside, 1, 0) & torch.roll(inside, -1, 0) & torch.roll(inside, 1, 1) & \
            torch.roll(inside, -1, 1)
        if inner.sum() < 4:
            continue
        # one source pixel in the label vs the image's bilinear average around it: within the resize footprint
        assert (decode(img, 0)[inner] - lx[inner]).abs().max() < 2.0
        assert (decode(img, 1)[inner] - ly[inner]).abs().max() < 2.0
        cols = lx[inner.any(1).nonzero()[0, 0]]
        cols = cols[cols != 255]
        flipped += int(cols[0] > cols[-1])
    assert 5 < flipped < 35 and padded > 0


def test_masks_are_never_interpolated():
    label = torch.from_numpy(np.random.default_rng(0).choice([0, 5, 18], size=(37, 53)).astype(np.uint8))
    image = torch.from_numpy(rand_rgb(37, 53)).permute(2, 0, 1)
    transform = train_transform((30, 20), scale_range=(0.3, 1.7), ignore_label=255)
    for _ in range(10):
        _, out = transform(image, label)
        assert set(out.unique().tolist()) <= {0, 5, 18, 255}


def test_colour_jitter_changes_the_image_only():
    image, mask_x, _ = coordinate_image(16, 32)
    torch.manual_seed(0)
    plain_img, plain_lab = train_transform((32, 16), hflip_prob=0.0)(image, mask_x)
    jit_img, jit_lab = train_transform((32, 16), hflip_prob=0.0, color_jitter=0.4)(image, mask_x)
    assert torch.equal(plain_lab, jit_lab) and not torch.allclose(plain_img, jit_img, atol=1e-2)


def test_eval_transform_resizes_the_image_only():
    image, mask_x, _ = coordinate_image(32, 64)
    img, lab = eval_transform((16, 8))(image, mask_x)
    assert img.shape == (3, 8, 16) and torch.equal(lab, mask_x.long())


def test_bgr255_normalisation():
    image = torch.tensor([[[10]], [[20]], [[30]]], dtype=torch.uint8)
    cfg = get_cfg_defaults()
    cfg.INPUT.TO_BGR255, cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD = True, [1.0, 2.0, 3.0], [1.0, 1.0, 2.0]
    cfg.INPUT.INPUT_SIZE_TEST = (1, 1)
    img, _ = build_transforms(cfg, "test")(image, torch.zeros(1, 1, dtype=torch.uint8))
    assert img.flatten().tolist() == [29.0, 18.0, 3.5]


# ---- build ------------------------------------------------------------------------------------------------------
def small_cfg(root):
    cfg = get_cfg_defaults()
    cfg.DATASETS.ROOT = str(root)
    cfg.INPUT.SOURCE_INPUT_SIZE_TRAIN = (8, 4)
    cfg.INPUT.TARGET_INPUT_SIZE_TRAIN = (6, 4)
    cfg.INPUT.INPUT_SIZE_TEST = (4, 2)
    return cfg


def test_build_dataset_modes_sizes_and_list_file(tmp_path):
    make_gtav(tmp_path / "gtav")
    make_cityscapes(tmp_path / "cityscapes", split="val")
    make_cityscapes(tmp_path / "cityscapes", split="train")
    cfg = small_cfg(tmp_path)
    src = build_dataset(cfg, "gtav_train", "train_source")
    assert isinstance(src, GTAVDataset) and src[0]["image"].shape == (3, 4, 8) and src[0]["label"].shape == (4, 8)
    tgt = build_dataset(cfg, "cityscapes_train", "train_target", annotation_provider=lambda i, n: None)
    assert tgt[0]["image"].shape == (3, 4, 6) and (tgt[0]["label"] == 255).all()
    for mode in ("test", "select"):
        val = build_dataset(cfg, "cityscapes_val", mode)
        assert val.split == "val" and val[0]["image"].shape == (3, 2, 4) and val[0]["label"].shape == CS_IDS.shape
    (tmp_path / "cityscapes_val_list.txt").write_text("bremen/bremen_000001_000019_leftImg8bit.png\n")
    assert build_dataset(cfg, "cityscapes_val", "test").names == ["bremen/bremen_000001_000019_leftImg8bit.png"]
    cfg.MODEL.NUM_CLASSES = 16
    assert build_dataset(cfg, "cityscapes_val", "test").num_classes == 16
    with pytest.raises(KeyError, match="gtav_train"):
        build_dataset(cfg, "kitti_train", "test")
    with pytest.raises(ValueError, match="mode"):
        build_transforms(cfg, "train")
    cfg.INPUT.IGNORE_LABEL = 250  # padding would become a class id that the losses and metrics do not ignore
    with pytest.raises(ValueError, match="INPUT.IGNORE_LABEL"):
        build_dataset(cfg, "gtav_train", "train_source")


# ---- resizing and normalising as the published code ------------------------------------------------------------
def published_test_input(array, size_wh, mean=MEAN, std=STD):
    """The published test transform: PIL bicubic resize, torchvision's to_tensor, then normalize."""
    from torchvision.transforms import functional as TF
    resized = Image.fromarray(array).resize(tuple(size_wh), Image.BICUBIC)
    return TF.normalize(TF.to_tensor(resized), list(mean), list(std))


@pytest.mark.parametrize("src_hw, dst_hw", [((61, 97), (23, 40)), ((20, 30), (45, 64))])
def test_resize_image_bicubic_is_pils_and_bilinear_torchvisions(src_hw, dst_hw):
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F
    array = rand_rgb(*src_hw, seed=3)
    image = torch.from_numpy(array).permute(2, 0, 1)
    pil = np.asarray(Image.fromarray(array).resize(dst_hw[::-1], Image.BICUBIC))
    np.testing.assert_array_equal(resize_image(image, dst_hw).permute(1, 2, 0).numpy(), pil)
    bilinear = resize_image(image, dst_hw, "bilinear")
    assert torch.equal(bilinear, F.resize(image, list(dst_hw), InterpolationMode.BILINEAR, antialias=True))
    assert not torch.equal(bilinear, resize_image(image, dst_hw))
    with pytest.raises(ValueError, match="interpolation"):
        resize_image(image, dst_hw, "nearest")


def test_every_mode_feeds_the_network_the_published_input():
    array = rand_rgb(40, 64, seed=1)  # at these sizes torchvision's nearest-exact differs from PIL's nearest
    image = torch.from_numpy(array).permute(2, 0, 1)
    label = torch.from_numpy(np.random.default_rng(0).choice([0, 5, 18, 255], size=(40, 64)).astype(np.uint8))
    cfg = get_cfg_defaults()
    cfg.INPUT.SOURCE_INPUT_SIZE_TRAIN, cfg.INPUT.TARGET_INPUT_SIZE_TRAIN = (24, 16), (20, 14)
    cfg.INPUT.INPUT_SIZE_TEST = (26, 18)
    sizes = {"train_source": (24, 16), "train_target": (20, 14), "test": (26, 18), "select": (26, 18)}
    for mode, size_wh in sizes.items():
        img, lab = build_transforms(cfg, mode)(image, label)
        assert torch.equal(img, published_test_input(array, size_wh)), mode
        # labels only ever PIL's nearest; the test label keeps its full resolution
        want = label.numpy() if mode in ("test", "select") else \
            np.asarray(Image.fromarray(label.numpy()).resize(size_wh, Image.NEAREST))
        np.testing.assert_array_equal(lab.numpy(), want)
    cfg.INPUT.INTERPOLATION = "bilinear"
    assert not torch.equal(build_transforms(cfg, "test")(image, label)[0], published_test_input(array, (26, 18)))


def test_an_image_of_another_size_than_its_label_is_resized_bicubic(tmp_path):
    make_gtav(tmp_path, names=("00001.png",), image_hw=(7, 11))
    array = np.asarray(Image.open(tmp_path / "images" / "00001.png"))
    want = np.asarray(Image.fromarray(array).resize(CS_IDS.shape[::-1], Image.BICUBIC))
    np.testing.assert_array_equal(GTAVDataset(tmp_path).load_image(0, CS_IDS.shape).permute(1, 2, 0).numpy(), want)
    bilinear = GTAVDataset(tmp_path, image_interpolation="bilinear").load_image(0, CS_IDS.shape)
    assert not np.array_equal(bilinear.permute(1, 2, 0).numpy(), want)


@pytest.mark.parametrize("src_wh, dst_wh", [((2048, 1024), (1280, 640)), ((1914, 1052), (1280, 720))])
def test_labels_are_resized_with_pils_nearest_at_the_real_sizes(src_wh, dst_wh):
    label = np.random.default_rng(0).choice(np.array([0, 7, 18, 255], dtype=np.uint8), size=src_wh[::-1])
    out = resize_mask(torch.from_numpy(label), dst_wh[::-1])
    np.testing.assert_array_equal(out.numpy(), np.asarray(Image.fromarray(label).resize(dst_wh, Image.NEAREST)))
    assert set(out.unique().tolist()) <= {0, 7, 18, 255}
