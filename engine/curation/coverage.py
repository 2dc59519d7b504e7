"""Coverage: how well the src faces supply the poses and expressions the dst faces demand.

A swap model only learns the views it is shown. A dst face turned 30° with no src face
near 30° is rendered from guesswork, so before training the user wants to see *where* the
src set is thin. We bin a 2D plane (yaw × pitch, or two expression descriptors) on a grid,
count src *supply* and dst *demand* per bin, and report:

- **gaps**: bins where dst has at least ``min_dst`` faces and src fewer than ``min_src``
  (a handful of stray dst faces is noise, not a gap worth shooting more src footage for);
- **score**: the share of dst faces whose bin holds at least ``min_src`` src faces, one
  number per project or per person pair.

Bins are *centred* on multiples of the bin size (yaw -5..5° is "frontal", 25..35° is
"30°"), so the round numbers people talk about fall in the middle of a bin rather than on
an edge between two. Values outside the plane's range are clipped into its edge bins;
faces with an unknown value (NaN) are left out of counts and score alike.

Everything is numpy over flat arrays: 100,000 faces take a few milliseconds, so the editor
recomputes coverage whenever the selection of faces or the thresholds change.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

PlaneName = Literal["pose", "expression", "smile"]
#: A dst bin with fewer faces than this is not reported as a gap (stray faces are noise).
MIN_DST: Final = 5
#: A bin counts as covered when it holds at least this many src faces.
MIN_SRC: Final = 5


@dataclass(frozen=True)
class Plane:
    """One 2D view of the faces: which descriptors go on x and y, their range and bins."""

    name: PlaneName
    axes: tuple[str, str]
    ranges: tuple[tuple[float, float], tuple[float, float]]
    bin_size: tuple[float, float]
    unit: str = ""


#: The planes the face graph shows. Expression ranges follow engine.faces.expression:
#: mouth_open 0 (closed) .. 0.7 (wide open), eyes_open 0 (shut) .. 0.4, smile 0.7 .. 1.2.
PLANES: Final[dict[str, Plane]] = {
    "pose": Plane("pose", ("yaw", "pitch"), ((-90.0, 90.0), (-90.0, 90.0)), (10.0, 10.0), "°"),
    "expression": Plane("expression", ("mouth_open", "eyes_open"), ((0.0, 0.8), (0.0, 0.45)), (0.1, 0.05)),
    "smile": Plane("smile", ("mouth_open", "smile"), ((0.0, 0.8), (0.6, 1.4)), (0.1, 0.1)),
}


@dataclass(frozen=True)
class Gap:
    """A bin the dst faces need and the src faces do not supply.

    Attributes
    ----------
    index : (ix, iy) position of the bin in :attr:`Coverage.dst_counts`.
    x_range, y_range : the bin's edges in plane units (degrees for pose), lower inclusive.
    dst_count, src_count : faces of each role in the bin.
    """

    index: tuple[int, int]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    dst_count: int
    src_count: int


@dataclass(frozen=True, eq=False)
class Coverage:
    """Counts of src and dst faces per bin of one plane, the gaps and the score.

    Built by :func:`compute_coverage`; holds the per-face bins too, so the faces of a gap
    (and the src faces nearest to it) are found without recomputing anything.

    Attributes
    ----------
    plane, axes : the plane's name and its (x, y) descriptor names.
    bin_size : bin width along x and y in plane units.
    x_edges, y_edges : bin edges, ``nx + 1`` and ``ny + 1`` floats.
    src_counts, dst_counts : int64 ``(nx, ny)`` faces per bin, indexed ``[ix, iy]``.
    min_dst, min_src : the gap and coverage thresholds used.
    gaps : the gaps, most dst faces first.
    covered_dst, total_dst : dst faces in covered bins / with a known position.
    src_ids, dst_ids : face ids, in the order the positions were given.
    src_xy, dst_xy : float64 ``(n, 2)`` positions as given (NaN where unknown).
    src_bins, dst_bins : each face's flat bin index (``ix * ny + iy``), -1 where unknown.
    """

    plane: str
    axes: tuple[str, str]
    bin_size: tuple[float, float]
    x_edges: np.ndarray
    y_edges: np.ndarray
    src_counts: np.ndarray
    dst_counts: np.ndarray
    min_dst: int
    min_src: int
    gaps: tuple[Gap, ...]
    covered_dst: int
    total_dst: int
    src_ids: np.ndarray
    dst_ids: np.ndarray
    src_xy: np.ndarray
    dst_xy: np.ndarray
    src_bins: np.ndarray
    dst_bins: np.ndarray

    @property
    def score(self) -> float:
        """Share of dst faces (with a known position) in bins holding >= ``min_src`` src faces.

        NaN when there are no such dst faces: there is nothing to cover, and 0 % or 100 %
        would both mislead.
        """
        return self.covered_dst / self.total_dst if self.total_dst else math.nan

    @property
    def shape(self) -> tuple[int, int]:
        return self.dst_counts.shape  # type: ignore[return-value]

    @property
    def covered_bins(self) -> np.ndarray:
        """Bool ``(nx, ny)``: bins holding at least ``min_src`` src faces."""
        return self.src_counts >= self.min_src

    def covered_dst_mask(self) -> np.ndarray:
        """Bool per dst face: its bin is covered (False for faces with unknown position)."""
        flat = self.covered_bins.ravel()
        known = self.dst_bins >= 0
        out = np.zeros(len(self.dst_bins), dtype=bool)
        out[known] = flat[self.dst_bins[known]]
        return out

    def bin_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The bin containing plane position ``(x, y)``, or None outside the grid."""
        ix = int(np.searchsorted(self.x_edges, x, side="right")) - 1
        iy = int(np.searchsorted(self.y_edges, y, side="right")) - 1
        nx, ny = self.shape
        if 0 <= ix < nx and 0 <= iy < ny:
            return ix, iy
        return None

    def gap_at(self, x: float, y: float) -> Gap | None:
        """The gap whose bin contains ``(x, y)``, if any."""
        index = self.bin_at(x, y)
        return next((g for g in self.gaps if g.index == index), None) if index else None

    def _flat(self, gap: Gap) -> int:
        return gap.index[0] * self.shape[1] + gap.index[1]

    def dst_ids_in_gap(self, gap: Gap) -> np.ndarray:
        """Ids of the dst faces in the gap's bin, ascending."""
        return np.sort(self.dst_ids[self.dst_bins == self._flat(gap)])

    def src_ids_in_gap(self, gap: Gap) -> np.ndarray:
        """Ids of the (too few) src faces in the gap's bin, ascending."""
        return np.sort(self.src_ids[self.src_bins == self._flat(gap)])

    def nearest_src_ids(self, gap: Gap, k: int | None = None) -> np.ndarray:
        """The ``k`` src faces nearest to the gap's bin centre (default ``min_src``).

        Distance is measured in bins (each axis divided by its bin size), so the
        expression planes, whose axes have different scales, weigh both axes alike. These
        are the faces a user would inspect (or augment, or mirror) to fill the gap; nearest
        first, ties by id.
        """
        k = self.min_src if k is None else k
        known = self.src_bins >= 0
        if k <= 0 or not known.any():
            return np.empty(0, dtype=np.int64)
        cx = (gap.x_range[0] + gap.x_range[1]) / 2.0
        cy = (gap.y_range[0] + gap.y_range[1]) / 2.0
        xy = _clip_to_grid(self.src_xy[known], self)
        d = ((xy[:, 0] - cx) / self.bin_size[0]) ** 2 + ((xy[:, 1] - cy) / self.bin_size[1]) ** 2
        ids = self.src_ids[known]
        if k < len(d):
            part = np.argpartition(d, k - 1)[:k]
            # Faces tied with the k-th distance are cut by id, not by partition order.
            cut = d[part].max()
            part = np.flatnonzero(d <= cut)
            d, ids = d[part], ids[part]
        order = np.lexsort((ids, d))[:k]
        return ids[order]

    def gap_face_ids(self, gap: Gap, k: int | None = None) -> np.ndarray:
        """What selecting a gap selects: its dst faces and the ``k`` nearest src faces."""
        return np.union1d(self.dst_ids_in_gap(gap), self.nearest_src_ids(gap, k))

    def describe_bin(self, gap: Gap) -> str:
        """``"yaw 25..35°, pitch -5..5°"``: a gap's bin in words, for lists and the CLI."""
        unit = PLANES[self.plane].unit if self.plane in PLANES else ""
        (x0, x1), (y0, y1) = gap.x_range, gap.y_range
        return f"{self.axes[0]} {_num(x0)}..{_num(x1)}{unit}, {self.axes[1]} {_num(y0)}..{_num(y1)}{unit}"


