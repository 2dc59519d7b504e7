"""The face grid's data: a Qt-free column table of faces, and pure sort and filter functions.

The grid shows up to hundreds of thousands of faces, so it never holds one Python object per
face. The presenter hands it a :class:`FaceTable` (one numpy array per column, read straight
from the project's ``faces`` table) and everything the grid computes — the display order, the
filter, the selection — is a numpy array over the table's rows. Nothing here imports Qt, so
these functions are tested (and reused by the presenter) without a widget.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Final, Literal, get_args

import numpy as np

SortKey = Literal["frame", "sharpness", "yaw", "pitch", "size", "person", "similarity"]
SORT_KEYS: Final[tuple[str, ...]] = get_args(SortKey)
#: ``FaceTable.role`` codes, in the order of ``engine.project.models.ROLES``.
ROLE_NAMES: Final = ("src", "dst")
ROLE_SRC: Final = 0
ROLE_DST: Final = 1

_INT_COLUMNS: Final = ("id", "clip_id", "frame", "person_id")
_FLOAT_COLUMNS: Final = ("sharpness", "yaw", "pitch", "size")
_BOOL_COLUMNS: Final = ("excluded", "has_mask")


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def role_code(role: int | str) -> int:
    """``"src"``/``"dst"`` (or 0/1) as the code stored in :attr:`FaceTable.role`."""
    if isinstance(role, str):
        try:
            return ROLE_NAMES.index(role)
        except ValueError:
            raise ValueError(f"role must be one of {ROLE_NAMES}, got {role!r}") from None
    code = int(role)
    if code not in (ROLE_SRC, ROLE_DST):
        raise ValueError(f"role code must be 0 (src) or 1 (dst), got {role!r}")
    return code


@dataclass(frozen=True, eq=False)
class FaceTable:
    """The faces the grid shows, one numpy array per column, all of the same length.

    Rows are in any order; faces are named by ``id`` everywhere in the grid's API. Build it with
    :meth:`build` (which fills defaults and converts dtypes); the constructor checks and
    converts too, without copying arrays that already have the right dtype.

    Attributes
    ----------
    id : int64, unique face ids.
    clip_id, frame : int64, where the face is.
    role : int8, 0 = src, 1 = dst (the clip's role); a str array of "src"/"dst" is converted.
    person_id : int64, -1 when the face belongs to no person.
    excluded, has_mask : bool flags.
    sharpness, yaw, pitch : float32, NaN when not measured.
    size : float32, the face's size in frame pixels (the box's longer side), NaN if unknown.
    embedding : float32 (n, d) identity embeddings or None; rows of NaN for faces without one.
    """

    id: np.ndarray
    clip_id: np.ndarray
    frame: np.ndarray
    role: np.ndarray
    person_id: np.ndarray
    excluded: np.ndarray
    has_mask: np.ndarray
    sharpness: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    size: np.ndarray | None = None
    embedding: np.ndarray | None = field(default=None, repr=False)
    #: bool, "not swapped" (the merge leaves the face); ``excluded`` is "not trained"
    swap_excluded: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(np.asarray(self.id))
        if self.size is None:
            object.__setattr__(self, "size", np.full(n, np.nan, np.float32))
        object.__setattr__(self, "swap_excluded", np.zeros(n, np.bool_) if self.swap_excluded is None
                           else np.asarray(self.swap_excluded, np.bool_).reshape(n))
        for name in _INT_COLUMNS:
            self._coerce(name, np.int64, n)
        for name in _FLOAT_COLUMNS:
            self._coerce(name, np.float32, n)
        for name in _BOOL_COLUMNS:
            self._coerce(name, np.bool_, n)
        role = np.asarray(self.role)
        if role.dtype.kind in "USO":
            codes = np.full(role.shape, -1, np.int8)
            for code, name in enumerate(ROLE_NAMES):
                codes[role == name] = code
            if (codes < 0).any():
                raise ValueError(f"role must be 'src' or 'dst', got {sorted(set(role[codes < 0].tolist()))[:3]}")
            object.__setattr__(self, "role", codes)
        else:
            self._coerce("role", np.int8, n)
            if n and not bool(((self.role == ROLE_SRC) | (self.role == ROLE_DST)).all()):
                raise ValueError("role codes must be 0 (src) or 1 (dst)")
        if self.embedding is not None:
            emb = np.asarray(self.embedding, dtype=np.float32)
            if emb.ndim != 2 or emb.shape[0] != n:
                raise ValueError(f"embedding must be ({n}, d), got {emb.shape}")
            object.__setattr__(self, "embedding", emb)
        sorted_ids = self._id_index[0]
        if sorted_ids.size > 1 and not bool((sorted_ids[1:] != sorted_ids[:-1]).all()):
            raise ValueError("face ids must be unique")

    def _coerce(self, name: str, dtype: type, n: int) -> None:
        arr = np.asarray(getattr(self, name), dtype=dtype)
        if arr.shape != (n,):
            raise ValueError(f"column {name!r} has shape {arr.shape}, expected ({n},)")
        object.__setattr__(self, name, arr)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        id: Iterable[int] | np.ndarray,  # noqa: A002 - the column's name
        *,
        clip_id: np.ndarray | Iterable[int] | None = None,
        frame: np.ndarray | Iterable[int] | None = None,
        role: np.ndarray | Iterable[int | str] | int | str = ROLE_DST,
        person_id: np.ndarray | Iterable[int] | None = None,
        excluded: np.ndarray | Iterable[bool] | None = None,
        has_mask: np.ndarray | Iterable[bool] | None = None,
        sharpness: np.ndarray | Iterable[float] | None = None,
        yaw: np.ndarray | Iterable[float] | None = None,
        pitch: np.ndarray | Iterable[float] | None = None,
        size: np.ndarray | Iterable[float] | None = None,
        embedding: np.ndarray | None = None,
        swap_excluded: np.ndarray | Iterable[bool] | None = None,
    ) -> FaceTable:
        """A table with defaults for the columns not given (clip 0, frame = row, no person,
        not excluded, no mask, unknown sharpness/pose); a scalar ``role`` applies to all rows."""
        ids = np.asarray(id, dtype=np.int64).reshape(-1)
        n = ids.size

        def col(value: object, fill: object, dtype: type) -> np.ndarray:
            if value is None:
                return np.full(n, fill, dtype)
            return np.asarray(value, dtype=dtype)

        scalar = isinstance(role, (int, str, np.integer, np.str_))
        roles = np.full(n, role_code(role), np.int8) if scalar else np.asarray(role)
        return cls(
            id=ids,
            clip_id=col(clip_id, 0, np.int64),
            frame=np.arange(n, dtype=np.int64) if frame is None else np.asarray(frame, np.int64),
            role=roles,
            person_id=col(person_id, -1, np.int64),
            excluded=col(excluded, False, np.bool_),
            has_mask=col(has_mask, False, np.bool_),
            sharpness=col(sharpness, np.nan, np.float32),
            yaw=col(yaw, np.nan, np.float32),
            pitch=col(pitch, np.nan, np.float32),
            size=col(size, np.nan, np.float32),
            embedding=embedding,
            swap_excluded=col(swap_excluded, False, np.bool_),
        )

    @classmethod
    def empty(cls) -> FaceTable:
        return cls.build(np.empty(0, np.int64))

    def with_flags(self, ids: Iterable[int] | np.ndarray, *, excluded: bool | np.ndarray | None = None,
                   has_mask: bool | np.ndarray | None = None) -> FaceTable:
        """A copy with ``excluded``/``has_mask`` set for these faces (a scalar, or one value per
        id); unknown ids are ignored. Only the changed columns are copied."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows = self.rows_of(ids)
        known = rows >= 0
        changes: dict[str, np.ndarray] = {}
        for name, value in (("excluded", excluded), ("has_mask", has_mask)):
            if value is None:
                continue
            values = np.broadcast_to(np.asarray(value, dtype=np.bool_), ids.shape)
            column = getattr(self, name).copy()
            column[rows[known]] = values[known]
            changes[name] = column
        if not changes:
            return self
        # A shallow copy keeps the cached id index and frame order: neither depends on flags.
        new = copy.copy(self)
        for name, column in changes.items():
            object.__setattr__(new, name, column)
        return new

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return int(self.id.size)

    @cached_property
    def _id_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted ids, row of each sorted id), for :meth:`rows_of`."""
        if self.id.size < 2 or bool((self.id[1:] > self.id[:-1]).all()):
            return self.id, _read_only(np.arange(self.id.size, dtype=np.int64))
        rows = np.argsort(self.id, kind="stable")
        return _read_only(self.id[rows]), _read_only(rows)

    def rows_of(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The row of each face id (int64), -1 for ids not in the table."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        sorted_ids, rows = self._id_index
        if sorted_ids.size == 0:
            return np.full(ids.shape, -1, np.int64)
        at = np.searchsorted(sorted_ids, ids).clip(0, sorted_ids.size - 1)
        return np.where(sorted_ids[at] == ids, rows[at], -1)

    @cached_property
    def frame_order(self) -> np.ndarray:
        """Rows ordered by (clip, frame, id): the grid's default order and every sort's tie-break.

        Cached and read-only, like every array the table derives for itself."""
        c, f, i = self.clip_id, self.frame, self.id
        if c.size < 2:
            return _read_only(np.arange(c.size, dtype=np.int64))
        dc, df, di = np.diff(c), np.diff(f), np.diff(i)
        if bool(((dc > 0) | ((dc == 0) & ((df > 0) | ((df == 0) & (di > 0))))).all()):
            return _read_only(np.arange(c.size, dtype=np.int64))  # the store's usual ORDER BY
        return _read_only(np.lexsort((i, f, c)).astype(np.int64, copy=False))

    def __repr__(self) -> str:
        return f"FaceTable({len(self)} faces, embedding={'none' if self.embedding is None else self.embedding.shape})"


@dataclass(frozen=True)
class FaceFilter:
    """Which faces the grid shows; ``None`` in a field means "any".

    Attributes
    ----------
    role : "src", "dst" or None.
    clip_ids, person_ids : only faces of these clips / persons (-1 = no person), or None.
    excluded : True shows only excluded faces, False hides them, None shows both.
    has_mask : True only faces with a mask, False only faces without, None both.
    """

    role: str | None = None
    clip_ids: tuple[int, ...] | None = None
    person_ids: tuple[int, ...] | None = None
    excluded: bool | None = None
    has_mask: bool | None = None

    def __post_init__(self) -> None:
        if self.role is not None:
            object.__setattr__(self, "role", ROLE_NAMES[role_code(self.role)])
        for name in ("clip_ids", "person_ids"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(int(v) for v in np.asarray(value).reshape(-1)))

    def as_kwargs(self) -> dict[str, object]:
        """The fields as keyword arguments of :func:`filter_mask` / ``FaceGridView.set_filter``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def is_identity(self) -> bool:
        return all(v is None for v in self.as_kwargs().values())


