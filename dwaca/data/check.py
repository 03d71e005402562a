"""An up-front check of a built dataset's files, so that a bad file stops a run before anything is written instead
of failing mid-training, or after it (a label of the wrong size breaks evaluation's batching)."""
from collections import Counter

from tqdm import tqdm

from .base import IMAGE_FORMATS, LABEL_FORMATS, read_header


def _size(size):
    return f"{size[0]}x{size[1]}"


def check_dataset(dataset, progress=True):
    """Check every sample of a built ``SegmentationDataset`` from its files' headers (no pixel data is decoded).

    Construction has already paired every image with its label and refused repeated list-file lines; this checks
    what only the files tell: both folders still exist, every image is PNG or JPEG and every label a PNG (by
    content, not by suffix) of a mode its reader takes, and where the format fixes sizes (``dataset.sizes_fixed``,
    Cityscapes) each image has its label's size and every label the same size: ``dataset.expected_label_size()`` or
    else the most common one. Elsewhere an image may differ from its label (it is resized to it when loaded).
    Raises OSError (a missing, unreadable or mistyped file) or ValueError (a size) naming the first bad file and
    what was expected. ``progress``: a progress bar, shown only once the check has taken two seconds.
    """
    for folder in (dataset.image_dir, dataset.label_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"{type(dataset).__name__}: folder {folder} does not exist")
    sizes = [(read_header(dataset.label_path(index), "label", LABEL_FORMATS, dataset.label_modes),
              read_header(dataset.image_path(index), "image", IMAGE_FORMATS))
             for index in tqdm(range(len(dataset)), desc=f"checking {type(dataset).__name__} files", unit="sample",
                               delay=2, disable=not progress)]
    if dataset.sizes_fixed:
        _check_sizes(dataset, sizes)


def _check_sizes(dataset, sizes):
    """``sizes``: (label (W, H), image (W, H)) of every sample. Without a size of the format's own, the labels'
    most common size is the expected one, so that the odd file out is named rather than the first."""
    expected, origin = dataset.expected_label_size(), ""
    if expected is None:
        expected, count = Counter(label for label, _ in sizes).most_common(1)[0]
        origin = f" (the size of {count} of its {len(sizes)} labels)"
    for index, (label_size, image_size) in enumerate(sizes):
        if label_size != expected:
            raise ValueError(f"{type(dataset).__name__}: label {dataset.label_path(index)} is {_size(label_size)}, "
                             f"expected {_size(expected)}{origin}")
        if image_size != label_size:
            raise ValueError(f"{type(dataset).__name__}: image {dataset.image_path(index)} is {_size(image_size)}, "
                             f"expected its label's {_size(label_size)}")
