"""The frame view's zoom and pan as a Qt-free value: frame pixels <-> view pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

MIN_SCALE: Final = 0.1
MAX_SCALE: Final = 32.0


@dataclass(frozen=True)
class ViewTransform:
    """``view = (frame + 0.5) * scale + offset``, per axis.

    The ``+ 0.5`` moves from pixel-centre frame coordinates (see :mod:`.model`) to the
    picture's edge, so ``offset`` is where the picture's top-left corner lands in the view
    and frame pixel ``i`` spans ``[offset + i * scale, offset + (i + 1) * scale)``.

    Attributes
    ----------
    scale : view pixels per frame pixel.
    dx, dy : the view position of the picture's top-left corner.
    """

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    @classmethod
    def fitted(cls, frame_size: tuple[int, int], view_size: tuple[int, int]) -> ViewTransform:
        """The whole frame, centred, as large as the view allows (``size`` = (width, height))."""
        fw, fh = frame_size
        vw, vh = view_size
        if fw <= 0 or fh <= 0 or vw <= 0 or vh <= 0:
            return cls()
        scale = min(max(min(vw / fw, vh / fh), 1e-3), MAX_SCALE)
        # Whole-pixel offsets keep the fitted picture's edges crisp.
        return cls(scale, float(round((vw - fw * scale) / 2)), float(round((vh - fh * scale) / 2)))

    def zoomed(
        self,
        factor: float,
        anchor: tuple[float, float],
        *,
        min_scale: float = MIN_SCALE,
        max_scale: float = MAX_SCALE,
    ) -> ViewTransform:
        """Scaled by ``factor`` (clamped to the limits) keeping the view point ``anchor`` fixed."""
        scale = min(max(self.scale * factor, min_scale), max_scale)
        ax, ay = anchor
        ux, uy = (ax - self.dx) / self.scale, (ay - self.dy) / self.scale
        return ViewTransform(scale, ax - ux * scale, ay - uy * scale)

    def panned(self, dx: float, dy: float) -> ViewTransform:
        return ViewTransform(self.scale, self.dx + dx, self.dy + dy)

    def to_view(self, points: np.ndarray) -> np.ndarray:
        """Frame points ``(..., 2)`` -> view points (float64)."""
        p = np.asarray(points, dtype=np.float64)
        return (p + 0.5) * self.scale + np.array([self.dx, self.dy])

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """View points ``(..., 2)`` -> frame points (float64)."""
        p = np.asarray(points, dtype=np.float64)
        return (p - np.array([self.dx, self.dy])) / self.scale - 0.5

    def point_to_view(self, x: float, y: float) -> tuple[float, float]:
        return (x + 0.5) * self.scale + self.dx, (y + 0.5) * self.scale + self.dy

    def point_to_frame(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.dx) / self.scale - 0.5, (y - self.dy) / self.scale - 0.5

    def box_to_view(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """A frame box ``(x0, y0, x1, y1)`` -> the view box of the same points."""
        x0, y0 = self.point_to_view(box[0], box[1])
        x1, y1 = self.point_to_view(box[2], box[3])
        return x0, y0, x1, y1
