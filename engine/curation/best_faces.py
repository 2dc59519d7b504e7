"""The best-faces picker: keep ``target`` faces that span every pose, sharpest first.

This is DeepFaceLab's ``final`` sort (REFERENCE.md A1.1) made exact and vectorised. DFL
bins yaw into 128 bins over ±1.2 rad, keeps the sharpest faces per yaw bin, splits each
yaw bin into pitch bins and fills round-robin. Its per-bin quota is ``target / 128``
rounded, so it keeps roughly, not exactly, the target, and a sparse yaw bin can lose to
rounding. Here:

1. faces are binned by yaw (128 bins over ±68.75°, DFL's range in degrees; outside values
   go to the edge bins, unknown yaw gets a bin of its own), then by pitch within each yaw
   bin (``pitch_bins`` over ±90°; by default about as many as the per-yaw-bin quota, as
   in DFL, so a quota of 8 spreads over 8 pitch cells);
2. within a pitch cell faces rank sharpest first (unknown sharpness last, ties by id);
3. within a yaw bin the cells take turns (the fullest cell first), giving each face its
   rank in its yaw bin;
4. the yaw bins take turns: round r keeps the r-th face of every yaw bin that still has
   one, fullest bins first, until exactly ``min(target, n)`` faces are kept.

So with ``target >=`` the number of occupied yaw bins every occupied bin keeps at least
its sharpest face, and the kept count is always exact. DFL additionally orders pitch cells
by histogram dissimilarity; we use sharpness alone (histograms are not in the database).
The rest are for the caller to exclude: ``store.set_excluded`` returns one undoable
change set.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

YAW_BINS: Final = 128
#: DFL's ±1.2 rad in degrees.
YAW_RANGE: Final = (-68.75, 68.75)
PITCH_RANGE: Final = (-90.0, 90.0)
MAX_PITCH_BINS: Final = 64


def _bins(values: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """Equal-width bins over [lo, hi] (edges clipped in), unknown values in bin ``n``."""
    with np.errstate(invalid="ignore"):
        idx = np.floor((np.clip(values, lo, hi) - lo) / (hi - lo) * n)
    idx = np.nan_to_num(idx, nan=n).astype(np.int64)
    return np.minimum(idx, np.where(np.isnan(values), n, n - 1))


def _rank_in_groups(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rank of each element within its group, ranks following ``order``."""
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    run = np.diff(np.r_[starts, len(g)])
    rank = np.empty(len(g), dtype=np.int64)
    rank[order] = np.arange(len(g)) - np.repeat(starts, run)
    return rank


def yaw_bins(yaw: npt.ArrayLike, *, n_bins: int = YAW_BINS, yaw_range: tuple[float, float] = YAW_RANGE) -> np.ndarray:
    """The picker's yaw bin of each face (``n_bins`` for an unknown yaw)."""
    return _bins(np.asarray(yaw, dtype=np.float64), yaw_range[0], yaw_range[1], n_bins)


def pick_best(
    ids: npt.ArrayLike,
    yaw: npt.ArrayLike,
    pitch: npt.ArrayLike,
    sharpness: npt.ArrayLike,
    target: int,
    *,
    n_yaw_bins: int = YAW_BINS,
    yaw_range: tuple[float, float] = YAW_RANGE,
    pitch_bins: int | None = None,
    pitch_range: tuple[float, float] = PITCH_RANGE,
) -> np.ndarray:
    """Ids of the ``min(target, len(ids))`` faces to keep, in pick order (best first).

    Parameters
    ----------
    ids, yaw, pitch, sharpness
        One value per face (degrees for yaw and pitch; NaN where unknown).
    target
        How many faces to keep.
    pitch_bins
        Pitch cells per yaw bin; default ``ceil(target / occupied yaw bins)``, 1..64.
    """
    fid = np.asarray(ids, dtype=np.int64).reshape(-1)
    n = len(fid)
    y = np.asarray(yaw, dtype=np.float64).reshape(-1)
    p = np.asarray(pitch, dtype=np.float64).reshape(-1)
    s = np.asarray(sharpness, dtype=np.float64).reshape(-1)
    if not len(y) == len(p) == len(s) == n:
        raise ValueError(f"ids, yaw, pitch and sharpness differ in length: {n}, {len(y)}, {len(p)}, {len(s)}")
    if len(np.unique(fid)) != n:
        raise ValueError("face ids must be unique")
    target = min(int(target), n)
    if target <= 0:
        return np.empty(0, dtype=np.int64)

    yb = _bins(y, yaw_range[0], yaw_range[1], n_yaw_bins)
    yaw_sizes = np.bincount(yb, minlength=n_yaw_bins + 1)
    if pitch_bins is None:
        occupied = int(np.count_nonzero(yaw_sizes))
        pitch_bins = int(np.clip(math.ceil(target / occupied), 1, MAX_PITCH_BINS))
    pb = _bins(p, pitch_range[0], pitch_range[1], pitch_bins)
    cell = yb * (pitch_bins + 1) + pb
    cell_sizes = np.bincount(cell, minlength=(n_yaw_bins + 1) * (pitch_bins + 1))

    # 2. rank within each (yaw, pitch) cell: sharpest first, unknown last, ties by id.
    sharp = np.where(np.isnan(s), -np.inf, s)
    rank_in_cell = _rank_in_groups(cell, np.lexsort((fid, -sharp, cell)))
    # 3. within a yaw bin, cells take turns: round = rank in cell, fullest cell first.
    rank_in_yaw = _rank_in_groups(yb, np.lexsort((pb, -cell_sizes[cell], rank_in_cell, yb)))
    # 4. yaw bins take turns, fullest bin first within a round.
    pick = np.lexsort((yb, -yaw_sizes[yb], rank_in_yaw))[:target]
    return fid[pick]


def excluded_by_pick(ids: npt.ArrayLike, kept: npt.ArrayLike) -> np.ndarray:
    """The ids :func:`pick_best` did not keep (to mark excluded), ascending."""
    return np.setdiff1d(np.asarray(ids, dtype=np.int64), np.asarray(kept, dtype=np.int64))
