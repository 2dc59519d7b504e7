"""Label masks as data: ordered include/exclude polygons and brush strokes.

A *label mask* is what the user draws on a face (a face that has one is a keyframe).
It is stored as shapes in **frame pixel coordinates**, never as pixels of one crop, so it
survives what crops do not: a landmark fix, a new face type, another crop size. Any crop
of the face gets the mask by rasterising the shapes through that crop's alignment
(:mod:`engine.masks.raster`).

Shapes are applied in order, each painting its ``kind`` (include = 1, exclude = 0) over
what the earlier ones made, so a later exclude cuts an earlier include and a later include
fills an earlier exclude back in. This is both what a painter's undo history needs (a
stroke is one more shape on top) and what vectorising a raster needs (holes within
outlines within holes). DeepFaceLab instead re-sorts all includes before all excludes on
load, which makes "paint back into a hole" impossible.

This module is Qt-free and store-free: the mask painter widget edits these values and
the store (:mod:`engine.masks.repo`) saves them as JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from engine.errors import FacesmithError

ShapeKind = Literal["include", "exclude"]
ShapeType = Literal["polygon", "stroke"]
KINDS: Final = ("include", "exclude")
TYPES: Final = ("polygon", "stroke")
#: Version of the JSON layout written by :meth:`LabelMask.to_json`.
FORMAT_VERSION: Final = 1
#: A sanity bound: a hand-drawn label has hundreds of points, a vectorised one a few
#: hundred; a million means a corrupt row or a runaway tool, not a mask.
MAX_POINTS: Final = 200_000
#: Coordinates and radii are kept to this many decimals (1/1000 px).
DECIMALS: Final = 3

Points = npt.NDArray[np.float64]


class MaskError(FacesmithError):
    """A label mask (or its JSON) is not valid; the message says which shape and why."""


def _as_points(points: npt.ArrayLike, where: str) -> Points:
    try:
        arr = np.array(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise MaskError(f"{where}: points must be numbers") from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        if arr.size == 0:
            arr = arr.reshape(0, 2)
        else:
            raise MaskError(f"{where}: points must be (N, 2) x/y pairs, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise MaskError(f"{where}: points must be finite numbers")
    # Canonical to 1/1000 px, the precision of the JSON: a mask read back from the store
    # equals the one that was saved.
    arr = np.round(arr, DECIMALS) + 0.0
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Shape:
    """One include/exclude polygon or brush stroke, in frame pixels.

    Attributes
    ----------
    kind : ``include`` paints the mask in, ``exclude`` paints it out.
    type : ``polygon`` (closed, filled; >= 3 points) or ``stroke`` (a brush path of
        >= 1 points drawn with round caps).
    points : float64 ``(N, 2)`` x/y, read-only.
    radius : brush radius in frame pixels (strokes only; 0 for polygons).
    """

    kind: ShapeKind
    type: ShapeType
    points: Points
    radius: float = 0.0

    def __post_init__(self) -> None:
        where = f"{self.type} shape"
        if self.kind not in KINDS:
            raise MaskError(f"{where}: kind must be 'include' or 'exclude', got {self.kind!r}")
        if self.type not in TYPES:
            raise MaskError(f"shape: type must be 'polygon' or 'stroke', got {self.type!r}")
        pts = _as_points(self.points, where)
        object.__setattr__(self, "points", pts)
        radius = float(self.radius)
        if self.type == "polygon":
            if len(pts) < 3:
                raise MaskError(f"{where}: a polygon needs at least 3 points, got {len(pts)}")
            if radius != 0.0:
                raise MaskError(f"{where}: a polygon has no radius")
        else:
            if len(pts) < 1:
                raise MaskError(f"{where}: a stroke needs at least 1 point")
            if not (math.isfinite(radius) and radius > 0.0):
                raise MaskError(f"{where}: a stroke needs a radius > 0, got {self.radius!r}")
        object.__setattr__(self, "radius", round(radius, DECIMALS))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Shape)
            and (self.kind, self.type, self.radius) == (other.kind, other.type, other.radius)
            and self.points.shape == other.points.shape
            and bool(np.array_equal(self.points, other.points))
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.type, self.radius, self.points.tobytes()))

    def transformed(self, matrix: npt.ArrayLike) -> Shape:
        """The shape under a 2x3 similarity (another frame, a crop); strokes' radii scale."""
        mat = np.asarray(matrix, dtype=np.float64)[:2]
        pts = self.points @ mat[:, :2].T + mat[:, 2]
        radius = self.radius * similarity_scale(mat) if self.type == "stroke" else 0.0
        return Shape(self.kind, self.type, pts, radius)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "type": self.type,
                               "points": self.points.tolist()}
        if self.type == "stroke":
            out["radius"] = self.radius
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], index: int = 0) -> Shape:
        where = f"shape {index}"
        if not isinstance(data, Mapping):
            raise MaskError(f"{where}: must be an object")
        unknown = set(data) - {"kind", "type", "points", "radius"}
        if unknown:
            raise MaskError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for key in ("kind", "type", "points"):
            if key not in data:
                raise MaskError(f"{where}: missing {key!r}")
        try:
            return cls(data["kind"], data["type"], data["points"], data.get("radius", 0.0))
        except MaskError as exc:
            raise MaskError(f"{where}: {exc}") from None
        except (TypeError, ValueError):
            raise MaskError(f"{where}: radius must be a number") from None


