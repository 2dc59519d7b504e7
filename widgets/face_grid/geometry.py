"""Where each tile of the face grid is: pure arithmetic, no per-item state.

The grid lays ``count`` square tiles out row by row. Because every tile has the same size, the
position of tile ``k`` and the tile under a point are O(1), so a grid of 100,000 faces costs no
more to lay out, scroll or hit-test than one of 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

SPACING: Final = 10
MIN_TILE: Final = 48
MAX_TILE: Final = 256


@dataclass(frozen=True)
class GridGeometry:
    """Tiles of ``tile`` px in a viewport ``width`` px wide; coordinates are content
    coordinates (y grows down from the top of the first row, not the scrolled viewport)."""

    count: int
    tile: int
    width: int

    @property
    def cell(self) -> int:
        return self.tile + SPACING

    @property
    def columns(self) -> int:
        return max(1, (self.width - SPACING) // self.cell)

    @property
    def rows(self) -> int:
        return -(-self.count // self.columns)

    @property
    def left(self) -> int:
        """x of the first column: the grid is centred in the viewport."""
        return max(SPACING, (self.width - self.columns * self.cell + SPACING) // 2)

    @property
    def content_height(self) -> int:
        return self.rows * self.cell + SPACING

    def tile_origin(self, position: int) -> tuple[int, int]:
        row, col = divmod(position, self.columns)
        return self.left + col * self.cell, SPACING + row * self.cell

    def position_at(self, x: float, y: float) -> int:
        """The tile under content point (x, y), or -1 (a gap, or past the last tile)."""
        col, dx = divmod(int(x) - self.left, self.cell)
        row, dy = divmod(int(y) - SPACING, self.cell)
        if not (0 <= col < self.columns and row >= 0 and dx < self.tile and dy < self.tile):
            return -1
        position = row * self.columns + col
        return position if position < self.count else -1

    def row_range(self, top: float, bottom: float) -> tuple[int, int]:
        """Rows that intersect content ys [top, bottom], as (first, stop)."""
        first = max(0, int(top - SPACING) // self.cell)
        stop = min(self.rows, int(bottom - SPACING) // self.cell + 1)
        return first, max(first, stop)

    def position_range(self, top: float, bottom: float) -> tuple[int, int]:
        """Tile positions on the rows that intersect [top, bottom], as (first, stop)."""
        first, stop = self.row_range(top, bottom)
        return first * self.columns, min(self.count, stop * self.columns)

    def positions_in_rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Positions of the tiles that intersect the content rectangle (x0, y0)-(x1, y1)."""
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        col0 = max(0, -(-(int(x0) - self.left - self.tile + 1) // self.cell))
        col1 = min(self.columns - 1, (int(x1) - self.left) // self.cell)
        row0 = max(0, -(-(int(y0) - SPACING - self.tile + 1) // self.cell))
        row1 = min(self.rows - 1, (int(y1) - SPACING) // self.cell)
        if col1 < col0 or row1 < row0:
            return np.empty(0, np.int64)
        grid = np.add.outer(np.arange(row0, row1 + 1) * self.columns, np.arange(col0, col1 + 1)).ravel()
        return grid[grid < self.count].astype(np.int64, copy=False)

    def scroll_to_show(self, position: int, scroll: int, height: int, *, center: bool = False) -> int:
        """The scroll offset that brings a tile into view, moving as little as possible
        (or centring it when ``center`` or when it is far away)."""
        _, y = self.tile_origin(position)
        top, bottom = y - SPACING, y + self.tile + SPACING
        if not center and top >= scroll and bottom <= scroll + height:
            return scroll
        if center or bottom < scroll - height or top > scroll + 2 * height:
            return max(0, y + self.tile // 2 - height // 2)
        return top if top < scroll else bottom - height
