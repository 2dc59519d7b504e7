"""Identity: 128-d face embeddings, "same person?" and clustering into persons.

Embeddings are dlib's ResNet descriptors (:class:`~engine.faces.dlib_backend.DlibIdentity`):
faces of one person lie within an L2 distance of about 0.6 of each other (dlib's
documented threshold, 99.38 % on LFW), different people further apart. Measured on our
test stills: obama-obama2 0.37, obama-biden 0.84, obama2-biden 0.76.

Clustering is average-linkage agglomerative: two groups merge while the *mean* distance
between their members is under the threshold. Average linkage is robust both to the
chaining of single linkage (one blurry face bridging two people) and to the splitting of
complete linkage (a profile view far from the frontal ones). It needs the full pairwise
distance matrix (``n^2 / 2`` floats), so for long videos cluster **track means**, not
every face: a few thousand tracks cluster in well under a second.
"""

from __future__ import annotations

import functools
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.faces.backends import RgbImage
from engine.faces.dlib_backend import DlibIdentity
from engine.faces.errors import FaceAnalysisError

Embedding = npt.NDArray[np.float32]
SAME_PERSON_THRESHOLD: Final = 0.6
EMBEDDING_SIZE: Final = 128
#: Above this many embeddings, :func:`cluster_embeddings` refuses (the distance matrix
#: would take gigabytes); cluster track means instead.
MAX_CLUSTER_INPUT: Final = 20_000


@functools.cache
def _default_identity() -> DlibIdentity:
    return DlibIdentity()


def embed(image: RgbImage, landmarks: npt.ArrayLike, *, model: DlibIdentity | None = None) -> Embedding:
    """The ``(128,)`` float32 identity embedding of the face with these frame landmarks."""
    return (model or _default_identity()).descriptor(image, landmarks)


def embedding_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """L2 distance between two embeddings."""
    va = np.asarray(a, dtype=np.float64).ravel()
    vb = np.asarray(b, dtype=np.float64).ravel()
    if va.shape != vb.shape:
        raise FaceAnalysisError(f"embeddings differ in size: {va.shape} vs {vb.shape}")
    return float(np.linalg.norm(va - vb))


def same_person(a: npt.ArrayLike, b: npt.ArrayLike, threshold: float = SAME_PERSON_THRESHOLD) -> bool:
    """Whether two embeddings are closer than ``threshold`` (dlib: 0.6)."""
    return embedding_distance(a, b) < threshold


def mean_embedding(embeddings: npt.ArrayLike) -> Embedding:
    """The centroid of several embeddings of one face track: a steadier identity than
    any single frame (blur and pose average out)."""
    embs = np.asarray(embeddings, dtype=np.float64)
    if embs.ndim != 2 or len(embs) == 0:
        raise FaceAnalysisError(f"expected (n, d) embeddings, got shape {embs.shape}")
    return embs.mean(axis=0).astype(np.float32)


def cluster_embeddings(
    embeddings: npt.ArrayLike, threshold: float = SAME_PERSON_THRESHOLD
) -> npt.NDArray[np.int64]:
    """Person labels for embeddings by average-linkage clustering at ``threshold``.

    Labels are ``0..k-1`` numbered in order of first appearance, so the first face is
    always person 0 and labels are stable for the same input.
    """
    embs = np.asarray(embeddings, dtype=np.float64)
    if embs.ndim != 2:
        raise FaceAnalysisError(f"expected (n, d) embeddings, got shape {embs.shape}")
    n = len(embs)
    if n > MAX_CLUSTER_INPUT:
        raise FaceAnalysisError(
            f"{n} embeddings are too many to cluster at once (limit {MAX_CLUSTER_INPUT}); "
            "cluster per-track mean embeddings instead"
        )
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    tree = linkage(pdist(embs), method="average")
    raw = fcluster(tree, t=threshold, criterion="distance")
    # fcluster numbers clusters arbitrarily; renumber by first appearance.
    _, first = np.unique(raw, return_index=True)
    order = np.argsort(first)
    remap = {int(raw[first[i]]): rank for rank, i in enumerate(order)}
    return np.array([remap[int(r)] for r in raw], dtype=np.int64)
