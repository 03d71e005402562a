"""Procedural street scenes: a GTAV-format source domain and a Cityscapes-format target domain.

Every scene has the structure of a forward-facing street view: sky on top, a street canyon of building facades
converging on a vanishing point, walls/fences/terrain/trees at the facades' feet, a perspective road with lane
markings between two sidewalks, and objects standing on the ground at a depth-dependent size (cars, trucks, buses,
rare trains on the road; persons on the sidewalks; riders on bicycles and motorcycles; thin poles carrying traffic
signs or lights). All 19 Cityscapes classes occur with a long-tailed frequency.

The two domains differ the way GTAV and Cityscapes do:

* appearance: each class has one colour in this world, rendered saturated and warm in the source and desaturated
  and cool with a random colour cast in the target; textures (window grids, paving, foliage, fences at other
  patterns, periods and amplitudes); lighting (brighter and even vs darker with a side shadow and vignetting);
  sensor noise and blur (target only); an ego-vehicle bonnet (target only, void);
* content: rare classes (pole, traffic light/sign, person, rider, bicycle, motorcycle) rarer in the source, objects
  larger in the source, horizon higher in the source.

Determinism: image ``i`` of a domain is drawn from ``numpy.random.default_rng([seed, domain, i])`` and the domain
styles from a fixed seed, so the same seed writes identical bytes and the domains are the same for every seed.
"""
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from cityscapesscripts.helpers.labels import id2label

from .labels import class_names, trainid_to_cityscapes_id

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS,
 TRAIN, MOTORCYCLE, BICYCLE) = range(19)
EGO_VEHICLE = 254  # void, written as Cityscapes id 1 ("ego vehicle")

TRAIN_CITIES = ("aachen", "bochum", "bremen")
VAL_CITIES = ("frankfurt", "lindau", "munster")

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


