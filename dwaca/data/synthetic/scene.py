"""One street scene: background, objects far to near, the ego vehicle's bonnet, then the photograph."""
import numpy as np

from .camera import photograph
from .canvas import Canvas
from .classes import EGO_VEHICLE, PERSON
from .objects import draw_person, draw_pole, draw_rider_or_bike, draw_tree, draw_vehicle
from .street import Street, draw_background


def render_scene(style, height, width, rng):
    """One scene: (H, W, 3) uint8 image and (H, W) uint8 label of train ids (254 = ego vehicle, void)."""
    c = Canvas(height, width, style, rng)
    street = Street(horizon=height * rng.uniform(*style.horizon), vanish_x=width * rng.uniform(0.38, 0.62),
                    road=width * rng.uniform(0.38, 0.55), sidewalk=width * rng.uniform(0.1, 0.25), height=height)
    draw_background(c, street, style, rng)

    # Objects, drawn far to near so nearer ones occlude.
    ex, rates, scale = style.extra, style.rates, style.object_scale
    objects = []
    for kind in ("car", "truck", "bus", "train"):
        for _ in range(rng.poisson(rates[kind])):
            t = rng.uniform(0.15, 0.9)
            objects.append((t, lambda t=t, k=kind: draw_vehicle(c, street, rng, k, t, scale)))
    for _ in range(rng.poisson(rates["person"])):
        t = rng.uniform(0.2, 0.9)
        side = rng.choice([-1, 1])

        def person(t=t, side=side):
            u = height * t * scale
            x = street.vanish_x + side * (street.road + street.sidewalk * rng.uniform(0.2, 0.8)) * t
            draw_person(c, PERSON, x, street.row(t), u, c.instance_colour(PERSON, 2.5),
                        np.array([205, 165, 135], np.float32) + rng.normal(0, 20, 3))
        objects.append((t, person))
    for kind, with_rider in (("rider", True), ("parked_bike", False)):
        for _ in range(rng.poisson(rates[kind])):
            t = rng.uniform(0.2, 0.9)
            objects.append((t, lambda t=t, r=with_rider: draw_rider_or_bike(c, street, rng, t, scale, r)))
    for _ in range(rng.poisson(rates["pole"])):
        t, side = rng.uniform(0.2, 0.95), rng.choice([-1, 1])
        objects.append((t, lambda t=t, s=side: draw_pole(c, street, rng, s, t, scale, ex["sign_prob"],
                                                          ex["light_prob"])))
    for _ in range(rng.poisson(rates["tree"])):
        t, side = rng.uniform(0.1, 0.8), rng.choice([-1, 1])
        objects.append((t, lambda t=t, s=side: draw_tree(c, street, rng, s, t, scale)))
    for _, draw in sorted(objects, key=lambda o: o[0]):
        draw()

    if rng.random() < style.ego_vehicle:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        edge = height * (1 - rng.uniform(0.06, 0.1)) + 0.05 * height * ((xx - width / 2) / (width / 2)) ** 2
        bonnet = yy >= edge
        c.label[bonnet] = EGO_VEHICLE
        c.colour[bonnet] = (35, 35, 40)
    return photograph(c, style, rng), c.label
