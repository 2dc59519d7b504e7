"""Export -> import gives back the same faces: landmarks within 0.01 px, the polygons,
the face types; and the exported files have the layout DFL and FaceSwap read (checked
with the test's own minimal parsers, not with engine.interop)."""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.interop.export_sets import export_dfl, export_faceswap
from engine.interop.import_dfl import import_dfl
from engine.interop.import_faceswap import import_faceswap
from engine.interop.store_ops import put_foreign_predictions
from engine.masks.raster import iou, warp_mask
from engine.masks.repo import crop_matrix, get_label, get_prediction, set_labels
from engine.masks.shapes import LabelMask, Shape
from engine.project.store import ProjectStore

CLIP = "lbax4n"


def _app15(data: bytes) -> bytes:
    pos = 2
    while data[pos + 1] != 0xDA:
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if data[pos + 1] == 0xEF:
            return data[pos + 4:pos + 2 + length]
        pos += 2 + length
    raise AssertionError("no APP15")


@pytest.fixture
def labelled(extracted_copy: Path):
    """The extracted GRID copy with label polygons on two faces and a prediction on one."""
    store = ProjectStore.open(extracted_copy)
    clip = store.find_clip(CLIP)
    faces = store.faces(clip_id=clip.id)[:6]
    polys = {}
    for face in faces[:2]:
        x0, y0, x1, y1 = face.box
        inc = Shape("include", "polygon", np.array([[x0, y0], [x1, y0 + 3.25], [x1 - 2.5, y1], [x0 + 1, y1]]))
        exc = Shape("exclude", "polygon", np.array([[x0 + 5, y0 + 5], [x0 + 15.5, y0 + 5], [x0 + 10, y0 + 12]]))
        polys[face.id] = LabelMask((inc, exc))
    set_labels(store, polys)
    m = np.zeros((64, 64), np.uint8)
    m[16:48, 16:48] = 255
    with store.transaction():  # a prediction of no model (as imported ones are)
        put_foreign_predictions(store, [(faces[2].id, m, faces[2].face_type)])
    yield store, clip, faces, polys
    store.close()


def test_dfl_export_import_round_trip(labelled, tmp_path: Path, sample_clips) -> None:
    store, clip, faces, polys = labelled
    out = tmp_path / "aligned"
    s = export_dfl(store, faces, out)
    assert s.faces == len(faces) and s.polygons == 4 and s.masks == 1
    files = sorted(out.glob("*.jpg"))
    assert len(files) == len(faces)
    # The layout DFL reads: a pickled dict in APP15 with its keys and types.
    meta = pickle.loads(_app15(files[0].read_bytes()))
    assert meta["face_type"] in ("whole_face", "full_face", "head", "half_face", "midfull_face")
    assert np.asarray(meta["landmarks"]).shape == (68, 2)
    assert np.asarray(meta["image_to_face_mat"]).shape == (2, 3)
    assert meta["source_filename"].startswith(f"{CLIP}_") and len(meta["source_rect"]) == 4
    with_polys = [pickle.loads(_app15(f.read_bytes())) for f in files]
    with_polys = [m for m in with_polys if "seg_ie_polys" in m]
    assert len(with_polys) == 2
    assert [p["type"] for p in with_polys[0]["seg_ie_polys"]["polys"]] == [1, 0]

    # Into a fresh project holding the same video: every face returns to its frame.
    from engine.project.clips import add_clips

    fresh = ProjectStore.create(tmp_path / "Fresh")
    try:
        add_clips(fresh, [sample_clips[CLIP]], "dst")
        r = import_dfl(fresh, out)
        assert not r.new_clip and r.faces == len(faces) and r.label_masks == 2 and not r.broken
        back = {(f.frame, f.idx): f for f in fresh.faces()}
        for face in faces:
            got = back[(face.frame, face.idx)]
            assert got.face_type == face.face_type and got.crop_size == face.crop_size
            assert np.abs(got.landmarks - face.landmarks).max() <= 0.01
            assert np.abs(got.alignment - face.alignment).max() < 1e-9
            assert got.yaw is not None and got.pitch is not None  # pose from the landmarks
            if face.id == faces[2].id:
                pred, orig = get_prediction(fresh, got.id), get_prediction(store, face.id)
                same = warp_mask(pred.mask, crop_matrix(got, pred.face_type, pred.resolution),
                                 crop_matrix(face, orig.face_type, orig.resolution), orig.resolution)
                assert iou(same, orig.mask) > 0.9
            if face.id in polys:
                label = get_label(fresh, got.id)
                assert [x.kind for x in label.shapes] == [x.kind for x in polys[face.id].shapes]
                for a, b in zip(label.shapes, polys[face.id].shapes):
                    assert np.abs(a.points - b.points).max() <= 0.01
    finally:
        fresh.close()


def test_dfl_export_of_a_face_set_clip_reimports_as_face_set(project, tmp_path: Path) -> None:
    from writers import dfl_meta, write_dfl_face

    src = tmp_path / "set"
    src.mkdir()
    for i, ft in enumerate(("half_face", "midfull_face", "full_face", "whole_face", "head")):
        write_dfl_face(src / f"{i}.jpg", dfl_meta(face_type=ft, seed=i, source=f"frame{i}.png",
                                                  polys=[{"type": 1, "pts": [[5, 5], [60, 8], [30, 70]]}]), seed=i)
    first = import_dfl(project, src)
    faces = project.faces(clip_id=first.clip_id)
    out = tmp_path / "again"
    export_dfl(project, faces, out)
    fresh = ProjectStore.create(tmp_path / "Fresh")
    try:
        r = import_dfl(fresh, out)
        assert r.new_clip and r.faces == 5
        for a, b in zip(faces, fresh.faces()):
            assert a.face_type == b.face_type
            assert np.abs(a.landmarks - b.landmarks).max() <= 0.01
            assert np.abs(get_label(project, a.id).shapes[0].points - get_label(fresh, b.id).shapes[0].points).max() <= 0.01
    finally:
        fresh.close()


def test_faceswap_export_import_round_trip(labelled, tmp_path: Path, sample_clips) -> None:
    store, clip, faces, _ = labelled
    out = tmp_path / f"{CLIP}_alignments.fsa"
    s = export_faceswap(store, clip.name, out)
    n = len(store.faces(clip_id=clip.id))
    assert s.faces == n
    raw = pickle.loads(zlib.decompress(out.read_bytes()))  # the layout FaceSwap reads
    assert raw["__meta__"]["version"] == 2.4
    key = next(iter(raw["__data__"]))
    assert key.startswith(f"{CLIP}_") and key.endswith(".mpg") and len(key.split("_")[-1]) == len("000001.mpg")
    f0 = raw["__data__"][key]["faces"][0]
    assert {"x", "y", "w", "h", "landmarks_xy", "mask"} <= set(f0)

    from engine.project.clips import add_clips

    fresh = ProjectStore.create(tmp_path / "Fresh")
    try:
        (c2,), _ = add_clips(fresh, [sample_clips[CLIP]], "dst")
        r = import_faceswap(fresh, out, clip=c2.name)
        assert r.faces == n
        back = {(f.frame, f.idx): f for f in fresh.faces()}
        for face in store.faces(clip_id=clip.id):
            assert np.abs(back[(face.frame, face.idx)].landmarks - face.landmarks).max() <= 0.01
    finally:
        fresh.close()
