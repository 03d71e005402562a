"""Files identified by content, and the up-front dataset check: every problem is one error naming the file and what
was expected."""
import numpy as np
import pytest
from PIL import Image

from dwaca.config.defaults import get_cfg_defaults
from dwaca.data import CityscapesDataset, GTAVDataset, SynthiaDataset, build_dataset, check_dataset
from dwaca.data.base import read_label_8bit, read_rgb
from dwaca.utils.errors import USAGE_ERROR, run_main

VAL_LABEL = "gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png"
VAL_IMAGE = "leftImg8bit/val/frankfurt/frankfurt_000000_000019_leftImg8bit.png"


@pytest.fixture
def bench(make_benchmark):
    return make_benchmark(num_source=3, num_target_train=3, num_target_val=3)


def build(root, name):
    cfg = get_cfg_defaults()
    cfg.DATASETS.ROOT = str(root)
    return build_dataset(cfg, name, "test")


def save(path, array, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, **options)


def test_a_valid_benchmark_passes(bench):
    for name in ("gtav_train", "cityscapes_train", "cityscapes_val"):
        check_dataset(build(bench, name), progress=False)


def test_a_jpeg_under_a_label_png_name_is_refused_naming_the_file(bench):
    label = bench / "gtav" / "labels" / "00002.png"
    ids = read_label_8bit(label)
    save(label, ids, format="JPEG")
    with pytest.raises(OSError, match=r"00002\.png.*expected PNG content, got JPEG"):
        read_label_8bit(label)
    with pytest.raises(OSError, match=r"label .*00002\.png.*expected PNG content, got JPEG"):
        check_dataset(build(bench, "gtav_train"), progress=False)


def test_images_are_identified_by_content_jpeg_accepted(bench):
    image = bench / "gtav" / "images" / "00001.png"
    save(image, read_rgb(image).permute(1, 2, 0).numpy(), format="JPEG")
    dataset = build(bench, "gtav_train")
    check_dataset(dataset, progress=False)
    with Image.open(image) as img:
        np.testing.assert_array_equal(dataset.load_image(0).permute(1, 2, 0).numpy(), np.asarray(img))


def test_a_non_image_file_is_refused_naming_it(bench):
    image = bench / "cityscapes" / VAL_IMAGE
    image.write_text("not an image\n")
    dataset = build(bench, "cityscapes_val")
    with pytest.raises(OSError, match=r"cannot read image .*frankfurt_000000_000019_leftImg8bit\.png"):
        check_dataset(dataset, progress=False)
    with pytest.raises(OSError, match="frankfurt_000000_000019_leftImg8bit.png"):
        dataset[0]


def test_an_image_format_the_datasets_do_not_use_is_refused(bench):
    image = bench / "gtav" / "images" / "00003.png"
    save(image, read_rgb(image).permute(1, 2, 0).numpy(), format="BMP")
    with pytest.raises(OSError, match=r"00003\.png.*expected PNG or JPEG content, got BMP"):
        check_dataset(build(bench, "gtav_train"), progress=False)
    with pytest.raises(OSError, match=r"00003\.png"):
        read_rgb(image)


def test_a_label_of_several_channels_is_refused_where_the_reader_takes_one(bench, tmp_path):
    label = bench / "cityscapes" / VAL_LABEL
    save(label, np.stack([read_label_8bit(label)] * 3, -1))
    with pytest.raises(OSError, match=r"frankfurt_000000_000019_gtFine_labelIds\.png.*single-channel.*RGB"):
        check_dataset(build(bench, "cityscapes_val"), progress=False)
    # SYNTHIA's reader takes the first channel of an RGB label
    save(tmp_path / "synthia" / "RGB" / "0000001.png", np.zeros((4, 6, 3)))
    save(tmp_path / "synthia" / "GT" / "LABELS" / "0000001.png", np.full((4, 6, 3), 3))
    check_dataset(SynthiaDataset(tmp_path / "synthia"), progress=False)