def _num(v: float) -> str:
    return f"{v:g}" if abs(v - round(v)) < 1e-9 else f"{v:.3g}"


def _clip_to_grid(xy: np.ndarray, cov: Coverage) -> np.ndarray:
    return np.column_stack((
        np.clip(xy[:, 0], cov.x_edges[0], cov.x_edges[-1]),
        np.clip(xy[:, 1], cov.y_edges[0], cov.y_edges[-1]),
    ))


def _axis_bins(lo: float, hi: float, step: float) -> tuple[int, np.ndarray]:
    """First bin number and edges of bins of width ``step`` centred on multiples of it."""
    if not step > 0:
        raise ValueError(f"bin size must be positive, got {step}")
    if not hi > lo:
        raise ValueError(f"range must be increasing, got ({lo}, {hi})")
    first = math.floor(lo / step + 0.5)
    last = math.ceil(hi / step - 0.5)
    return first, (np.arange(first, last + 2, dtype=np.float64) - 0.5) * step


def _bin_of(values: np.ndarray, lo: float, hi: float, step: float, first: int, n: int) -> np.ndarray:
    v = np.clip(values, lo, hi)
    with np.errstate(invalid="ignore"):
        idx = np.floor(v / step + 0.5)
    idx = np.nan_to_num(idx, nan=first - 1).astype(np.int64) - first
    return np.clip(idx, -1, n - 1)


