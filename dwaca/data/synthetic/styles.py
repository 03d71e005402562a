"""The two domains' looks and contents: one world palette rendered per domain, textures, lighting, sensor and
object statistics (see the package docstring for how the source and target differ)."""
from dataclasses import dataclass, field

import numpy as np

from .classes import BUILDING, BUS, FENCE, PERSON, RIDER, ROAD, SIDEWALK, SKY, TERRAIN, TRAIN, TRUCK, VEGETATION, WALL

# Natural colour of each class (RGB, 0..255) from which both domains' palettes are derived.
_BASE_COLOURS = np.array([
    (95, 92, 100),  # road
    (175, 160, 150),  # sidewalk
    (150, 115, 95),  # building
    (160, 155, 130),  # wall
    (125, 95, 70),  # fence
    (115, 118, 125),  # pole
    (45, 50, 45),  # traffic light (housing)
    (215, 185, 40),  # traffic sign
    (65, 125, 45),  # vegetation
    (135, 170, 80),  # terrain
    (135, 185, 235),  # sky
    (150, 60, 70),  # person (clothing)
    (200, 80, 40),  # rider (clothing)
    (40, 70, 160),  # car
    (170, 170, 175),  # truck
    (215, 175, 50),  # bus
    (190, 200, 210),  # train
    (60, 45, 80),  # motorcycle
    (30, 120, 130),  # bicycle
], dtype=np.float32)


@dataclass(frozen=True)
class DomainStyle:
    """How one domain looks and what it contains. Rates are expected counts per image (Poisson)."""

    name: str
    colours: np.ndarray  # (19, 3) base RGB per class
    instance_jitter: float  # std of the per-instance colour offset (RGB units)
    textures: dict  # class -> (kind, params), see _texture
    rates: dict  # object kind -> expected count per image
    object_scale: float  # size multiplier for objects
    horizon: tuple  # horizon row range, fraction of the height
    brightness: tuple  # global gain range
    colour_cast: float  # std of the per-channel gain
    shadow: float  # max darkening of one side of the image
    vignette: float  # darkening at the corners
    noise: float  # std of Gaussian sensor noise (RGB units)
    blur: float  # weight of the neighbours in a 3x3 blur (0 = sharp)
    ego_vehicle: float  # probability of a bonnet at the bottom
    lane_colour: tuple
    texture_seed: int  # fixes the texture patterns of the domain
    extra: dict = field(default_factory=dict)


# Each class's colour in this synthetic world: the natural colour with a fixed per-class offset.
_WORLD_COLOURS = _BASE_COLOURS + np.random.default_rng(101).normal(0.0, 14.0, _BASE_COLOURS.shape).astype(np.float32)


def _domain_palette(saturation, gain):
    """How a domain renders the world's colours: saturation scaled around each colour's grey, per-channel gain."""
    grey = _WORLD_COLOURS.mean(axis=1, keepdims=True)
    colours = grey + saturation * (_WORLD_COLOURS - grey)
    return np.clip(colours * np.asarray(gain, dtype=np.float32), 5, 250).astype(np.float32)


SOURCE_STYLE = DomainStyle(
    name="source",
    colours=_domain_palette(saturation=1.35, gain=(1.05, 1.0, 0.95)),
    instance_jitter=14.0,
    textures={
        ROAD: ("noise", dict(cell=2, amp=0.06)),
        SIDEWALK: ("grid", dict(period=(7, 7), line=1, amp=0.3)),
        BUILDING: ("windows", dict(period=(10, 8), size=(5, 4), amp=0.45)),
        WALL: ("stripes", dict(period=4, angle=0.0, amp=0.15)),
        FENCE: ("grid", dict(period=(3, 3), line=1, amp=0.5)),
        VEGETATION: ("noise", dict(cell=3, amp=0.3)),
        TERRAIN: ("noise", dict(cell=1, amp=0.15)),
        SKY: ("gradient", dict(amp=0.12)),
        TRUCK: ("stripes", dict(period=6, angle=0.0, amp=0.1)),
        BUS: ("windows", dict(period=(8, 6), size=(3, 4), amp=0.4)),
        TRAIN: ("windows", dict(period=(6, 5), size=(3, 3), amp=0.35)),
    },
    rates=dict(car=2.5, truck=0.35, bus=0.3, train=0.04, person=1.0, rider=0.2, parked_bike=0.15, pole=1.2,
               tree=2.0),
    object_scale=1.2,
    horizon=(0.32, 0.44),
    brightness=(0.8, 1.15),
    colour_cast=0.0,
    shadow=0.0,
    vignette=0.0,
    noise=1.5,
    blur=0.0,
    ego_vehicle=0.0,
    lane_colour=(235, 225, 90),
    texture_seed=11,
    extra=dict(sign_prob=0.4, light_prob=0.25, wall_prob=0.15, fence_prob=0.1, terrain_prob=0.4),
)

TARGET_STYLE = DomainStyle(
    name="target",
    colours=_domain_palette(saturation=0.75, gain=(0.9, 0.97, 1.0)),
    instance_jitter=18.0,
    textures={
        ROAD: ("noise", dict(cell=1, amp=0.14)),
        SIDEWALK: ("stripes", dict(period=5, angle=0.8, amp=0.18)),
        BUILDING: ("windows", dict(period=(7, 6), size=(3, 3), amp=0.3)),
        WALL: ("noise", dict(cell=2, amp=0.2)),
        FENCE: ("stripes", dict(period=3, angle=1.57, amp=0.45)),
        VEGETATION: ("noise", dict(cell=2, amp=0.5)),
        TERRAIN: ("noise", dict(cell=2, amp=0.3)),
        SKY: ("clouds", dict(cell=8, amp=0.18)),
        PERSON: ("noise", dict(cell=2, amp=0.15)),
        RIDER: ("noise", dict(cell=2, amp=0.15)),
        TRUCK: ("noise", dict(cell=2, amp=0.1)),
        BUS: ("windows", dict(period=(6, 5), size=(3, 3), amp=0.3)),
        TRAIN: ("stripes", dict(period=5, angle=0.0, amp=0.25)),
    },
    rates=dict(car=3.5, truck=0.15, bus=0.15, train=0.12, person=2.5, rider=0.7, parked_bike=0.4, pole=3.0,
               tree=3.0),
    object_scale=0.9,
    horizon=(0.40, 0.50),
    brightness=(0.75, 1.05),
    colour_cast=0.06,
    shadow=0.15,
    vignette=0.1,
    noise=3.0,
    blur=0.3,
    ego_vehicle=0.6,
    lane_colour=(230, 230, 230),
    texture_seed=22,
    extra=dict(sign_prob=0.55, light_prob=0.45, wall_prob=0.25, fence_prob=0.3, terrain_prob=0.5),
)
