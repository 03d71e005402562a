"""The street's perspective and its background: sky, facades, walls, fences, terrain, road, sidewalks, lanes."""
from dataclasses import dataclass

import numpy as np

from .classes import BUILDING, FENCE, ROAD, SIDEWALK, TERRAIN, WALL


@dataclass
class Street:
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


def draw_background(c, street, style, rng):
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