def _as_xy(name: str, xy: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(xy, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be an (n, 2) array of positions, got shape {arr.shape}")
    return arr


def _as_ids(name: str, ids: npt.ArrayLike | None, n: int) -> np.ndarray:
    if ids is None:
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(ids, dtype=np.int64).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} ids for {n} positions")
    return arr


def compute_coverage(
    src_xy: npt.ArrayLike,
    dst_xy: npt.ArrayLike,
    *,
    plane: PlaneName = "pose",
    bin_deg: float | tuple[float, float] | None = None,
    min_dst: int = MIN_DST,
    min_src: int = MIN_SRC,
    ranges: tuple[tuple[float, float], tuple[float, float]] | None = None,
    src_ids: npt.ArrayLike | None = None,
    dst_ids: npt.ArrayLike | None = None,
) -> Coverage:
    """Bin src and dst positions on one plane; find the gaps and the score.

    Parameters
    ----------
    src_xy, dst_xy
        ``(n, 2)`` positions on the plane: (yaw, pitch) in degrees for ``"pose"``,
        (mouth_open, eyes_open) for ``"expression"``, (mouth_open, smile) for ``"smile"``.
        NaN marks an unknown value; such faces are not counted.
    plane
        Names the axes and gives the default range and bin size (:data:`PLANES`).
    bin_deg
        Bin size in plane units (degrees for pose), one value for both axes or
        ``(x, y)``; default: the plane's (10° for pose).
    min_dst, min_src
        A gap is a bin with ``>= min_dst`` dst faces and ``< min_src`` src faces; a dst face
        is covered when its bin holds ``>= min_src`` src faces.
    ranges
        ``((x_lo, x_hi), (y_lo, y_hi))``; values outside are clipped into the edge bins.
    src_ids, dst_ids
        Face ids reported by the gap queries (default: row numbers).
    """
    spec = PLANES[plane]
    if min_dst < 1 or min_src < 1:
        raise ValueError(f"min_dst and min_src must be at least 1, got {min_dst} and {min_src}")
    if bin_deg is None:
        steps = spec.bin_size
    elif isinstance(bin_deg, (int, float)):
        steps = (float(bin_deg), float(bin_deg))
    else:
        steps = (float(bin_deg[0]), float(bin_deg[1]))
    (xlo, xhi), (ylo, yhi) = spec.ranges if ranges is None else ranges
    fx, x_edges = _axis_bins(xlo, xhi, steps[0])
    fy, y_edges = _axis_bins(ylo, yhi, steps[1])
    nx, ny = len(x_edges) - 1, len(y_edges) - 1

    src = _as_xy("src_xy", src_xy)
    dst = _as_xy("dst_xy", dst_xy)

    def flat_bins(xy: np.ndarray) -> np.ndarray:
        ix = _bin_of(xy[:, 0], xlo, xhi, steps[0], fx, nx)
        iy = _bin_of(xy[:, 1], ylo, yhi, steps[1], fy, ny)
        return np.where((ix >= 0) & (iy >= 0), ix * ny + iy, -1)

    src_bins, dst_bins = flat_bins(src), flat_bins(dst)
    src_counts = np.bincount(src_bins[src_bins >= 0], minlength=nx * ny).reshape(nx, ny)
    dst_counts = np.bincount(dst_bins[dst_bins >= 0], minlength=nx * ny).reshape(nx, ny)

    covered = src_counts >= min_src
    gap_mask = (dst_counts >= min_dst) & ~covered
    gx, gy = np.nonzero(gap_mask)
    order = np.lexsort((gy, gx, -dst_counts[gx, gy]))
    gaps = tuple(
        Gap(
            index=(int(ix), int(iy)),
            x_range=(float(x_edges[ix]), float(x_edges[ix + 1])),
            y_range=(float(y_edges[iy]), float(y_edges[iy + 1])),
            dst_count=int(dst_counts[ix, iy]),
            src_count=int(src_counts[ix, iy]),
        )
        for ix, iy in zip(gx[order], gy[order])
    )
    return Coverage(
        plane=plane, axes=spec.axes, bin_size=steps, x_edges=x_edges, y_edges=y_edges,
        src_counts=src_counts, dst_counts=dst_counts, min_dst=min_dst, min_src=min_src, gaps=gaps,
        covered_dst=int(dst_counts[covered].sum()), total_dst=int(dst_counts.sum()),
        src_ids=_as_ids("src_ids", src_ids, len(src)), dst_ids=_as_ids("dst_ids", dst_ids, len(dst)),
        src_xy=src, dst_xy=dst, src_bins=src_bins, dst_bins=dst_bins,
    )


def coverage_by_person_pair(
    src_xy: npt.ArrayLike,
    dst_xy: npt.ArrayLike,
    *,
    src_person: npt.ArrayLike,
    dst_person: npt.ArrayLike,
    src_ids: npt.ArrayLike | None = None,
    dst_ids: npt.ArrayLike | None = None,
    **kwargs: object,
) -> dict[tuple[int, int], Coverage]:
    """Coverage of each dst person's faces by each src person's faces.

    A project may hold several people on each side (two actors in the dst footage, two
    src sets); the pair that will be swapped is what matters. Persons are ids, with
    negative values meaning "not assigned" (such faces are left out of every pair).
    Returns ``{(src_person, dst_person): Coverage}`` for every pair of persons present.
    """
    src = _as_xy("src_xy", src_xy)
    dst = _as_xy("dst_xy", dst_xy)
    sp = np.asarray(src_person, dtype=np.int64).reshape(-1)
    dp = np.asarray(dst_person, dtype=np.int64).reshape(-1)
    sid = _as_ids("src_ids", src_ids, len(src))
    did = _as_ids("dst_ids", dst_ids, len(dst))
    out: dict[tuple[int, int], Coverage] = {}
    for s in np.unique(sp[sp >= 0]):
        sm = sp == s
        for d in np.unique(dp[dp >= 0]):
            dm = dp == d
            out[int(s), int(d)] = compute_coverage(
                src[sm], dst[dm], src_ids=sid[sm], dst_ids=did[dm], **kwargs  # type: ignore[arg-type]
            )
    return out


def combined_score(coverages: Sequence[Coverage]) -> float:
    """Share of dst faces covered on *every* given plane (pose and expression, say).

    Faces are matched by id; a face counts only when its position is known on all planes.
    NaN when no dst face qualifies.
    """
    if not coverages:
        return math.nan
    common: np.ndarray | None = None
    covered: np.ndarray | None = None
    for cov in coverages:
        known = cov.dst_ids[cov.dst_bins >= 0]
        ok = cov.dst_ids[cov.covered_dst_mask()]
        common = known if common is None else np.intersect1d(common, known)
        covered = ok if covered is None else np.intersect1d(covered, ok)
    assert common is not None and covered is not None
    n = len(np.unique(common))
    return len(np.intersect1d(covered, common)) / n if n else math.nan


CSV_HEADER: Final = ("plane", "x_axis", "x_min", "x_max", "y_axis", "y_min", "y_max", "dst_count", "src_count")


def gaps_to_csv(coverage: Coverage | Sequence[Coverage]) -> str:
    """The gap list as CSV text (one header, one row per gap; several planes may be given)."""
    covs = [coverage] if isinstance(coverage, Coverage) else list(coverage)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for cov in covs:
        for g in cov.gaps:
            writer.writerow((
                cov.plane, cov.axes[0], _num(g.x_range[0]), _num(g.x_range[1]),
                cov.axes[1], _num(g.y_range[0]), _num(g.y_range[1]), g.dst_count, g.src_count,
            ))
    return buf.getvalue()
