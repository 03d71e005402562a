"""Shared machinery of the three datasets: file discovery and pairing, list files, reading, the item dict.

A dataset is a folder of images and a folder of label maps. Every sample has a *name*: the image path relative to
the image folder, in POSIX form (``aachen/aachen_000000_000019_leftImg8bit.png`` for Cityscapes, ``00001.png`` for
GTAV and SYNTHIA), which is exactly a line of a RIPU list file. Its *key* is the name without the image suffix; the
label file is ``<label folder>/<key><label suffix>``.

The label grid is authoritative: when an image and its label differ in size (some real GTAV images do), the image
is resized to the label's size at load time (``image_interpolation``: bicubic by default, as the published code
resizes images), for every dataset alike. Labels are never resampled except by nearest neighbour in the transforms.
"""
import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_png

from .labels import IGNORE_INDEX, apply_lut, class_names
from .transforms import normalize_only, resize_image

_SHOWN = 5  # how many offending names an error message lists


# Formats are identified by content (PIL reads the magic bytes), never by the file's suffix.
IMAGE_FORMATS = ("PNG", "JPEG")  # what the real datasets ship
LABEL_FORMATS = ("PNG",)  # lossless: a JPEG saved under a label's name holds ids blurred by compression
LABEL_8BIT_MODES = ("L", "P", "I", "I;16")  # single-channel (grayscale or palette) label maps


def _require_format(img, formats, modes=None):
    if img.format not in formats:
        raise ValueError(f"expected {' or '.join(formats)} content, got {img.format or 'an unknown format'}")
    if modes is not None and img.mode not in modes:
        raise ValueError(f"expected a single-channel label map, got PIL mode {img.mode}")


def read_header(path, kind, formats, modes=None):
    """(W, H) of an image file from its header alone (the pixel data is not decoded). Raises OSError naming the file
    (``kind``: "image" or "label") if it is missing or unreadable, not one of ``formats`` or, given ``modes``, of
    another PIL mode."""
    try:
        with Image.open(path) as img:
            _require_format(img, formats, modes)
            return img.size
    except (OSError, ValueError, SyntaxError) as err:
        raise OSError(f"cannot read {kind} {path}: {err}") from err


