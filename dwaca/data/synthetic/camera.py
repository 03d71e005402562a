"""The camera: a painted canvas photographed with the domain's textures, lighting, blur and sensor noise."""
import numpy as np

from .textures import texture_stack

_TEXTURE_MARGIN = 32
_texture_cache = {}


def photograph(c, style, rng):
    """Texture, light, blur and noise on the canvas colours -> (H, W, 3) uint8."""
    key = (style.name, c.h, c.w)
    if key not in _texture_cache:
        _texture_cache[key] = texture_stack(style, (c.h, c.w), _TEXTURE_MARGIN)
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
