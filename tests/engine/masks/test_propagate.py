"""Propagation between keyframes on a GRID track: accuracy, confidence, training samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.masks import repo
from engine.masks.hull import hull_label
from engine.masks.propagate import carry_label, propagate, track_neighbours
from engine.masks.raster import iou, rasterize
from engine.masks.xseg_net import XSegConfig
from engine.masks.xseg_train import propagated_samples, split_holdout
from engine.project.store import ProjectStore


def test_masks_carried_between_two_keyframes_match_each_frame(grid_copy: Path) -> None:
    with ProjectStore.open(grid_copy) as store:
        faces = store.faces(clip_id=store.find_clip("bbaf2n").id)
        k0, k1 = faces[10], faces[40]
        labels = {k.id: hull_label(k.landmarks, forehead=0.35) for k in (k0, k1)}
        near = track_neighbours(faces, [k0, k1], max_distance=50)
        assert k0.id not in near and k1.id not in near  # keyframes are not propagated to
        assert near[faces[20].id].before == k0 and near[faces[20].id].after == k1
        assert near[faces[5].id].before is None and near[faces[5].id].after == k0
        ious, conf = [], []
        for f in faces[11:40]:
            matrix = repo.crop_matrix(f, "whole", 128)
            got = propagate(f, near[f.id], labels, matrix, 128)
            assert got is not None
            own = rasterize(hull_label(f.landmarks, forehead=0.35), matrix, 128)
            ious.append(iou(got.mask, own))
            conf.append(got.confidence)
        print(f"\npropagated over frames 11-39: IoU mean {np.mean(ious):.3f}, min {min(ious):.3f}")
        assert np.mean(ious) >= 0.92 and min(ious) >= 0.85
        # Confidence is highest next to a keyframe and lowest half-way.
        assert conf[0] > conf[14] < conf[-1] and 0.0 < min(conf) <= max(conf) <= 1.0
        far = propagate(faces[74], track_neighbours([faces[74]], [k0, k1])[faces[74].id], labels,
                        repo.crop_matrix(faces[74], "whole", 128), 128)
        assert far is not None and far.confidence < 0.1


def test_carrying_a_label_follows_the_face_to_another_frame(grid_copy: Path) -> None:
    with ProjectStore.open(grid_copy) as store:
        faces = store.faces(clip_id=store.find_clip("sbwe5n").id)
        src, dst = faces[0], faces[3]
        moved = carry_label(hull_label(src.landmarks), src, dst)
        matrix = repo.crop_matrix(dst, "full", 128)
        assert iou(rasterize(moved, matrix, 128), rasterize(hull_label(dst.landmarks), matrix, 128)) >= 0.93


def test_propagated_training_samples_are_weighted_by_confidence(grid_copy: Path) -> None:
    with ProjectStore.open(grid_copy) as store:
        faces = store.faces(clip_id=store.find_clip("lbax4n").id)
        keys = [faces[20], faces[50]]
        labels = {k.id: hull_label(k.landmarks, forehead=0.35) for k in keys}
        others = [f for f in faces if f.id not in labels]
        samples = propagated_samples(store, others, keys, labels, config=XSegConfig(resolution=128, width=8),
                                     limit=12, min_confidence=0.3)
        assert samples is not None and len(samples) == 12
        assert samples.images.shape == (12, 3, 128, 128) and samples.masks.shape == (12, 1, 128, 128)
        w = samples.weights.numpy()
        assert (w >= 0.3).all() and (w <= 1.0).all() and w.max() > 0.9
        # The nearest neighbours of the keyframes come first.
        frames = {f.id: f.frame for f in faces}
        assert {frames[i] for i in samples.face_ids} <= {18, 19, 21, 22, 48, 49, 51, 52, 17, 23, 47, 53}


def test_holdout_split_is_seeded_and_needs_enough_keyframes() -> None:
    ids = list(range(100, 120))
    train, val = split_holdout(ids, 0.2, seed=3)
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val) == ids
    assert split_holdout(ids, 0.2, seed=3) == (train, val)
    assert split_holdout(ids[:4], 0.5, seed=0) == (ids[:4], [])
