"""Per-class shading patterns (noise, clouds, stripes, grids, windows, gradients) of a domain."""
import numpy as np


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


def texture_stack(style, shape, margin):
    """(20, H + margin, W + margin) shading per class, index 19 for void; crops at a random offset vary it."""
    rng = np.random.default_rng(style.texture_seed)
    full = (shape[0] + margin, shape[1] + margin)
    stack = np.ones((20,) + full, dtype=np.float32)
    for cls, (kind, params) in sorted(style.textures.items()):
        stack[cls] = _texture(kind, params, full, rng)
    return stack
