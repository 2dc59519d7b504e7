"""DFL face sets written by the tests' own writer (writers.py) come in right, and bad
ones are refused with the file named and the project unchanged."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from writers import dfl_meta, face_jpeg, write_dfl_face, xseg_png

from engine.interop import InteropError
from engine.interop.import_dfl import import_dfl
from engine.masks.crops import CropReader
from engine.masks.repo import get_label, get_prediction


def _set(folder: Path, n: int = 4, **kw) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    metas = []
    for i in range(n):
        meta = dfl_meta(seed=i, source=kw.get("source", "{i:05d}.png").format(i=i + 1),
                        polys=kw.get("polys"), xseg=kw.get("xseg"))
        write_dfl_face(folder / f"{i + 1:05d}_0.jpg", meta, seed=i)
        metas.append(meta)
    return metas


def test_face_set_without_its_video_becomes_a_faceset_clip(project, tmp_path: Path) -> None:
    polys = [{"type": 1, "pts": [[10, 10], [100, 12], [90, 110], [12, 100]]},
             {"type": 0, "pts": [[40, 40], [60, 40], [50, 60]]}]
    metas = _set(tmp_path / "aligned", 4, polys=polys, xseg=xseg_png(64))
    s = import_dfl(project, tmp_path / "aligned")
    assert s.new_clip and s.faces == 4 and s.label_masks == 4 and s.predicted_masks == 4 and not s.broken
    clip = project.clip(s.clip_id)
    assert clip.kind == "faceset" and clip.frame_count == 4 and clip.role == "src"
    rows = project.query("SELECT frame, path, width, height FROM clip_images WHERE clip_id = ? ORDER BY frame",
                         (clip.id,))
    assert [r["frame"] for r in rows] == [0, 1, 2, 3]
    for r in rows:
        assert not Path(r["path"]).is_absolute() and (project.root / r["path"]).is_file()
        assert (r["width"], r["height"]) == (128, 128)
    faces = project.faces(clip_id=clip.id)
    for face, meta in zip(faces, metas):
        assert face.face_type == "whole" and face.crop_size == 128
        assert np.abs(face.landmarks - np.asarray(meta["landmarks"])).max() < 1e-4
        assert face.crop_path == rows[face.frame]["path"]
        label = get_label(project, face.id)
        assert [s.kind for s in label.shapes] == ["include", "exclude"]
        assert np.allclose(label.shapes[0].points, polys[0]["pts"])
        pred = get_prediction(project, face.id)
        assert pred is not None and pred.resolution == 64 and pred.mask[32, 32] == 255
    # Training gets these faces' pixels from the crop files (no video to decode).
    with CropReader(project, "whole", 64) as reader:
        crops = list(reader.read(faces))
    assert len(crops) == 4 and reader.from_files == 4 and crops[0][1].shape == (64, 64, 3)


def test_faces_attach_to_their_video_in_frame_coordinates(project, tmp_path: Path, clip_copy) -> None:
    from engine.project.clips import add_clips

    (clip,), _ = add_clips(project, [clip_copy("bbaf2n")], "dst")
    metas = _set(tmp_path / "aligned", 3, source="bbaf2n_{i:05d}.png",
                 polys=[{"type": 1, "pts": [[10, 10], [100, 12], [90, 110]]}])
    s = import_dfl(project, tmp_path / "aligned")
    assert not s.new_clip and s.clip_id == clip.id and s.faces == 3
    faces = project.faces(clip_id=clip.id)
    assert [f.frame for f in faces] == [0, 1, 2]  # DFL frame names are 1-based
    for face, meta in zip(faces, metas):
        assert np.abs(face.landmarks - np.asarray(meta["source_landmarks"])).max() < 0.01
        assert np.allclose(face.alignment, meta["image_to_face_mat"])
        assert face.box == tuple(float(v) for v in meta["source_rect"])
        assert (project.root / face.crop_path).is_file()
        label = get_label(project, face.id)
        pts_frame = (np.asarray([[10, 10], [100, 12], [90, 110]]) - meta["image_to_face_mat"][:, 2]) / 0.5
        assert np.allclose(label.shapes[0].points, pts_frame, atol=1e-3)


def test_plain_dfl_frame_names_attach_with_clip_option(project, tmp_path: Path, clip_copy) -> None:
    from engine.project.clips import add_clips

    (clip,), _ = add_clips(project, [clip_copy("bbaf2n")], "dst")
    _set(tmp_path / "aligned", 2)  # 00001.png, 00002.png
    s = import_dfl(project, tmp_path / "aligned", clip=clip.name)
    assert s.clip_id == clip.id and [f.frame for f in project.faces(clip_id=clip.id)] == [0, 1]


def test_faces_of_a_different_video_are_refused(project, tmp_path: Path, clip_copy, unchanged) -> None:
    from engine.project.clips import add_clips

    (clip,), _ = add_clips(project, [clip_copy("bbaf2n")], "dst")
    _set(tmp_path / "aligned", 2, source="{i:05d}00.png")  # frames 100, 200 of a 75-frame clip
    before = unchanged(project)
    with pytest.raises(InteropError, match="different video"):
        import_dfl(project, tmp_path / "aligned", clip=clip.name)
    assert unchanged(project) == before


def _only(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("case, problem", [
    ("no_app15", "no APP15"),
    ("not_pickle", "not DeepFaceLab metadata"),
    ("bad_landmarks", "landmarks must be 68x2"),
    ("names_class", "not plain data"),
])
def test_bad_faces_are_refused_naming_the_file(project, tmp_path: Path, unchanged, case: str, problem: str) -> None:
    from writers import add_app15

    if case == "no_app15":
        data = face_jpeg()
    elif case == "not_pickle":
        data = add_app15(face_jpeg(), b"this is not a pickle at all")
    elif case == "bad_landmarks":
        meta = dfl_meta()
        meta["landmarks"] = np.zeros((5, 2)).tolist()
        data = add_app15(face_jpeg(), pickle.dumps(meta))
    else:
        from collections import OrderedDict

        data = add_app15(face_jpeg(), pickle.dumps(OrderedDict(dfl_meta())))
    folder = _only(tmp_path, "face.jpg", data)
    before = unchanged(project)
    with pytest.raises(InteropError) as err:
        import_dfl(project, folder)
    assert str(folder / "face.jpg") in str(err.value) and problem in str(err.value)
    assert unchanged(project) == before


class _Payload:
    """Unpickling this would create a file: it must be refused without running."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_a_reduce_payload_is_refused_without_running(project, tmp_path: Path, unchanged) -> None:
    from writers import add_app15

    target = tmp_path / "pwned"
    meta = dict(dfl_meta())
    meta["face_type"] = _Payload(target)
    assert not target.exists()
    folder = _only(tmp_path, "evil.jpg", add_app15(face_jpeg(), pickle.dumps(meta)))
    before = unchanged(project)
    with pytest.raises(InteropError, match=r"evil\.jpg.*(posix|nt)\.system"):
        import_dfl(project, folder)
    assert not target.exists()
    assert unchanged(project) == before


