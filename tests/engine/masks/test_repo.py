"""Masks in the store: undoable labels, replaceable predictions, the fallback rule, hull seeding."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from engine.masks import repo
from engine.masks.hull import hull_label
from engine.masks.raster import iou, rasterize
from engine.masks.resolve import best_mask, every_nth_of_track, seed_hull_labels, select_faces
from engine.masks.shapes import LabelMask, MaskError, Shape
from engine.project.store import ProjectStore


def _rows(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "project.db") as conn:
        return conn.execute("SELECT * FROM masks ORDER BY id").fetchall()


def test_label_edits_are_undoable_change_sets(grid_copy: Path) -> None:
    with ProjectStore.open(grid_copy) as store:
        a, b = store.faces()[:2]
        first = repo.set_labels(store, {a.id: hull_label(a.landmarks), b.id: hull_label(b.landmarks)})
        assert first.undoable and len(first.rows) == 2 and first.touches("masks")
        assert repo.keyframes(store) == sorted([a.id, b.id])
        after_insert = _rows(grid_copy)

        edited = hull_label(a.landmarks).with_shape(Shape("exclude", "stroke", [[a.box[0], a.box[1]]], radius=5.0))
        second = repo.set_label(store, a.id, edited)
        assert repo.get_label(store, a.id) == edited
        third = repo.set_label(store, b.id, None)
        assert repo.keyframes(store) == [a.id] and repo.get_label(store, b.id) is None
        assert repo.set_label(store, a.id, edited).empty  # no change, nothing recorded

        store.apply(third.inverse())
        store.apply(second.inverse())
        assert _rows(grid_copy) == after_insert
        store.apply(first.inverse())
        assert _rows(grid_copy) == [] and repo.keyframes(store) == []
        store.apply(first)  # redo
        assert _rows(grid_copy) == after_insert
        with pytest.raises(MaskError, match="no face"):
            repo.set_label(store, 10**6, LabelMask())


def test_predictions_replace_older_ones_of_the_same_model(grid_copy: Path) -> None:
    with ProjectStore.open(grid_copy) as store:
        faces = store.faces()[:3]
        m1, _ = repo.create_model(store, name="a", arch="unet-v1", face_type="whole", resolution=64, config={})
        m2, _ = repo.create_model(store, name="b", arch="unet-v1", face_type="whole", resolution=64, config={})
        ones = repo.encode_png(np.full((64, 64), 255, np.uint8))
        zeros = repo.encode_png(np.zeros((64, 64), np.uint8))
        cs = repo.put_predictions(store, m1.id, [(f.id, ones) for f in faces], face_type="whole", resolution=64)
        assert len(cs.ids("masks") or ()) == 3 and not cs.undoable
        repo.put_predictions(store, m1.id, [(faces[0].id, zeros)], face_type="whole", resolution=64)
        repo.put_predictions(store, m2.id, [(faces[0].id, ones)], face_type="whole", resolution=64)
        assert repo.prediction_counts(store) == {m1.id: 3, m2.id: 1}
        assert repo.get_prediction(store, faces[0].id, m1.id).mask.max() == 0
        assert repo.get_prediction(store, faces[0].id).model_id == m2.id  # the latest of any model
        assert repo.xseg_model(store).id == m2.id
        repo.delete_predictions(store, m2.id)
        assert repo.prediction_counts(store) == {m1.id: 3}


def test_best_mask_prefers_label_then_prediction_then_propagation_then_hull(grid_copy: Path) -> None:
    with ProjectStore.open(grid_copy) as store:
        clip = store.find_clip("bbaf2n")
        faces = store.faces(clip_id=clip.id)
        face, key = faces[30], faces[28]
        assert best_mask(store, face).source == "hull"
        repo.set_label(store, key.id, hull_label(key.landmarks, forehead=0.35))
        carried = best_mask(store, face, face_type="whole", size=128)
        assert carried.source == "propagated" and carried.confidence > 0.8
        own = rasterize(hull_label(face.landmarks, forehead=0.35), repo.crop_matrix(face, "whole", 128), 128)
        assert iou(carried.mask, own) >= 0.9
        model, _ = repo.create_model(store, name="m", arch="unet-v1", face_type="full", resolution=64, config={})
        repo.put_predictions(store, model.id, [(face.id, repo.encode_png(np.full((64, 64), 255, np.uint8)))],
                             face_type="full", resolution=64)
        pred = best_mask(store, face, face_type="whole", size=128)
        assert pred.source == "predicted" and pred.model_id == model.id
        # The full-face prediction covers the middle of the whole-face crop, not its corners.
        assert pred.mask[64, 64] == 255 and pred.mask[2, 2] == 0
        repo.set_label(store, face.id, LabelMask())
        labelled = best_mask(store, face)
        assert labelled.source == "label" and labelled.mask.max() == 0


def test_seeding_hull_labels_on_every_nth_face_of_each_track(grid_copy: Path) -> None:
    with ProjectStore.open(grid_copy) as store:
        faces = select_faces(store)
        chosen = every_nth_of_track(faces, 25)
        assert len(chosen) == 4 * 3  # 75 faces per clip, one track each
        cs = seed_hull_labels(store, faces, every=25)
        assert len(cs.rows) == 12 and set(repo.keyframes(store)) == {f.id for f in chosen}
        custom = LabelMask.polygon([[0, 0], [5, 0], [5, 5]])
        repo.set_label(store, chosen[0].id, custom)
        again = seed_hull_labels(store, faces, every=25)
        assert again.empty and repo.get_label(store, chosen[0].id) == custom  # user edits are kept
        assert len(seed_hull_labels(store, faces, every=25, replace=True).rows) == 1
        only = select_faces(store, clips=["lbax4n"])
        assert {f.clip_id for f in only} == {store.find_clip("lbax4n").id}
        person = only[0].person_id
        assert person is not None and {f.id for f in select_faces(store, persons=[person])} >= {f.id for f in only}
