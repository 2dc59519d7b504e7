"""The face graph's data and arithmetic, without Qt.

:class:`GraphPoints` is what the presenter hands the graph: one numpy column per face
attribute, faces named by id. Colouring (which palette entry each point gets) and the
geometry of selection (nearest point to a click, points inside a lasso) are pure numpy
functions here, so they are tested without a widget and cost the same for 100 or 100,000
faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from engine.curation.coverage import PLANES

Axes = Literal["pose", "expression", "smile"]
AXES: Final[tuple[str, ...]] = get_args(Axes)
ColourBy = Literal["role", "person", "sharpness", "clip", "state"]
COLOUR_BY: Final[tuple[str, ...]] = get_args(ColourBy)
RGBA = tuple[int, int, int, int]

ROLE_NAMES: Final = ("src", "dst")
ROLE_SRC: Final = 0
ROLE_DST: Final = 1
NO_PERSON: Final = -1

ROLE_COLOURS: Final[tuple[RGBA, RGBA]] = ((64, 140, 240, 190), (245, 128, 40, 190))
UNKNOWN_COLOUR: Final[RGBA] = (150, 150, 150, 150)
#: ``GraphPoints.state`` bits: left out of the training set, and "not swapped".
NOT_TRAINED: Final = 1
NOT_SWAPPED: Final = 2
#: Colours of the four states (``state`` colouring); "not trained" is also how every other
#: colouring draws faces outside the training set.
STATE_COLOURS: Final[tuple[tuple[str, RGBA], ...]] = (
    ("trained and swapped", (90, 190, 110, 200)), ("not trained", (110, 110, 110, 120)),
    ("not swapped", (240, 180, 40, 220)), ("not trained, not swapped", (200, 70, 70, 200)),
)
#: Ten distinguishable colours (Tableau 10) for persons and clips; they repeat after ten.
CATEGORY_COLOURS: Final[tuple[RGBA, ...]] = (
    (78, 121, 167, 200), (242, 142, 43, 200), (225, 87, 89, 200), (118, 183, 178, 200),
    (89, 161, 79, 200), (237, 201, 72, 200), (176, 122, 161, 200), (255, 157, 167, 200),
    (156, 117, 95, 200), (186, 176, 172, 200),
)
#: Sharpness is shown in this many steps (viridis): a few brushes render 100,000 points
#: from one small symbol atlas, where a brush per value would build thousands of symbols.
SHARPNESS_STEPS: Final = 16
_VIRIDIS: Final = np.array([
    (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
    (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
], dtype=np.float64)


def _column(values: npt.ArrayLike | None, n: int, dtype: type, fill: float | int) -> np.ndarray:
    if values is None:
        return np.full(n, fill, dtype=dtype)
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"column has {len(arr)} values for {n} faces")
    return arr


@dataclass(frozen=True, eq=False)
class GraphPoints:
    """The faces the graph plots, one numpy array per column, all of one length.

    Build it with :meth:`build`, which converts dtypes and fills missing columns.

    Attributes
    ----------
    ids : int64 face ids (unique): what selections are made of.
    role : int8, :data:`ROLE_SRC` or :data:`ROLE_DST`.
    yaw, pitch : float64 degrees (NaN: unknown; such faces are not drawn in the pose view).
    mouth_open, eyes_open, smile : float64 expression descriptors (NaN: unknown).
    person : int64 person id, :data:`NO_PERSON` when unassigned.
    sharpness : float64 (NaN: unknown).
    clip : int64 clip id.
    """

    ids: np.ndarray
    role: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    mouth_open: np.ndarray
    eyes_open: np.ndarray
    smile: np.ndarray
    person: np.ndarray
    sharpness: np.ndarray
    clip: np.ndarray
    #: int8 bits: :data:`NOT_TRAINED` (``excluded``) and :data:`NOT_SWAPPED` (``swap_excluded``)
    state: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.state is None:
            object.__setattr__(self, "state", np.zeros(len(self.ids), np.int8))

    @classmethod
    def build(
        cls,
        *,
        ids: npt.ArrayLike,
        role: npt.ArrayLike,
        yaw: npt.ArrayLike | None = None,
        pitch: npt.ArrayLike | None = None,
        mouth_open: npt.ArrayLike | None = None,
        eyes_open: npt.ArrayLike | None = None,
        smile: npt.ArrayLike | None = None,
        person: npt.ArrayLike | None = None,
        sharpness: npt.ArrayLike | None = None,
        clip: npt.ArrayLike | None = None,
        excluded: npt.ArrayLike | None = None,
        swap_excluded: npt.ArrayLike | None = None,
    ) -> GraphPoints:
        """Columns from arrays or lists; ``role`` as 0/1 codes or ``"src"``/``"dst"``."""
        fid = np.asarray(ids, dtype=np.int64).reshape(-1)
        n = len(fid)
        if len(np.unique(fid)) != n:
            raise ValueError("face ids must be unique")
        r = np.asarray(role).reshape(-1)
        if r.dtype.kind in "USO":
            codes = np.full(len(r), -1, dtype=np.int8)
            codes[r == "src"] = ROLE_SRC
            codes[r == "dst"] = ROLE_DST
            r = codes
        r = _column(r, n, np.int8, 0)
        if np.any((r != ROLE_SRC) & (r != ROLE_DST)):
            raise ValueError("role must be 'src'/'dst' or 0/1")
        nan = float("nan")
        return cls(
            ids=fid, role=r,
            yaw=_column(yaw, n, np.float64, nan), pitch=_column(pitch, n, np.float64, nan),
            mouth_open=_column(mouth_open, n, np.float64, nan), eyes_open=_column(eyes_open, n, np.float64, nan),
            smile=_column(smile, n, np.float64, nan), person=_column(person, n, np.int64, NO_PERSON),
            sharpness=_column(sharpness, n, np.float64, nan), clip=_column(clip, n, np.int64, 0),
            state=(_column(excluded, n, np.bool_, False).astype(np.int8) * NOT_TRAINED
                   + _column(swap_excluded, n, np.bool_, False).astype(np.int8) * NOT_SWAPPED),
        )

    @classmethod
    def empty(cls) -> GraphPoints:
        return cls.build(ids=np.empty(0, np.int64), role=np.empty(0, np.int8))

    def __len__(self) -> int:
        return len(self.ids)

    def xy(self, axes: str) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) columns of a view: ``"pose"`` is (yaw, pitch), and so on (``PLANES``)."""
        ax, ay = PLANES[axes].axes
        return getattr(self, ax), getattr(self, ay)

    def role_counts(self, rows: np.ndarray | None = None) -> dict[str, int]:
        """Faces per role name, over all rows or the given row positions."""
        r = self.role if rows is None else self.role[rows]
        return {name: int(np.count_nonzero(r == code)) for code, name in enumerate(ROLE_NAMES)}