def filter_mask(
    table: FaceTable,
    *,
    role: int | str | None = None,
    clip_ids: Iterable[int] | None = None,
    person_ids: Iterable[int] | None = None,
    excluded: bool | None = None,
    has_mask: bool | None = None,
) -> np.ndarray:
    """A bool array over the table's rows: True for the faces that pass every given criterion."""
    mask = np.ones(len(table), dtype=np.bool_)
    if role is not None:
        mask &= table.role == role_code(role)
    if clip_ids is not None:
        mask &= np.isin(table.clip_id, np.fromiter(clip_ids, np.int64))
    if person_ids is not None:
        mask &= np.isin(table.person_id, np.fromiter(person_ids, np.int64))
    if excluded is not None:
        mask &= table.excluded == bool(excluded)
    if has_mask is not None:
        mask &= table.has_mask == bool(has_mask)
    return mask


def similarity_distance(table: FaceTable, reference_id: int) -> np.ndarray:
    """Distance of every face to the reference face (float32, NaN where unknown; smaller = more alike).

    With embeddings (and one for the reference face) it is the Euclidean distance between
    identity embeddings, the metric the ~0.6 same-person threshold of the identity model is
    defined in. Otherwise the fallback is the distance in head pose, ``hypot(Δyaw, Δpitch)`` in
    degrees: it groups faces that look the same way, which is what a user picking training
    faces "like this one" without embeddings usually wants. Faces with no embedding (or no
    pose, in the fallback) get NaN and sort last.
    """
    row = int(table.rows_of([reference_id])[0])
    if row < 0:
        raise KeyError(f"face {reference_id} is not in the table")
    emb = table.embedding
    if emb is not None and emb.shape[1] and np.isfinite(emb[row]).all():
        diff = emb - emb[row]
        return np.sqrt(np.einsum("ij,ij->i", diff, diff)).astype(np.float32, copy=False)
    return np.hypot(table.yaw - table.yaw[row], table.pitch - table.pitch[row]).astype(np.float32, copy=False)


