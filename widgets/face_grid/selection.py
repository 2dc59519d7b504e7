"""How clicks and keys change the face grid's selection: pure numpy, no Qt.

The selection is a bool array over the table's *rows* (so it survives re-sorting and
filtering); clicks and keys speak in display *positions*; ``order`` maps positions to rows.
Keeping the rules here lets them be tested with plain arrays, the way napari tests its
paint tools on the model with fake events.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import numpy as np

Move = Literal["left", "right", "up", "down", "page_up", "page_down", "home", "end"]
MOVES: Final[tuple[str, ...]] = get_args(Move)


def range_mask(size: int, order: np.ndarray, a: int, b: int, base: np.ndarray | None = None) -> np.ndarray:
    """``base`` (or nothing) plus the rows shown at positions a..b inclusive, in any order."""
    lo, hi = sorted((a, b))
    selected = np.zeros(size, np.bool_) if base is None else base.copy()
    selected[order[lo:hi + 1]] = True
    return selected


def click_mask(selected: np.ndarray, order: np.ndarray, position: int, anchor_position: int, *,
               ctrl: bool, shift: bool) -> tuple[np.ndarray, bool]:
    """The selection after a click on ``position``, and whether the click moves the anchor.

    Plain click: only that face. Ctrl: toggle it. Shift: the range from the anchor (replacing
    the selection; Ctrl+Shift adds the range). Without an anchor, Shift acts as a plain click.
    """
    row = int(order[position])
    if shift and anchor_position >= 0:
        return range_mask(selected.size, order, anchor_position, position, selected if ctrl else None), False
    if ctrl:
        toggled = selected.copy()
        toggled[row] = not toggled[row]
        return toggled, True
    only = np.zeros(selected.size, np.bool_)
    only[row] = True
    return only, True


def move_target(move: Move, here: int, count: int, *, columns: int, page_rows: int, first_visible: int) -> int:
    """The position a navigation key moves the current face to (``here`` = -1: none yet, so
    arrows start at the first visible face)."""
    if count <= 0:
        return -1
    if move == "home":
        return 0
    if move == "end":
        return count - 1
    if here < 0:
        return min(max(first_visible, 0), count - 1)
    step = {"left": -1, "right": 1, "up": -columns, "down": columns,
            "page_up": -columns * max(1, page_rows), "page_down": columns * max(1, page_rows)}[move]
    return int(np.clip(here + step, 0, count - 1))