def _categories(values: np.ndarray, unknown: int | None) -> tuple[np.ndarray, list[RGBA], list[tuple[str, RGBA]]]:
    uniq, codes = np.unique(values, return_inverse=True)
    palette = [CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i in range(len(uniq))]
    legend = [(str(v), c) for v, c in zip(uniq.tolist(), palette)]
    if unknown is not None:
        for i, v in enumerate(uniq.tolist()):
            if v == unknown:
                palette[i] = UNKNOWN_COLOUR
                legend[i] = ("none", UNKNOWN_COLOUR)
    return codes.astype(np.int64), palette, legend


def colour_codes(points: GraphPoints, colour_by: str) -> tuple[np.ndarray, list[RGBA], list[tuple[str, RGBA]]]:
    """A palette index per face, the palette, and legend entries ``(label, colour)``.

    ``role``: two colours; ``person`` and ``clip``: one colour per distinct value (no
    person in grey); ``sharpness``: :data:`SHARPNESS_STEPS` viridis steps between the 2nd
    and 98th percentile (one outlier does not wash the rest out), unknown in grey.
    """
    if colour_by == "state":
        return (points.state.astype(np.int64), [c for _, c in STATE_COLOURS], list(STATE_COLOURS))
    codes, palette, legend = _colour_codes(points, colour_by)
    untrained = (points.state & NOT_TRAINED) != 0
    if untrained.any():
        codes = codes.copy()
        codes[untrained] = len(palette)
        palette = [*palette, STATE_COLOURS[1][1]]
        legend = [*legend, STATE_COLOURS[1]]
    return codes, palette, legend