def sort_order(table: FaceTable, key: str, reference_id: int | None = None, *, reverse: bool = False) -> np.ndarray:
    """The table's rows (int64) in display order for a sort key.

    ``frame``: by clip, frame and id. ``sharpness``: sharpest first. ``yaw``/``pitch``: from most
    negative to most positive. ``size``: biggest first. ``person``: by person id, faces without a person last.
    ``similarity``: most alike to ``reference_id`` first (see :func:`similarity_distance`).
    ``reverse`` flips the direction. Faces whose value is unknown (NaN, no person) always come
    last, and ties keep the frame order, so the result is deterministic.
    """
    base = table.frame_order
    if key == "frame":
        return base[::-1].copy() if reverse else base
    if key == "sharpness":
        values = -table.sharpness
    elif key == "yaw":
        values = table.yaw
    elif key == "pitch":
        values = table.pitch
    elif key == "size":
        values = -table.size
    elif key == "person":
        values = np.where(table.person_id >= 0, table.person_id.astype(np.float64), np.nan)
    elif key == "similarity":
        if reference_id is None:
            raise ValueError("sorting by similarity needs a reference face")
        values = similarity_distance(table, reference_id)
    else:
        raise ValueError(f"unknown sort key {key!r}; expected one of {SORT_KEYS}")
    if reverse:
        values = -values
    # argsort puts NaN last whatever the sign, and a stable sort of rows already in frame order
    # keeps that order among equal values.
    return base[np.argsort(values[base], kind="stable")]


def describe_face(table: FaceTable, row: int) -> str:
    """A face's tooltip: where it is and what is known about it."""

    def num(value: float, fmt: str) -> str:
        return "—" if not np.isfinite(value) else format(value, fmt)

    person = int(table.person_id[row])
    lines = [
        f"face {int(table.id[row])} · {ROLE_NAMES[int(table.role[row])]} clip {int(table.clip_id[row])} · "
        f"frame {int(table.frame[row])}",
        f"sharpness {num(float(table.sharpness[row]), '.3g')} · yaw {num(float(table.yaw[row]), '.0f')}° · "
        f"pitch {num(float(table.pitch[row]), '.0f')}°",
        f"person {person}" if person >= 0 else "no person",
    ]
    if table.excluded[row]:
        lines.append("not trained (left out of the training set)")
    if table.swap_excluded[row]:
        lines.append("not swapped (the merge leaves this face)")
    if table.has_mask[row]:
        lines.append("has a mask")
    return "\n".join(lines)
