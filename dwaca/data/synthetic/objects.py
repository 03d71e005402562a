"""Objects standing in the street at a depth-dependent size: trees, poles with signs or lights, vehicles, persons,
and bicycles or motorcycles with or without a rider."""
import numpy as np

from .classes import BICYCLE, BUS, CAR, LIGHT, MOTORCYCLE, POLE, RIDER, SIGN, TRAIN, TRUCK, VEGETATION


def draw_tree(c, street, rng, side, t, scale):
    u = c.h * t * scale
    x = street.vanish_x + side * (street.road + street.sidewalk * rng.uniform(0.6, 1.2)) * t
    base = street.row(t)
    colour = c.instance_colour(VEGETATION)
    c.rect(base - 0.35 * u, base, x - 0.02 * u - 0.5, x + 0.02 * u + 0.5, VEGETATION, colour * 0.6)
    for _ in range(3):
        c.ellipse(base - 0.45 * u + rng.normal(0, 0.05 * u), x + rng.normal(0, 0.08 * u),
                  0.18 * u * rng.uniform(0.7, 1.2), 0.2 * u * rng.uniform(0.7, 1.2), VEGETATION, colour)


def draw_pole(c, street, rng, side, t, scale, sign_prob, light_prob):
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


def draw_vehicle(c, street, rng, kind, t, scale):
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


def draw_person(c, cls, x, feet, u, colour, skin, seated=False):
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


def draw_rider_or_bike(c, street, rng, t, scale, with_rider):
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
        draw_person(c, RIDER, x - facing * 0.03 * u, seat, u * 0.9, c.instance_colour(RIDER, 2.0),
                    np.array([200, 160, 130], np.float32), seated=True)
