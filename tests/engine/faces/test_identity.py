"""Identity embeddings, same-person test and clustering."""

from __future__ import annotations

import numpy as np
import pytest

from engine.faces.errors import FaceAnalysisError
from engine.faces.identity import cluster_embeddings, embed, embedding_distance, mean_embedding, same_person


@pytest.fixture(scope="module")
def embeddings(dlib_backend, still):
    out = {}
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        img = still(name)
        lm = dlib_backend.landmarks(img, dlib_backend.detect(img)[0].box)
        out[name] = embed(img, lm)
    return out


def test_obama_twice_is_one_person_biden_another(embeddings):
    obama, obama2, biden = embeddings["obama.jpg"], embeddings["obama2.jpg"], embeddings["biden.jpg"]
    assert obama.shape == (128,) and obama.dtype == np.float32
    assert embedding_distance(obama, obama2) < 0.5
    assert embedding_distance(obama, biden) > 0.7
    assert same_person(obama, obama2)
    assert not same_person(obama, biden)
    assert not same_person(obama2, biden)
    labels = cluster_embeddings(np.stack([obama, biden, obama2]))
    assert labels.tolist() == [0, 1, 0]


def test_cluster_embeddings_edge_cases():
    assert cluster_embeddings(np.zeros((0, 128))).tolist() == []
    assert cluster_embeddings(np.zeros((1, 128))).tolist() == [0]
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 128)) * 0.2
    points = np.concatenate([c + rng.normal(size=(10, 128)) * 0.01 for c in centres])
    order = rng.permutation(len(points))
    labels = cluster_embeddings(points[order])
    truth = np.repeat([0, 1, 2], 10)[order]
    # same partition, numbered by first appearance
    assert labels[0] == 0
    for a in range(3):
        assert len(set(labels[truth == a])) == 1
    assert len(set(labels)) == 3
    with pytest.raises(FaceAnalysisError):
        cluster_embeddings(np.zeros(5))


def test_embedding_from_a_face_track_is_stable(grid_frames, dlib_backend):
    frames = grid_frames["lbax4n.mpg"][::15]
    embs = [embed(f, dlib_backend.landmarks(f, dlib_backend.detect(f)[0].box)) for f in frames]
    centre = mean_embedding(embs)
    assert max(embedding_distance(e, centre) for e in embs) < 0.3
    other = grid_frames["bbaf2n.mpg"][10]
    other_emb = embed(other, dlib_backend.landmarks(other, dlib_backend.detect(other)[0].box))
    assert not same_person(centre, other_emb)
