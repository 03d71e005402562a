"""Class sets, names, colours and label-id -> train-id lookup tables.

Everything derives from the official Cityscapes table (``cityscapesscripts.helpers.labels``):

* 19 classes (GTAV -> Cityscapes): the Cityscapes train ids 0..18, unchanged.
* 16 classes (SYNTHIA -> Cityscapes, "mIoU16"): the 19 without terrain, truck and train, renumbered
  contiguously in Cityscapes order::

      0 road, 1 sidewalk, 2 building, 3 wall, 4 fence, 5 pole, 6 traffic light, 7 traffic sign,
      8 vegetation, 9 sky, 10 person, 11 rider, 12 car, 13 bus, 14 motorcycle, 15 bicycle

* 13 classes ("mIoU13"): the 16 without wall, fence and pole, renumbered the same way::

      0 road, 1 sidewalk, 2 building, 3 traffic light, 4 traffic sign, 5 vegetation, 6 sky,
      7 person, 8 rider, 9 car, 10 bus, 11 motorcycle, 12 bicycle

SYNTHIA (RAND_CITYSCAPES) ships its own ids; ``SYNTHIA_ID_TO_CITYSCAPES_TRAINID`` maps them to the 19 Cityscapes
train ids (the table RIPU uses, checked against the SYNTHIA README: 1 sky, 2 building, 3 road, 4 sidewalk,
5 fence, 6 vegetation, 7 pole, 8 car, 9 traffic sign, 10 pedestrian, 11 bicycle, 12 motorcycle, 15 traffic light,
17 rider, 19 bus, 21 wall; 0 void, 13 parking-slot, 14 road-work, 16/18/20 (unused terrain/truck/train),
22 lane-marking are ignored).

Ignored pixels are ``IGNORE_INDEX`` (255) everywhere, including label values the tables do not know.
"""
import numpy as np
from cityscapesscripts.helpers.labels import labels as _CITYSCAPES_TABLE

IGNORE_INDEX = 255

# The 19 evaluated Cityscapes classes, indexed by train id.
_TRAIN_LABELS = sorted((l for l in _CITYSCAPES_TABLE if 0 <= l.trainId < IGNORE_INDEX), key=lambda l: l.trainId)
assert [l.trainId for l in _TRAIN_LABELS] == list(range(19)), "unexpected cityscapesscripts label table"
CITYSCAPES_19_NAMES = tuple(l.name for l in _TRAIN_LABELS)

_DROPPED_FOR_16 = ("terrain", "truck", "train")
_DROPPED_FOR_13 = _DROPPED_FOR_16 + ("wall", "fence", "pole")

# For each supported class count: the Cityscapes 19-class train id of every class, in the set's own order.
CLASS_SETS = {
    19: tuple(range(19)),
    16: tuple(i for i, n in enumerate(CITYSCAPES_19_NAMES) if n not in _DROPPED_FOR_16),
    13: tuple(i for i, n in enumerate(CITYSCAPES_19_NAMES) if n not in _DROPPED_FOR_13),
}

SYNTHIA_ID_TO_CITYSCAPES_TRAINID = {
    3: 0,  # road
    4: 1,  # sidewalk
    2: 2,  # building
    21: 3,  # wall
    5: 4,  # fence
    7: 5,  # pole
    15: 6,  # traffic light
    9: 7,  # traffic sign
    6: 8,  # vegetation
    1: 10,  # sky
    10: 11,  # person (SYNTHIA "pedestrian")
    17: 12,  # rider
    8: 13,  # car
    19: 15,  # bus
    12: 17,  # motorcycle
    11: 18,  # bicycle
}


def _check_num_classes(num_classes):
    if num_classes not in CLASS_SETS:
        raise ValueError(f"num_classes must be one of {sorted(CLASS_SETS)}, got {num_classes}")
    return CLASS_SETS[num_classes]


def class_names(num_classes):
    """Names of the classes of the ``num_classes`` set (19, 16 or 13), indexed by that set's train id."""
    return [CITYSCAPES_19_NAMES[i] for i in _check_num_classes(num_classes)]


def palette(num_classes):
    """(num_classes, 3) uint8 RGB colours (the Cityscapes palette), indexed by the set's train id."""
    return np.array([_TRAIN_LABELS[i].color for i in _check_num_classes(num_classes)], dtype=np.uint8)


def colorize(label, num_classes, ignore_color=(0, 0, 0)):
    """(H, W) train ids -> (H, W, 3) uint8 RGB; ignored or unknown ids get ``ignore_color``."""
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[:] = ignore_color
    colours[:num_classes] = palette(num_classes)
    label = np.asarray(label)
    return colours[np.where((label >= 0) & (label < num_classes), label, IGNORE_INDEX)]


def trainid19_to_set_lut(num_classes):
    """(256,) uint8 table: Cityscapes 19-class train id -> train id in the ``num_classes`` set (255 if absent)."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for new_id, id19 in enumerate(_check_num_classes(num_classes)):
        lut[id19] = new_id
    return lut


def cityscapes_id_to_trainid_lut(num_classes=19):
    """(256,) uint8 table: Cityscapes label id (as in ``*_gtFine_labelIds.png`` and GTAV labels) -> train id."""
    to_set = trainid19_to_set_lut(num_classes)
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for l in _TRAIN_LABELS:
        lut[l.id] = to_set[l.trainId]
    return lut


def synthia_id_to_trainid_lut(num_classes=16):
    """(65536,) uint8 table: SYNTHIA label id (16-bit) -> train id in the ``num_classes`` set."""
    to_set = trainid19_to_set_lut(num_classes)
    lut = np.full(65536, IGNORE_INDEX, dtype=np.uint8)
    for synthia_id, id19 in SYNTHIA_ID_TO_CITYSCAPES_TRAINID.items():
        lut[synthia_id] = to_set[id19]
    return lut


def trainid_to_cityscapes_id(num_classes=19):
    """(256,) uint8 table: train id of the set -> Cityscapes label id (255 -> 0, "unlabeled").

    Used to write labels in the on-disk Cityscapes/GTAV format."""
    lut = np.zeros(256, dtype=np.uint8)
    for new_id, id19 in enumerate(_check_num_classes(num_classes)):
        lut[new_id] = _TRAIN_LABELS[id19].id
    return lut


def apply_lut(label, lut):
    """Map an integer label map through ``lut``; values outside ``[0, len(lut))`` become 255.

    label: (H, W) integer array of raw ids. Returns (H, W) uint8."""
    label = np.asarray(label)
    if (label.dtype == np.uint8 and len(lut) >= 256) or (label.dtype == np.uint16 and len(lut) >= 65536):
        return lut[label]  # every representable value is in the table
    inside = (label >= 0) & (label < len(lut))
    return np.where(inside, lut[np.where(inside, label, 0)], np.uint8(IGNORE_INDEX)).astype(np.uint8)


# Position of each of the 13 classes inside the 16-class set: pred16[..., SYNTHIA_13_IN_16] or iou16[SYNTHIA_13_IN_16].
SYNTHIA_13_IN_16 = tuple(CLASS_SETS[16].index(i) for i in CLASS_SETS[13])


def labels16_to_13(label16):
    """Map 16-class train ids (predictions or labels) to 13-class ids; wall, fence, pole and 255 -> 255.

    For mIoU13 from per-class IoU16 use ``iou16[list(SYNTHIA_13_IN_16)].mean()`` instead."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    lut[list(SYNTHIA_13_IN_16)] = np.arange(13, dtype=np.uint8)
    return apply_lut(label16, lut)