def _colour_codes(points: GraphPoints, colour_by: str) -> tuple[np.ndarray, list[RGBA], list[tuple[str, RGBA]]]:
    if colour_by == "role":
        return points.role.astype(np.int64), list(ROLE_COLOURS), list(zip(ROLE_NAMES, ROLE_COLOURS))
    if colour_by == "person":
        return _categories(points.person, NO_PERSON)
    if colour_by == "clip":
        return _categories(points.clip, None)
    if colour_by == "sharpness":
        s = points.sharpness
        known = ~np.isnan(s)
        steps = SHARPNESS_STEPS
        t = np.linspace(0.0, 1.0, steps)
        ramp = np.column_stack([np.interp(t, np.linspace(0, 1, len(_VIRIDIS)), _VIRIDIS[:, c]) for c in range(3)])
        palette: list[RGBA] = [(int(r), int(g), int(b), 200) for r, g, b in np.round(ramp)] + [UNKNOWN_COLOUR]
        codes = np.full(len(s), steps, dtype=np.int64)
        if known.any():
            lo, hi = np.percentile(s[known], [2.0, 98.0])
            span = hi - lo if hi > lo else 1.0
            codes[known] = np.clip(((s[known] - lo) / span * steps).astype(np.int64), 0, steps - 1)
            legend = [(f"{lo:.3g}", palette[0]), (f"{hi:.3g}", palette[steps - 1])]
        else:
            legend = []
        return codes, palette, legend + [("unknown", UNKNOWN_COLOUR)]
    raise ValueError(f"colour_by must be one of {COLOUR_BY}, got {colour_by!r}")


def nearest_point(
    x: np.ndarray, y: np.ndarray, at: tuple[float, float], pixel: tuple[float, float], radius_px: float
) -> int | None:
    """Row of the point nearest to ``at`` within ``radius_px`` screen pixels, or None.

    ``pixel`` is the size of one screen pixel in data units along x and y: the plot's axes
    have different scales, so "near" is measured on screen. Ties go to the last row (the
    point drawn on top).
    """
    if len(x) == 0:
        return None
    px, py = abs(pixel[0]) or 1.0, abs(pixel[1]) or 1.0
    dx, dy = radius_px * px, radius_px * py
    cand = np.flatnonzero((np.abs(x - at[0]) <= dx) & (np.abs(y - at[1]) <= dy))
    if len(cand) == 0:
        return None
    d2 = ((x[cand] - at[0]) / px) ** 2 + ((y[cand] - at[1]) / py) ** 2
    best = np.flatnonzero(d2 == d2.min())[-1]
    return int(cand[best]) if d2[best] <= radius_px**2 else None


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: npt.ArrayLike) -> np.ndarray:
    """Bool mask of points inside a closed polygon ``(k, 2)`` (even-odd rule).

    Vectorised over points, looping over the polygon's edges; the polygon's bounding box
    first discards most points, so a lasso over 100,000 faces costs a few milliseconds.
    """
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(len(x), dtype=bool)
    if len(poly) < 3 or len(x) == 0:
        return inside
    (x0, y0), (x1, y1) = poly.min(axis=0), poly.max(axis=0)
    cand = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    if len(cand) == 0:
        return inside
    cx, cy = x[cand], y[cand]
    hit = np.zeros(len(cand), dtype=bool)
    xa, ya = poly[:, 0], poly[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    for ax_, ay_, bx_, by_ in zip(xa, ya, xb, yb):
        if ay_ == by_:
            continue  # a horizontal edge is never crossed by a horizontal ray
        straddles = (ay_ > cy) != (by_ > cy)
        x_cross = ax_ + (cy - ay_) * (bx_ - ax_) / (by_ - ay_)
        hit ^= straddles & (cx < x_cross)
    inside[cand] = hit
    return inside


def simplify_path(points: npt.ArrayLike, max_points: int = 200) -> np.ndarray:
    """Every k-th vertex of a drawn lasso, so containment stays fast however long the drag."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) <= max_points:
        return pts
    step = int(np.ceil(len(pts) / max_points))
    return pts[::step]