def test_mixed_folder_imports_the_valid_faces_and_lists_the_broken(project, tmp_path: Path) -> None:
    from writers import add_app15

    folder = tmp_path / "mixed"
    _set(folder, 3)
    (folder / "00009_0.jpg").write_bytes(face_jpeg())  # no metadata
    (folder / "00010_0.jpg").write_bytes(add_app15(face_jpeg(), b"\x80\x04garbage"))
    (folder / "00011_0.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00")  # truncated in the header
    whole = (folder / "00001_0.jpg").read_bytes()
    (folder / "00012_0.jpg").write_bytes(whole[:-500])  # metadata intact, image data cut short
    s = import_dfl(project, folder)
    assert s.faces == 3
    assert sorted(b.path.name for b in s.broken) == ["00009_0.jpg", "00010_0.jpg", "00011_0.jpg", "00012_0.jpg"]
    assert "skipped 4 broken files" in s.message()
    assert "truncated" in next(b.problem for b in s.broken if b.path.name == "00012_0.jpg")


def test_a_swap_model_trains_on_imported_face_sets(tmp_path: Path, job_runner) -> None:
    """Training takes face-set clips' pixels from their crop files: no video at all."""
    from engine.project.store import ProjectStore

    run_job, _ = job_runner
    store = ProjectStore.create(tmp_path / "Sets")
    root = store.root
    try:
        for role in ("src", "dst"):
            folder = tmp_path / role
            folder.mkdir()
            for i in range(6):
                write_dfl_face(folder / f"{i}.jpg", dfl_meta(face_type="full_face", seed=i + (10 if role == "dst" else 0),
                                                             source=None), seed=i)
            import_dfl(store, folder, role=role)
    finally:
        store.close()
    job = run_job(root, "train_swap", {"preset": "fast-64", "iterations": 2, "seed": 1, "preview_every": 0})
    assert job.state == "done", job.error_text


def test_restricted_unpickler_admits_plain_data_only(tmp_path: Path) -> None:
    from collections import OrderedDict

    from engine.interop.safe_pickle import UnsafePickleError, loads

    plain = {"a": np.arange(6, dtype=np.float32).reshape(3, 2), "b": [1, 2.5, "x", b"y", None, True, (1, 2)],
             "c": np.float64(3.5), "d": np.array([1, 2], np.uint8)}
    for protocol in (2, 3, 4, 5):
        got = loads(pickle.dumps(plain, protocol=protocol))
        assert np.array_equal(got["a"], plain["a"]) and got["b"] == plain["b"] and got["c"] == 3.5
    before = np.dtype("float32").byteorder
    for bad in ({1, 2}, OrderedDict(a=1), np.array([{}], dtype=object), bytearray(b"x"),
                np.zeros(2, dtype=[("x", "f4")]), Path("/etc/passwd"), _Payload(tmp_path / "pwned")):
        with pytest.raises(UnsafePickleError):
            loads(pickle.dumps(bad, protocol=5))
    assert not (tmp_path / "pwned").exists()
    assert np.dtype("float32").byteorder == before


def test_faces_attach_to_an_image_clip_by_file_name(project, tmp_path: Path) -> None:
    from fractions import Fraction

    from engine.project.models import NewClip

    stills = tmp_path / "stills"
    stills.mkdir()
    (clip,), _ = project.insert_clips([NewClip("stills", "dst", stills, 0, "x", 640, 480, Fraction(25), 3, 0.12, 0,
                                               "png", 0, None, kind="images")])
    with project.transaction() as c:
        c.executemany("INSERT INTO clip_images (clip_id, frame, path, width, height, size_bytes) VALUES (?, ?, ?, 640, 480, 1)",
                      [(clip.id, i, str(stills / f"shot_{i}.png")) for i in range(3)])
    folder = tmp_path / "aligned"
    folder.mkdir()
    for i in (2, 0):
        write_dfl_face(folder / f"shot_{i}_0.jpg", dfl_meta(seed=i, source=f"shot_{i}.png"), seed=i)
    s = import_dfl(project, folder)
    assert not s.new_clip and s.clip_id == clip.id
    assert sorted(f.frame for f in project.faces(clip_id=clip.id)) == [0, 2]