def read_rgb(path):
    """PNG/JPEG file -> (3, H, W) uint8 tensor. Raises OSError naming the file if it cannot be decoded."""
    try:
        with Image.open(path) as img:
            _require_format(img, IMAGE_FORMATS)
            array = np.asarray(img.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:
        raise OSError(f"cannot read image {path}: {err}") from err
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def read_label_8bit(path):
    """Single-channel (grayscale or palette) label PNG -> (H, W) array of raw ids, palette indices kept as ids."""
    try:
        with Image.open(path) as img:
            _require_format(img, LABEL_FORMATS, LABEL_8BIT_MODES)
            return np.array(img)
    except (OSError, ValueError, SyntaxError) as err:
        raise OSError(f"cannot read label {path}: {err}") from err


def read_label_first_channel_16bit(path):
    """PNG (any bit depth, 1-4 channels) -> (H, W) array of its first channel, 16-bit values intact.

    PIL truncates 16-bit RGB PNGs to their high bytes (SYNTHIA's ids would all read 0), so 16-bit files are decoded
    with ``torchvision.io.decode_png``; other depths go through PIL (decode_png returns 1-4 bit palettes, as PNG
    optimisers write small label maps, still packed). Every file first passes PIL's ``verify`` (chunk checksums, no
    decompression) because libpng aborts the whole process on corrupt data inside decode_png (torchvision 0.29).
    torchvision deprecates its decoders in favour of TorchCodec; the warning is silenced here because no maintained
    PIL-only path reads 16-bit RGB files."""
    try:
        data = np.fromfile(path, dtype=np.uint8)  # read once: verify() spends its image, so each open is anew
        with Image.open(io.BytesIO(data)) as img:
            _require_format(img, LABEL_FORMATS)
            img.verify()
        if data[24] != 16:  # IHDR bit depth
            with Image.open(io.BytesIO(data)) as img:
                band = img if img.getbands() in (("1",), ("L",), ("P",)) else img.getchannel(0)
                return np.array(band).astype(np.uint16)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            decoded = decode_png(torch.from_numpy(data), ImageReadMode.UNCHANGED)
    except (OSError, RuntimeError, ValueError, SyntaxError) as err:
        raise OSError(f"cannot read label {path}: {err}") from err
    return decoded[0].numpy()


def _listing(folder, limit=20):
    """A short description of what a folder holds, for error messages."""
    if not folder.is_dir():
        return f"{folder} does not exist"
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    more = f" ... (+{len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{folder} holds {entries[:limit] or 'nothing'}{more}"


class SegmentationDataset(Dataset):
    """Base of the on-disk datasets; subclasses set the folders, suffixes, label reader and id table.

    Item (``dataset[i]``), after ``transform``:
        image: (3, h, w) float32, normalised.
        label: (h, w) int64 train ids of the ``num_classes`` set, 255 = ignore.
        name: str, the sample's relative name (a list-file line).
        index: int, position in this dataset.
        has_annotation: bool, only with an ``annotation_provider`` (see below).

    annotation_provider: optional callable ``provider(index, name) -> (H, W) uint8 ndarray or None`` at the
        label's original resolution, holding train ids where annotated and 255 elsewhere (None = nothing annotated
        yet). When given, ``label`` is that mask instead of the ground truth, sent through the same geometric
        transform, so training reads target labels only through the labelled pool; ``has_annotation`` tells
        whether the untransformed mask has any annotated pixel.
    transform: callable ``(image (3,H,W) uint8, label (H,W) uint8) -> (image, label)``, see ``transforms.py``;
        default: normalisation only (ImageNet mean/std), no resizing.
    image_interpolation: how ``load_image`` resizes an image to its label's size ("bicubic" or "bilinear", see
        ``transforms.resize_image``).
    """

    #: subclasses set these
    layout = ""
    image_suffix = ".png"
    label_suffix = ".png"
    image_glob = "*"  # relative to the image folder, completed by image_suffix
    label_modes = LABEL_8BIT_MODES  # PIL modes a label may have (None: any, the reader takes the first channel)
    #: True where the format fixes sizes: every image has its label's size and all labels of the split share one
    #: (evaluation batches labels at their original resolution)
    sizes_fixed = False

    def _layout_hint(self):
        """The expected layout on one line: an error is one line."""
        return "expected layout: " + ", ".join(line.strip() for line in self.layout.splitlines())

    def __init__(self, root, num_classes, transform=None, list_file=None, annotation_provider=None,
                 image_interpolation="bicubic"):
        self.root = Path(root)
        self.num_classes = num_classes
        self.class_names = class_names(num_classes)
        self.transform = transform if transform is not None else normalize_only()
        self.annotation_provider = annotation_provider
        self.image_interpolation = image_interpolation
        if not self.root.is_dir():
            raise FileNotFoundError(f"{type(self).__name__}: root {self.root} does not exist; {self._layout_hint()}")
        self.image_dir, self.label_dir = self._folders()
        for folder in (self.image_dir, self.label_dir):
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"{type(self).__name__}: missing folder {folder}; {self._layout_hint()}; "
                    f"found: {_listing(folder.parent)}")
        self.names = self._names_from_list(list_file) if list_file is not None else self._discover()

    # -- subclass hooks -------------------------------------------------------------------------------------------
    def _folders(self):
        """(image folder, label folder)."""
        raise NotImplementedError

    def _read_raw_label(self, path):
        """(H, W) integer array of the label ids as stored on disk."""
        return read_label_8bit(path)

    def _id_lut(self):
        """uint8 table mapping raw label ids to train ids."""
        raise NotImplementedError

    def expected_label_size(self):
        """(W, H) every label must have, or None where the format fixes no size."""
        return None

    # -- files ----------------------------------------------------------------------------------------------------
    def _key(self, name):
        return name[: -len(self.image_suffix)]

    def image_path(self, index):
        return self.image_dir / self.names[index]

    def label_path(self, index):
        return self.label_dir / (self._key(self.names[index]) + self.label_suffix)

    def _discover(self):
        """All images that have a label, sorted by name; unpaired files on either side are an error."""
        images = {p.relative_to(self.image_dir).as_posix() for p in self.image_dir.glob(self.image_glob +
                                                                                       self.image_suffix)}
        labels = {p.relative_to(self.label_dir).as_posix() for p in self.label_dir.glob(self.image_glob +
                                                                                       self.label_suffix)}
        if not images and not labels:
            raise FileNotFoundError(f"{type(self).__name__}: no '{self.image_glob}{self.image_suffix}' images in "
                                    f"{self.image_dir}; {self._layout_hint()}")
        image_keys = {self._key(n): n for n in images}
        label_keys = {n[: -len(self.label_suffix)] for n in labels}
        no_label = sorted(image_keys[k] for k in image_keys.keys() - label_keys)
        no_image = sorted(k + self.label_suffix for k in label_keys - image_keys.keys())
        if no_label or no_image:
            raise ValueError(
                f"{type(self).__name__}: images and labels in {self.root} do not pair up: "
                f"{len(no_label)} images without a label (first: {no_label[:_SHOWN]}), "
                f"{len(no_image)} labels without an image (first: {no_image[:_SHOWN]})")
        return sorted(images)

    def _names_from_list(self, list_file):
        """Names from a RIPU list file (one per line; the image suffix may be left out), in file order."""
        list_file = Path(list_file)
        if not list_file.is_file():
            raise FileNotFoundError(f"{type(self).__name__}: list file {list_file} does not exist")
        first_line = {}  # name -> line number: a repeated sample would be weighted twice, or selected twice
        for number, line in enumerate(list_file.read_text().splitlines(), start=1):
            name = line.strip()
            if not name or name.startswith("#"):
                continue
            name = name if name.endswith(self.image_suffix) else name + self.image_suffix
            if name in first_line:
                raise ValueError(f"{type(self).__name__}: list file {list_file} names {name} twice "
                                 f"(lines {first_line[name]} and {number})")
            first_line[name] = number
        names = list(first_line)
        if not names:
            raise ValueError(f"{type(self).__name__}: list file {list_file} names no samples")
        missing = [n for n in names if not (self.image_dir / n).is_file()
                   or not (self.label_dir / (self._key(n) + self.label_suffix)).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{type(self).__name__}: {len(missing)} of {len(names)} names in {list_file} lack an image in "
                f"{self.image_dir} or a label in {self.label_dir} (first: {missing[:_SHOWN]})")
        return names

    # -- reading --------------------------------------------------------------------------------------------------
    def load_train_ids(self, index):
        """(H, W) uint8 ground-truth train ids at the label's original resolution (255 = ignore)."""
        return apply_lut(self._read_raw_label(self.label_path(index)), self._id_lut())

    def load_image(self, index, size_hw=None):
        """(3, H, W) uint8 image, resized to ``size_hw`` (H, W) with ``image_interpolation`` if it differs (see
        module doc)."""
        image = read_rgb(self.image_path(index))
        if size_hw is not None and tuple(image.shape[-2:]) != tuple(size_hw):
            image = resize_image(image, size_hw, self.image_interpolation)
        return image

    def _annotation_mask(self, index, shape):
        mask = self.annotation_provider(index, self.names[index])
        if mask is None:
            return np.full(shape, IGNORE_INDEX, dtype=np.uint8)
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise ValueError(f"annotation mask for {self.names[index]} has shape {mask.shape}, "
                             f"its label has {shape}")
        return mask.astype(np.uint8, copy=False)

    def __len__(self):
        return len(self.names)

    def __getitem__(self, index):
        if not 0 <= index < len(self.names):
            raise IndexError(f"index {index} out of range for {len(self.names)} samples")
        label = self.load_train_ids(index)
        image = self.load_image(index, label.shape)
        item = {"name": self.names[index], "index": index}
        if self.annotation_provider is not None:
            label = self._annotation_mask(index, label.shape)
            item["has_annotation"] = bool((label != IGNORE_INDEX).any())
        item["image"], item["label"] = self.transform(image, torch.from_numpy(np.ascontiguousarray(label)))
        return item

    def __repr__(self):
        return f"{type(self).__name__}(root={str(self.root)!r}, samples={len(self)}, num_classes={self.num_classes})"