# ---- textures ---------------------------------------------------------------------------------------------------
def _value_noise(rng, shape, cell):
    """Smooth noise in [-1, 1]: a random grid of ``cell``-pixel spacing, bilinearly upsampled."""
    h, w = shape
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.uniform(-1.0, 1.0, (gh, gw))
    ys, xs = np.arange(h) / cell, np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _texture(kind, params, shape, rng):
    """(H, W) multiplicative shading around 1 for one class."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    amp = params["amp"]
    if kind == "noise":
        pattern = _value_noise(rng, shape, params["cell"])
    elif kind == "clouds":
        pattern = np.clip(_value_noise(rng, shape, params["cell"]) * 2.0, 0.0, 1.0) - 0.3 * yy / h
    elif kind == "stripes":
        a = params["angle"]
        pattern = np.sin(2 * np.pi * (yy * np.cos(a) + xx * np.sin(a)) / params["period"])
    elif kind == "grid":
        py, px = params["period"]
        lines = (yy % py < params["line"]) | (xx % px < params["line"])
        pattern = np.where(lines, -1.0, 0.2)
    elif kind == "windows":
        (py, px), (sy, sx) = params["period"], params["size"]
        windows = (yy % py < sy) & (xx % px < sx)
        pattern = np.where(windows, -1.0, 0.25)
    elif kind == "gradient":
        pattern = 1.0 - 2.0 * yy / h
    else:
        raise ValueError(f"unknown texture kind {kind!r}")
    return (1.0 + amp * pattern).astype(np.float32)


def _texture_stack(style, shape, margin):
    """(20, H + margin, W + margin) shading per class, index 19 for void; crops at a random offset vary it."""
    rng = np.random.default_rng(style.texture_seed)
    full = (shape[0] + margin, shape[1] + margin)
    stack = np.ones((20,) + full, dtype=np.float32)
    for cls, (kind, params) in sorted(style.textures.items()):
        stack[cls] = _texture(kind, params, full, rng)
    return stack


# ---- drawing ----------------------------------------------------------------------------------------------------
class _Canvas:
    """Label map (train ids, 254 = ego vehicle) and base colour, painted back to front."""

    def __init__(self, height, width, style, rng):
        self.h, self.w = height, width
        self.style, self.rng = style, rng
        self.label = np.full((height, width), SKY, dtype=np.uint8)
        self.colour = np.empty((height, width, 3), dtype=np.float32)
        self.colour[:] = style.colours[SKY]

    def instance_colour(self, cls, jitter_scale=1.0):
        jitter = self.rng.normal(0.0, self.style.instance_jitter * jitter_scale, 3)
        return np.clip(self.style.colours[cls] + jitter, 0, 255)

    def _window(self, y0, y1, x0, x1):
        """Integer window clipped to the canvas and the pixel-centre coordinates inside it, or None if empty."""
        y0, y1 = max(0, int(np.floor(y0))), min(self.h, int(np.ceil(y1)))
        x0, x1 = max(0, int(np.floor(x0))), min(self.w, int(np.ceil(x1)))
        if y0 >= y1 or x0 >= x1:
            return None
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
        return (slice(y0, y1), slice(x0, x1)), ys, xs

    def _paint(self, region, mask, cls, colour):
        lab, col = self.label[region], self.colour[region]
        lab[mask] = cls
        col[mask] = colour

    def rect(self, y0, y1, x0, x1, cls, colour):
        win = self._window(y0, y1, x0, x1)
        if win:
            self._paint(win[0], np.ones((win[1].shape[0], win[2].shape[1]), bool), cls, colour)

    def ellipse(self, cy, cx, ry, rx, cls, colour):
        ry, rx = max(ry, 0.5), max(rx, 0.5)
        win = self._window(cy - ry, cy + ry, cx - rx, cx + rx)
        if win:
            region, ys, xs = win
            self._paint(region, ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1.0, cls, colour)

    def ring(self, cy, cx, radius, thickness, cls, colour):
        win = self._window(cy - radius, cy + radius, cx - radius, cx + radius)
        if win:
            region, ys, xs = win
            d = np.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
            self._paint(region, (d <= radius) & (d >= radius - thickness), cls, colour)

    def segment(self, y0, x0, y1, x1, width, cls, colour):
        """Thick line segment of ``width`` pixels."""
        half = max(width, 1.0) / 2
        win = self._window(min(y0, y1) - half, max(y0, y1) + half, min(x0, x1) - half, max(x0, x1) + half)
        if win:
            region, ys, xs = win
            dy, dx = y1 - y0, x1 - x0
            t = np.clip(((ys - y0) * dy + (xs - x0) * dx) / max(dy * dy + dx * dx, 1e-6), 0, 1)
            d2 = (ys - y0 - t * dy) ** 2 + (xs - x0 - t * dx) ** 2
            self._paint(region, d2 <= half * half, cls, colour)

    def trapezoid(self, y0, y1, top, bottom, cls, colour):
        """Rows y0..y1, spanning x in ``top`` (x0, x1) at y0, linearly to ``bottom`` at y1."""
        win = self._window(y0, y1, min(top[0], bottom[0]), max(top[1], bottom[1]))
        if win:
            region, ys, xs = win
            f = (ys - y0) / max(y1 - y0, 1e-6)
            left = top[0] + f * (bottom[0] - top[0])
            right = top[1] + f * (bottom[1] - top[1])
            self._paint(region, (xs >= left) & (xs <= right), cls, colour)


@dataclass
class _Street:
    """Perspective of one scene: horizon row, vanishing column, road and sidewalk half-widths at the bottom row."""

    horizon: float
    vanish_x: float
    road: float  # road half-width at the bottom row (pixels)
    sidewalk: float  # sidewalk width at the bottom row (pixels)
    height: int

    def depth(self, y):
        """0 at the horizon, 1 at the bottom row."""
        return np.clip((y - self.horizon) / (self.height - self.horizon), 0.0, 1.0)

    def row(self, t):
        return self.horizon + t * (self.height - self.horizon)

    def facade_row(self, x):
        """Row where the outer sidewalk edge (the facades' foot) meets column x."""
        t = abs(x - self.vanish_x) / (self.road + self.sidewalk)
        return self.row(min(t, 1.5))


def _draw_background(c, street, style, rng):
    """Sky, facades, walls/fences/terrain at their feet, road, sidewalks and lane markings."""
    h, w = c.h, c.w
    ex = style.extra
    # Facades: blocks along x; their top rises with the distance from the vanishing point (closer = taller).
    x = 0.0
    while x < w:
        bw = w * rng.uniform(0.06, 0.2)
        x0, x1 = x, min(w, x + bw)
        xm = (x0 + x1) / 2
        foot = street.facade_row(xm)
        reach = abs(xm - street.vanish_x) / (w / 2)
        if rng.random() < 0.85:
            top = street.horizon - h * (rng.uniform(0.04, 0.15) + rng.uniform(0.15, 0.5) * reach)
            c.rect(top, foot, x0, x1, BUILDING, c.instance_colour(BUILDING))
        elif rng.random() < ex["terrain_prob"]:
            c.rect(street.horizon - 1, foot, x0, x1, TERRAIN, c.instance_colour(TERRAIN, 0.5))
        t = street.depth(foot)
        low = max(2.0, 0.12 * h * t * style.object_scale)
        roll = rng.random()
        if roll < ex["wall_prob"]:
            c.rect(foot - low, foot, x0, x1, WALL, c.instance_colour(WALL, 0.5))
        elif roll < ex["wall_prob"] + ex["fence_prob"]:
            c.rect(foot - 1.3 * low, foot, x0, x1, FENCE, c.instance_colour(FENCE, 0.5))
        elif roll < ex["wall_prob"] + ex["fence_prob"] + ex["terrain_prob"] * 0.5:
            c.rect(foot - 0.3 * low, foot + 1, x0, x1, TERRAIN, c.instance_colour(TERRAIN, 0.5))
        x = x1
    # Ground: sidewalks then road, both trapezoids from the vanishing point to the bottom row.
    vx, yh = street.vanish_x, street.horizon
    outer = street.road + street.sidewalk
    c.trapezoid(yh, h, (vx, vx), (vx - outer, vx + outer), SIDEWALK, c.instance_colour(SIDEWALK, 0.5))
    c.trapezoid(yh, h, (vx, vx), (vx - street.road, vx + street.road), ROAD, c.instance_colour(ROAD, 0.3))
    # Lane markings are road: a centre line, dashed in some scenes.
    dashed = rng.random() < 0.5
    lane = np.asarray(style.lane_colour, dtype=np.float32)
    n_dash = 8
    for k in range(n_dash):
        if dashed and k % 2:
            continue
        t0, t1 = (k / n_dash) ** 1.5, ((k + 1) / n_dash) ** 1.5
        y0, y1 = street.row(t0), street.row(t1)
        c.segment(y0, vx, y1, vx, max(1.0, 0.012 * w * t1), ROAD, lane)


def _draw_tree(c, street, rng, side, t, scale):
    u = c.h * t * scale
    x = street.vanish_x + side * (street.road + street.sidewalk * rng.uniform(0.6, 1.2)) * t
    base = street.row(t)
    colour = c.instance_colour(VEGETATION)
    c.rect(base - 0.35 * u, base, x - 0.02 * u - 0.5, x + 0.02 * u + 0.5, VEGETATION, colour * 0.6)
    for _ in range(3):
        c.ellipse(base - 0.45 * u + rng.normal(0, 0.05 * u), x + rng.normal(0, 0.08 * u),
                  0.18 * u * rng.uniform(0.7, 1.2), 0.2 * u * rng.uniform(0.7, 1.2), VEGETATION, colour)


def _draw_pole(c, street, rng, side, t, scale, sign_prob, light_prob):
    u = c.h * t * scale
    x = street.vanish_x + side * (street.road + street.sidewalk * rng.uniform(0.15, 0.5)) * t
    base, top = street.row(t), street.row(t) - 0.75 * u
    width = max(1.0, 0.016 * u)
    c.rect(top, base, x - width / 2, x + width / 2, POLE, c.instance_colour(POLE, 0.5))
    roll = rng.random()
    if roll < sign_prob:
        size = max(2.0, 0.09 * u)
        colour = c.instance_colour(SIGN, 1.5)
        if rng.random() < 0.5:
            c.ellipse(top, x, size / 2, size / 2, SIGN, colour)
        else:
            c.rect(top - size / 2, top + size / 2, x - size / 2, x + size / 2, SIGN, colour)
    elif roll < sign_prob + light_prob:
        lw, lh = max(1.5, 0.05 * u), max(3.0, 0.13 * u)
        c.rect(top, top + lh, x - lw / 2 - width, x + lw / 2 - width, LIGHT, c.instance_colour(LIGHT, 0.5))
        lamp = np.array([(230, 40, 30), (240, 190, 30), (40, 220, 90)][rng.integers(3)], dtype=np.float32)
        c.ellipse(top + lh * rng.choice([0.2, 0.5, 0.8]), x - width, lw / 3, lw / 3, LIGHT, lamp)


def _draw_vehicle(c, street, rng, kind, t, scale):
    """Car, truck, bus or train on the road at depth t."""
    u = c.h * t * scale
    x = street.vanish_x + rng.uniform(-0.8, 0.8) * street.road * t
    base = street.row(t)
    cls = {"car": CAR, "truck": TRUCK, "bus": BUS, "train": TRAIN}[kind]
    colour = c.instance_colour(cls, 2.5 if kind == "car" else 1.0)
    glass = colour * 0.35 + 20
    if kind == "car":
        bw, bh = 0.45 * u, 0.14 * u
        c.rect(base - bh - 0.03 * u, base - 0.03 * u, x - bw / 2, x + bw / 2, cls, colour)
        c.trapezoid(base - bh - 0.12 * u, base - bh - 0.03 * u, (x - bw * 0.3, x + bw * 0.3),
                    (x - bw * 0.45, x + bw * 0.45), cls, glass)
        for wx in (x - bw * 0.32, x + bw * 0.32):
            c.ellipse(base - 0.035 * u, wx, 0.04 * u, 0.05 * u, cls, np.array([25, 25, 25], np.float32))
    elif kind == "truck":
        bw, bh = 0.5 * u, 0.42 * u
        c.rect(base - bh, base - 0.04 * u, x - bw / 2, x + bw * 0.2, cls, colour)
        c.rect(base - 0.28 * u, base - 0.04 * u, x + bw * 0.2, x + bw / 2, cls, colour * 0.8)
        c.rect(base - 0.26 * u, base - 0.18 * u, x + bw * 0.25, x + bw * 0.45, cls, glass)
        for wx in (x - bw * 0.3, x + bw * 0.3):
            c.ellipse(base - 0.04 * u, wx, 0.05 * u, 0.05 * u, cls, np.array([25, 25, 25], np.float32))
    elif kind == "bus":
        bw, bh = 0.85 * u, 0.45 * u
        c.rect(base - bh, base - 0.03 * u, x - bw / 2, x + bw / 2, cls, colour)
        c.rect(base - bh * 0.8, base - bh * 0.55, x - bw * 0.45, x + bw * 0.45, cls, glass)
    else:
        bw, bh = 1.4 * u, 0.38 * u
        c.rect(base - bh, base, x - bw / 2, x + bw / 2, cls, colour)
        c.rect(base - bh * 0.75, base - bh * 0.5, x - bw * 0.47, x + bw * 0.47, cls, glass)


def _draw_person(c, cls, x, feet, u, colour, skin, seated=False):
    """Standing figure 0.42*u tall with its feet at row ``feet``, or a seated one 0.26*u tall sitting there."""
    height = (0.26 if seated else 0.42) * u
    leg = 0.0 if seated else 0.45 * height
    torso_top = feet - height
    if not seated:
        for dx in (-0.03 * u, 0.03 * u):
            c.segment(feet - leg, x + dx / 2, feet, x + dx, max(1.0, 0.035 * u), cls, colour * 0.6)
    c.ellipse(torso_top + 0.5 * (height - leg), x, 0.4 * (height - leg) + 0.5, (0.045 if seated else 0.06) * u + 0.5,
              cls, colour)
    c.ellipse(torso_top + 0.05 * u, x, 0.045 * u + 0.5, 0.04 * u + 0.5, cls, skin)


def _draw_two_wheeler(c, cls, x, base, u, colour, facing):
    r = (0.07 if cls == BICYCLE else 0.08) * u
    length = (0.3 if cls == BICYCLE else 0.34) * u
    back, front = x - facing * length / 2, x + facing * length / 2
    if cls == BICYCLE:
        for wx in (back, front):
            c.ring(base - r, wx, r, max(1.0, 0.02 * u), cls, colour * 0.5)
        c.segment(base - r, back, base - 2.2 * r, x, max(1.0, 0.02 * u), cls, colour)
        c.segment(base - 2.2 * r, x, base - r, front, max(1.0, 0.02 * u), cls, colour)
    else:
        for wx in (back, front):
            c.ellipse(base - r, wx, r, r, cls, np.array([30, 30, 30], np.float32))
        c.ellipse(base - 2.0 * r, x, 0.9 * r, 0.45 * length, cls, colour)


def _draw_rider_or_bike(c, street, rng, t, scale, with_rider):
    u = c.h * t * scale
    cls = BICYCLE if rng.random() < 0.6 else MOTORCYCLE
    if with_rider:  # on the road, near the kerb
        x = street.vanish_x + rng.choice([-1, 1]) * rng.uniform(0.5, 0.95) * street.road * t
    else:  # parked on the sidewalk
        x = street.vanish_x + rng.choice([-1, 1]) * (street.road + street.sidewalk * rng.uniform(0.2, 0.7)) * t
    base = street.row(t)
    facing = rng.choice([-1, 1])
    _draw_two_wheeler(c, cls, x, base, u, c.instance_colour(cls, 1.5), facing)
    if with_rider:
        seat = base - (0.2 if cls == BICYCLE else 0.17) * u
        _draw_person(c, RIDER, x - facing * 0.03 * u, seat, u * 0.9, c.instance_colour(RIDER, 2.0),
                     np.array([200, 160, 130], np.float32), seated=True)


def render_scene(style, height, width, rng):
    """One scene: (H, W, 3) uint8 image and (H, W) uint8 label of train ids (254 = ego vehicle, void)."""
    c = _Canvas(height, width, style, rng)
    street = _Street(horizon=height * rng.uniform(*style.horizon), vanish_x=width * rng.uniform(0.38, 0.62),
                     road=width * rng.uniform(0.38, 0.55), sidewalk=width * rng.uniform(0.1, 0.25), height=height)
    _draw_background(c, street, style, rng)

    # Objects, drawn far to near so nearer ones occlude.
    ex, rates, scale = style.extra, style.rates, style.object_scale
    objects = []
    for kind in ("car", "truck", "bus", "train"):
        for _ in range(rng.poisson(rates[kind])):
            t = rng.uniform(0.15, 0.9)
            objects.append((t, lambda t=t, k=kind: _draw_vehicle(c, street, rng, k, t, scale)))
    for _ in range(rng.poisson(rates["person"])):
        t = rng.uniform(0.2, 0.9)
        side = rng.choice([-1, 1])

        def person(t=t, side=side):
            u = height * t * scale
            x = street.vanish_x + side * (street.road + street.sidewalk * rng.uniform(0.2, 0.8)) * t
            _draw_person(c, PERSON, x, street.row(t), u, c.instance_colour(PERSON, 2.5),
                         np.array([205, 165, 135], np.float32) + rng.normal(0, 20, 3))
        objects.append((t, person))
    for kind, with_rider in (("rider", True), ("parked_bike", False)):
        for _ in range(rng.poisson(rates[kind])):
            t = rng.uniform(0.2, 0.9)
            objects.append((t, lambda t=t, r=with_rider: _draw_rider_or_bike(c, street, rng, t, scale, r)))
    for _ in range(rng.poisson(rates["pole"])):
        t, side = rng.uniform(0.2, 0.95), rng.choice([-1, 1])
        objects.append((t, lambda t=t, s=side: _draw_pole(c, street, rng, s, t, scale, ex["sign_prob"],
                                                           ex["light_prob"])))
    for _ in range(rng.poisson(rates["tree"])):
        t, side = rng.uniform(0.1, 0.8), rng.choice([-1, 1])
        objects.append((t, lambda t=t, s=side: _draw_tree(c, street, rng, s, t, scale)))
    for _, draw in sorted(objects, key=lambda o: o[0]):
        draw()

    if rng.random() < style.ego_vehicle:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        edge = height * (1 - rng.uniform(0.06, 0.1)) + 0.05 * height * ((xx - width / 2) / (width / 2)) ** 2
        bonnet = yy >= edge
        c.label[bonnet] = EGO_VEHICLE
        c.colour[bonnet] = (35, 35, 40)
    return _photograph(c, style, rng), c.label


_TEXTURE_MARGIN = 32
_texture_cache = {}


def _photograph(c, style, rng):
    """Texture, light, blur and noise on the canvas colours -> (H, W, 3) uint8."""
    key = (style.name, c.h, c.w)
    if key not in _texture_cache:
        _texture_cache[key] = _texture_stack(style, (c.h, c.w), _TEXTURE_MARGIN)
    stack = _texture_cache[key]
    oy, ox = rng.integers(0, _TEXTURE_MARGIN + 1, 2)
    crop = stack[:, oy:oy + c.h, ox:ox + c.w]
    cls = np.minimum(c.label, 19)[None]
    img = c.colour * np.take_along_axis(crop, cls, axis=0)[0][..., None]

    gain = rng.uniform(*style.brightness) * (1 + rng.normal(0, style.colour_cast, 3)) if style.colour_cast else \
        np.full(3, rng.uniform(*style.brightness))
    img = img * gain.astype(np.float32)
    xs = np.linspace(0, 1, c.w, dtype=np.float32)[None, :]
    ys = np.linspace(-1, 1, c.h, dtype=np.float32)[:, None]
    if style.shadow:
        side = xs if rng.random() < 0.5 else 1 - xs
        img *= (1 - rng.uniform(0, style.shadow) * side)[..., None]
    if style.vignette:
        img *= (1 - style.vignette * ((2 * xs - 1) ** 2 + ys ** 2) / 2)[..., None]
    if style.blur:
        k = style.blur / 2
        img = (1 - k) * img + k / 2 * (np.roll(img, 1, 0) + np.roll(img, -1, 0))
        img = (1 - k) * img + k / 2 * (np.roll(img, 1, 1) + np.roll(img, -1, 1))
    if style.noise:
        img = img + rng.normal(0, style.noise, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# ---- writing ----------------------------------------------------------------------------------------------------
def _cityscapes_ids(train_ids):
    """Train ids (and the ego-vehicle code) -> Cityscapes label ids, as the datasets ship them."""
    lut = trainid_to_cityscapes_id(19)
    lut[EGO_VEHICLE] = 1
    return lut[train_ids]


def _label_id_palette():
    """Flat 768-entry palette colouring label ids as cityscapesscripts does (GTAV labels are palette PNGs)."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for label_id, label in id2label.items():
        if 0 <= label_id < 256:
            pal[label_id] = label.color
    return pal.reshape(-1).tolist()


def _save(array, path, palette=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(array)
    if palette is not None:
        img = img.convert("P")
        img.putpalette(palette)
    img.save(path, optimize=False, compress_level=6)


def _cityscapes_name(cities, i):
    city = cities[i % len(cities)]
    return f"{city}/{city}_{i // len(cities):06d}_000019"


def generate_benchmark(out, seed=0, num_source=300, num_target_train=150, num_target_val=50, width=256, height=128,
                       overwrite=False):
    """Write the benchmark under ``out`` and return per-domain statistics.

    Layout (the on-disk formats of the real datasets, so ``DATASETS.ROOT: out`` works unchanged)::

        out/gtav/images/00001.png ...                      source RGB
        out/gtav/labels/00001.png ...                      Cityscapes label ids (palette PNG)
        out/cityscapes/leftImg8bit/{train,val}/<city>/<city>_<seq>_000019_leftImg8bit.png
        out/cityscapes/gtFine/{train,val}/<city>/<city>_<seq>_000019_gtFine_labelIds.png
        out/synthetic_info.json                            arguments and class pixel frequencies

    Returns {"seconds": float, "frequencies": {domain: [19 fractions of labelled pixels]}}. Refuses to write into an
    existing ``out/gtav`` or ``out/cityscapes`` unless ``overwrite`` (which deletes those two folders first).
    """
    out = Path(out)
    for sub in ("gtav", "cityscapes"):
        if (out / sub).exists():
            if not overwrite:
                raise FileExistsError(f"{out / sub} exists; pass overwrite=True (--overwrite) to replace it")
            shutil.rmtree(out / sub)
    start = time.perf_counter()
    palette = _label_id_palette()
    jobs = [("source", SOURCE_STYLE, num_source), ("target_train", TARGET_STYLE, num_target_train),
            ("target_val", TARGET_STYLE, num_target_val)]
    counts = {}
    for domain_id, (domain, style, n) in enumerate(jobs):
        hist = np.zeros(256, dtype=np.int64)
        for i in range(n):
            image, train_ids = render_scene(style, height, width, np.random.default_rng([seed, domain_id, i]))
            hist += np.bincount(train_ids.ravel(), minlength=256)
            label_ids = _cityscapes_ids(train_ids)
            if domain == "source":
                _save(image, out / "gtav" / "images" / f"{i + 1:05d}.png")
                _save(label_ids, out / "gtav" / "labels" / f"{i + 1:05d}.png", palette)
            else:
                split, cities = ("train", TRAIN_CITIES) if domain == "target_train" else ("val", VAL_CITIES)
                stem = _cityscapes_name(cities, i)
                _save(image, out / "cityscapes" / "leftImg8bit" / split / f"{stem}_leftImg8bit.png")
                _save(label_ids, out / "cityscapes" / "gtFine" / split / f"{stem}_gtFine_labelIds.png")
        counts[domain] = hist[:19]
    frequencies = {d: (c / max(c.sum(), 1)).tolist() for d, c in counts.items()}
    stats = {"seconds": time.perf_counter() - start, "frequencies": frequencies}
    info = dict(seed=seed, num_source=num_source, num_target_train=num_target_train, num_target_val=num_target_val,
                width=width, height=height, class_names=class_names(19), class_pixel_frequencies=frequencies)
    (out / "synthetic_info.json").write_text(json.dumps(info, indent=1))
    return stats