def similarity_scale(matrix: npt.ArrayLike) -> float:
    """The uniform scale of a 2x3 similarity (sqrt of the determinant of its 2x2 part)."""
    mat = np.asarray(matrix, dtype=np.float64)
    return float(math.sqrt(abs(np.linalg.det(mat[:2, :2]))))


@dataclass(frozen=True)
class LabelMask:
    """A face's label mask: shapes in frame pixels, applied in order (see module docs).

    Immutable: every edit returns a new mask, so an undo command can hold the masks before
    and after by reference, and a painter's draft can never leak into a stored value.
    """

    shapes: tuple[Shape, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        shapes = tuple(self.shapes)
        for i, s in enumerate(shapes):
            if not isinstance(s, Shape):
                raise MaskError(f"shape {i}: not a Shape")
        if sum(len(s.points) for s in shapes) > MAX_POINTS:
            raise MaskError(f"label mask has more than {MAX_POINTS} points")
        object.__setattr__(self, "shapes", shapes)

    # -- building ---------------------------------------------------------------------
    @classmethod
    def polygon(cls, points: npt.ArrayLike, kind: ShapeKind = "include") -> LabelMask:
        return cls((Shape(kind, "polygon", np.asarray(points, dtype=np.float64)),))

    def with_shape(self, shape: Shape) -> LabelMask:
        return LabelMask((*self.shapes, shape))

    def with_shapes(self, shapes: Iterable[Shape]) -> LabelMask:
        return LabelMask((*self.shapes, *shapes))

    def without(self, index: int) -> LabelMask:
        if not -len(self.shapes) <= index < len(self.shapes):
            raise IndexError(f"no shape {index} (the mask has {len(self.shapes)})")
        shapes = list(self.shapes)
        del shapes[index]
        return LabelMask(tuple(shapes))

    def transformed(self, matrix: npt.ArrayLike) -> LabelMask:
        """Every shape under a 2x3 similarity (see :meth:`Shape.transformed`)."""
        return LabelMask(tuple(s.transformed(matrix) for s in self.shapes))

    # -- queries ----------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not self.shapes

    def __len__(self) -> int:
        return len(self.shapes)

    @property
    def point_count(self) -> int:
        return sum(len(s.points) for s in self.shapes)

    def bounds(self) -> tuple[float, float, float, float] | None:
        """``(x0, y0, x1, y1)`` of the include shapes (strokes with their radius)."""
        boxes = []
        for s in self.shapes:
            if s.kind != "include":
                continue
            lo, hi = s.points.min(axis=0) - s.radius, s.points.max(axis=0) + s.radius
            boxes.append((*lo, *hi))
        if not boxes:
            return None
        b = np.array(boxes)
        return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "shapes": [s.to_dict() for s in self.shapes]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelMask:
        if not isinstance(data, Mapping):
            raise MaskError("label mask: must be a JSON object")
        unknown = set(data) - {"version", "shapes"}
        if unknown:
            raise MaskError(f"label mask: unknown field(s) {', '.join(sorted(unknown))}")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise MaskError(f"label mask: missing or bad version {version!r}")
        if version > FORMAT_VERSION:
            raise MaskError(f"label mask: format version {version} is newer than this Facesmith "
                            f"reads ({FORMAT_VERSION}); update Facesmith")
        shapes = data.get("shapes")
        if not isinstance(shapes, Sequence) or isinstance(shapes, (str, bytes)):
            raise MaskError("label mask: 'shapes' must be a list")
        return cls(tuple(Shape.from_dict(s, i) for i, s in enumerate(shapes)))

    @classmethod
    def from_json(cls, text: str | bytes) -> LabelMask:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MaskError(f"label mask: not valid JSON ({exc})") from None
        return cls.from_dict(data)
