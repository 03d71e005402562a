"""The canvas a scene is painted on: a label map and a base colour per pixel, and the shapes painted into both."""
import numpy as np

from .classes import SKY


class Canvas:
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
