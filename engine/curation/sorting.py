"""Sort keys and filters for curating faces, as pure functions over arrays.

Each ``by_*`` function returns an *order*: an int64 array of row positions into the arrays
it was given, so ``ids[order]`` lists face ids in that order. Sorts are stable (equal keys
keep their input order) and unknown values (NaN, or a missing embedding) always go last,
whichever the direction: a face with no sharpness is neither the sharpest nor the
blurriest. These mirror DeepFaceLab's sort methods (REFERENCE.md A1.1) where the data
allows: ``blur`` → :func:`by_sharpness`, ``face-yaw``/``face-pitch`` → :func:`by_yaw`,
:func:`by_pitch`, ``face-source-rect-size`` → :func:`by_face_size`, ``hist`` →
:func:`by_hist_chain`, ``hist-dissim`` → :func:`by_hist_dissimilarity`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def order_by(values: npt.ArrayLike, *, descending: bool = False) -> np.ndarray:
    """Stable order of ``values``, NaN last in either direction."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    unknown = np.isnan(v)
    key = np.where(unknown, 0.0, -v if descending else v)
    return np.lexsort((key, unknown))


def in_range(values: npt.ArrayLike, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Bool mask of values within ``[lo, hi]`` (either bound optional); NaN is never in."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    mask = ~np.isnan(v)
    if lo is not None:
        mask &= v >= lo
    if hi is not None:
        mask &= v <= hi
    return mask


def by_sharpness(sharpness: npt.ArrayLike, *, descending: bool = True) -> np.ndarray:
    """Sharpest first (DFL ``blur``)."""
    return order_by(sharpness, descending=descending)


def by_yaw(yaw: npt.ArrayLike, *, absolute: bool = False, descending: bool = False) -> np.ndarray:
    """By yaw; ``absolute`` sorts frontal first (or most turned first when descending)."""
    v = np.asarray(yaw, dtype=np.float64)
    return order_by(np.abs(v) if absolute else v, descending=descending)


def by_pitch(pitch: npt.ArrayLike, *, absolute: bool = False, descending: bool = False) -> np.ndarray:
    """By pitch; ``absolute`` as in :func:`by_yaw`."""
    v = np.asarray(pitch, dtype=np.float64)
    return order_by(np.abs(v) if absolute else v, descending=descending)


def face_size(boxes: npt.ArrayLike) -> np.ndarray:
    """Side of each face in frame pixels: ``sqrt(width * height)`` of ``(x0, y0, x1, y1)`` boxes.

    A length, not an area, so a filter threshold reads like a crop resolution ("at least
    128 px").
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.clip(b[:, 2] - b[:, 0], 0.0, None)
    h = np.clip(b[:, 3] - b[:, 1], 0.0, None)
    return np.sqrt(w * h)


def by_face_size(boxes: npt.ArrayLike, *, descending: bool = True) -> np.ndarray:
    """Largest face first (DFL ``face-source-rect-size``)."""
    return order_by(face_size(boxes), descending=descending)


def _sqrt_hists(histograms: npt.ArrayLike) -> np.ndarray:
    h = np.asarray(histograms, dtype=np.float64)
    if h.ndim != 2:
        raise ValueError(f"histograms must be (n, bins), got shape {h.shape}")
    return np.sqrt(np.clip(h, 0.0, None))


def hist_similarity(histograms: npt.ArrayLike, reference: npt.ArrayLike) -> np.ndarray:
    """Bhattacharyya coefficient of each L1-normalised histogram with ``reference`` (1 = same).

    The same measure as :func:`engine.faces.quality.hist_similarity`, for all rows at once.
    """
    rows = _sqrt_hists(histograms)
    ref = np.sqrt(np.clip(np.asarray(reference, dtype=np.float64).reshape(-1), 0.0, None))
    if ref.shape[0] != rows.shape[1]:
        raise ValueError(f"reference has {ref.shape[0]} bins, histograms {rows.shape[1]}")
    return rows @ ref


def by_hist_similarity(histograms: npt.ArrayLike, reference: npt.ArrayLike) -> np.ndarray:
    """Most alike in colour to ``reference`` first."""
    return order_by(hist_similarity(histograms, reference), descending=True)


def by_hist_dissimilarity(histograms: npt.ArrayLike) -> np.ndarray:
    """Most unusual colour first (DFL ``hist-dissim``).

    DFL sums each face's distance to every other face, O(n²). We rank by dissimilarity to
    the *mean* histogram in the same square-root space (``1 - <√h_i, mean √h>``), which
    orders the same way up to the averaging and costs O(n) — 100,000 faces in a blink.
    """
    rows = _sqrt_hists(histograms)
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64)
    return order_by(1.0 - rows @ rows.mean(axis=0), descending=True)


def by_hist_chain(histograms: npt.ArrayLike, *, start: int = 0) -> np.ndarray:
    """Greedy nearest-neighbour chain by histogram (DFL ``hist``): similar faces adjacent.

    Starts at row ``start`` and repeatedly steps to the most similar unvisited face.
    O(n²·bins) time, O(n) memory: meant for a few thousand faces (a person, a clip), not
    a whole project.
    """
    rows = _sqrt_hists(histograms)
    n = len(rows)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if not 0 <= start < n:
        raise IndexError(f"start {start} is outside 0..{n - 1}")
    visited = np.zeros(n, dtype=bool)
    order = np.empty(n, dtype=np.int64)
    cur = start
    for i in range(n):
        order[i] = cur
        visited[cur] = True
        if i == n - 1:
            break
        sim = rows @ rows[cur]
        sim[visited] = -np.inf
        cur = int(np.argmax(sim))
    return order


def identity_distance(embeddings: npt.ArrayLike, reference: npt.ArrayLike) -> np.ndarray:
    """L2 distance of each embedding to ``reference`` (dlib: < 0.6 is the same person).

    Rows that are all NaN (faces without an embedding) get NaN.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    if e.ndim != 2 or e.shape[1] != ref.shape[0]:
        raise ValueError(f"embeddings {e.shape} do not match the reference ({ref.shape[0]} values)")
    return np.sqrt(((e - ref) ** 2).sum(axis=1))


def by_identity_distance(embeddings: npt.ArrayLike, reference: npt.ArrayLike) -> np.ndarray:
    """Most alike to the reference face first (nearest identity embedding)."""
    return order_by(identity_distance(embeddings, reference))