def test_a_duplicate_in_a_list_file_names_it_and_the_list_file(bench):
    list_file = bench / "gtav_train_list.txt"
    list_file.write_text("00001.png\n00002.png\n\n00001\n")  # the suffix may be left out: still the same sample
    with pytest.raises(ValueError, match=r"gtav_train_list\.txt names 00001\.png twice \(lines 1 and 4\)"):
        build(bench, "gtav_train")
    list_file.write_text("00001.png\n00002.png\n")
    assert build(bench, "gtav_train").names == ["00001.png", "00002.png"]


def test_a_missing_label_or_folder_is_named(bench):
    dataset = build(bench, "cityscapes_val")
    (bench / "cityscapes" / VAL_LABEL).unlink()  # after construction, which pairs the files
    with pytest.raises(OSError, match=r"cannot read label .*frankfurt_000000_000019_gtFine_labelIds\.png"):
        check_dataset(dataset, progress=False)
    dataset = build(bench, "gtav_train")
    (bench / "gtav" / "images").rename(bench / "gtav" / "moved")
    with pytest.raises(FileNotFoundError, match=r"gtav[/\\]images does not exist"):
        check_dataset(dataset, progress=False)


def test_a_val_label_of_another_size_names_the_file_and_the_size(bench):
    label = bench / "cityscapes" / VAL_LABEL
    save(label, np.zeros((16, 32)))  # the benchmark's are 64x32
    with pytest.raises(ValueError, match=r"label .*frankfurt_000000_000019_gtFine_labelIds\.png is 32x16, expected "
                                         r"64x32 \(the size of 2 of its 3 labels\)"):
        check_dataset(build(bench, "cityscapes_val"), progress=False)
    for stem in ("lindau/lindau_000000_000019", "munster/munster_000000_000019"):
        save(bench / "cityscapes" / f"gtFine/val/{stem}_gtFine_labelIds.png", np.zeros((16, 32)))
    # all labels 32x16 now, their images still 64x32
    with pytest.raises(ValueError, match=r"image .*frankfurt_000000_000019_leftImg8bit\.png is 64x32, expected its "
                                         r"label's 32x16"):
        check_dataset(build(bench, "cityscapes_val"), progress=False)


def test_real_cityscapes_labels_are_2048x1024(tmp_path):
    stem = "aachen/aachen_000000_000019"
    root = tmp_path / "cityscapes"
    save(root / "leftImg8bit" / "val" / f"{stem}_leftImg8bit.png", np.zeros((1024, 2048, 3)))
    save(root / "gtFine" / "val" / f"{stem}_gtFine_labelIds.png", np.zeros((1024, 2048)))
    check_dataset(CityscapesDataset(root, "val"), progress=False)
    save(root / "gtFine" / "val" / f"{stem}_gtFine_labelIds.png", np.zeros((32, 64)))
    with pytest.raises(ValueError, match=r"aachen_000000_000019_gtFine_labelIds\.png is 64x32, expected 2048x1024$"):
        check_dataset(CityscapesDataset(root, "val"), progress=False)


def test_gtav_images_may_differ_from_their_labels(bench):
    image = bench / "gtav" / "images" / "00002.png"
    save(image, np.zeros((20, 40, 3)))
    dataset = build(bench, "gtav_train")
    check_dataset(dataset, progress=False)
    assert dataset.load_image(1, (32, 64)).shape == (3, 32, 64)


def test_a_check_failure_is_a_user_error_line(bench, capsys):
    save(bench / "gtav" / "labels" / "00001.png", np.zeros((32, 64)), format="JPEG")

    def main(argv):
        check_dataset(GTAVDataset(bench / "gtav"), progress=False)

    with pytest.raises(SystemExit) as exit_:
        run_main(main, [])
    assert exit_.value.code == USAGE_ERROR
    assert "00001.png" in capsys.readouterr().err
