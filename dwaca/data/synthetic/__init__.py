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
from .scene import render_scene
from .styles import SOURCE_STYLE, TARGET_STYLE, DomainStyle
from .writer import generate_benchmark

__all__ = ["SOURCE_STYLE", "TARGET_STYLE", "DomainStyle", "generate_benchmark", "render_scene"]
