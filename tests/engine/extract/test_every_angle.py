"""Faces at every angle, on real frames: shot cuts and cut-aware tracks, persons that
stay apart (the same-frame rule), faces added by hand (with undo, tracking, bad input)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.errors import FacesmithError
from engine.extract.cuts import detect_cuts
from engine.extract.manual import add_face
from engine.media import iter_frames
from engine.project.clips import add_clips
from engine.project.face_extras import cuts, uncertain_persons, visibility
from engine.project.store import ProjectStore
from tests.conftest import run_job

REPO = Path(__file__).resolve().parents[3]
CLIPS = REPO / "tests" / "data" / "clips"
SAMPLES = REPO / "resources" / "sample"


def _concat(dest: Path, *sources: Path) -> Path:
    """One clip of the sources' frames back to back: a hard cut at each join."""
    out = av.open(str(dest), "w")
    stream = out.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 360, 288, "yuv420p"
    stream.options = {"crf": "30", "preset": "ultrafast"}
    for src in sources:
        for _, frame in iter_frames(src):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return dest


@pytest.fixture(scope="module")
def cut_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two GRID speakers filmed the same way, one after the other (a cut at frame 75),
    extracted by the real job with the default (pose-robust) backend."""
    root = tmp_path_factory.mktemp("cuts")
    clip = _concat(root / "two_shots.mp4", SAMPLES / "bbaf2n.mpg", SAMPLES / "lbax4n.mpg")
    with ProjectStore.create(root / "Cuts") as store:
        add_clips(store, [clip], "dst")
        project = store.root
    job = run_job(project, "extract", {"processes": 0, "embed_sample": 3})
    assert job.state == "done", job.error_text
    return project


def test_cuts_found_on_real_joins() -> None:
    a = [f for _, f in iter_frames(SAMPLES / "bbaf2n.mpg")]
    b = [f for _, f in iter_frames(SAMPLES / "lbax4n.mpg")]
    found = detect_cuts(enumerate(a + b + a[:20]))
    assert [c.frame for c in found] == [75, 150]
    assert detect_cuts(enumerate(a)) == []  # one talking head: no cut


def test_tracks_never_cross_a_cut(cut_project: Path) -> None:
    with ProjectStore.open(cut_project) as store:
        clip = store.clips()[0]
        assert cuts(store, clip.id) == [75]
        rows = store.query("SELECT track_id, min(frame), max(frame), count(DISTINCT person_id) FROM faces "
                           "WHERE clip_id = ? GROUP BY track_id", (clip.id,))
        assert rows
        for track, first, last, persons in rows:
            assert last < 75 or first >= 75, f"track {track} spans the cut: {first}-{last}"
            assert persons == 1
        # Both shots have a face in (nearly) every frame, and two different speakers.
        per_shot = store.query("SELECT frame >= 75, count(DISTINCT frame), count(DISTINCT person_id) "
                               "FROM faces WHERE clip_id = ? GROUP BY frame >= 75", (clip.id,))
        assert [r[1] >= 70 for r in per_shot] == [True, True]
        before = {r[0] for r in store.query("SELECT person_id FROM faces WHERE frame < 75")}
        after = {r[0] for r in store.query("SELECT person_id FROM faces WHERE frame >= 75")}
        assert before.isdisjoint(after)
        # The default backend stores a visibility for every detected face.
        some = store.query("SELECT id FROM faces LIMIT 1")[0][0]
        vis = visibility(store, some)
        assert vis is not None and vis.shape == (68,)


def test_two_people_side_by_side_are_two_persons(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "Two") as store:
        add_clips(store, [CLIPS / "two_people.mp4"], "dst")
        root = store.root
    job = run_job(root, "extract", {"processes": 0, "embed_sample": 3, "min_face": 30})
    assert job.state == "done", job.error_text
    with ProjectStore.open(root) as store:
        # No two faces of one frame share a person.
        clash = store.query("SELECT frame, person_id, count(*) FROM faces WHERE person_id IS NOT NULL "
                            "GROUP BY frame, person_id HAVING count(*) > 1")
        assert clash == []
        # No person holds faces of both speakers (left half and right half of the frame).
        sides = store.query("SELECT person_id, min((x0 + x1) / 2), max((x0 + x1) / 2) FROM faces "
                            "WHERE person_id IS NOT NULL GROUP BY person_id")
        assert len(sides) >= 2
        for person, lo, hi in sides:
            assert hi < 180 or lo >= 180, f"person {person} holds faces of both speakers"
        # The two real persons hold many faces and are not flagged uncertain.
        big = [r[0] for r in store.query("SELECT person_id FROM faces GROUP BY person_id HAVING count(*) >= 50")]
        assert len(big) == 2 and not set(big) & uncertain_persons(store)


@pytest.fixture
def carphone(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "Car") as store:
        add_clips(store, [CLIPS / "carphone.mp4"], "dst")
        return store.root


def test_hand_added_face_with_undo(carphone: Path) -> None:
    with ProjectStore.open(carphone) as store:
        added = add_face(store, "carphone", 30, (48, 36, 60, 62))
        face = store.face(added.face_id)
        assert face.frame == 30 and face.track_id is not None
        x0, y0, x1, y1 = 48, 36, 108, 98
        inside = (face.landmarks[:, 0] > x0 - 10) & (face.landmarks[:, 0] < x1 + 10) \
            & (face.landmarks[:, 1] > y0 - 10) & (face.landmarks[:, 1] < y1 + 10)
        assert inside.all()
        assert store.query("SELECT source FROM faces WHERE id = ?", (added.face_id,))[0][0] == "manual"
        assert (store.root / face.crop_path).is_file()
        assert added.changes.undoable and added.changes.label.startswith("Add a face")
        store.apply(added.changes.inverse())
        assert store.query("SELECT count(*) FROM faces")[0][0] == 0
        store.apply(added.changes)  # redo
        assert store.query("SELECT count(*) FROM faces")[0][0] == 1


def test_a_face_added_by_hand_on_a_photo_of_an_image_clip(project: ProjectStore) -> None:
    """Hand-added faces read the frame through the clip's frame source, photos included."""
    import dlib

    stills = Path(__file__).resolve().parents[2] / "data" / "stills"
    add_clips(project, [stills / "obama.jpg"], "src")
    clip = project.clips()[0]
    assert clip.kind == "images"
    import cv2

    gray = cv2.cvtColor(cv2.imread(str(stills / "obama.jpg")), cv2.COLOR_BGR2GRAY)
    rect = dlib.get_frontal_face_detector()(gray, 1)[0]
    added = add_face(project, clip.name, 0, (rect.left(), rect.top(), rect.width(), rect.height()))
    face = project.face(added.face_id)
    assert face.clip_id == clip.id and face.frame == 0
    cx, cy = face.landmarks.mean(axis=0)
    assert rect.left() < cx < rect.right() and rect.top() < cy < rect.bottom()
    assert (project.root / face.crop_path).is_file()


def test_track_this_face_fills_neighbouring_frames(carphone: Path) -> None:
    with ProjectStore.open(carphone) as store:
        added = add_face(store, "carphone", 60, (48, 36, 60, 62), track=True)
        assert len(added.tracked) >= 20
        rows = store.query("SELECT frame, source, track_id FROM faces ORDER BY frame")
        frames = [r[0] for r in rows]
        assert 60 in frames and min(frames) < 60 < max(frames)
        assert frames == sorted(set(frames))  # at most one face a frame
        assert {r[2] for r in rows} == {store.face(added.face_id).track_id}
        assert {r[1] for r in rows} == {"manual", "tracked"}
        store.apply(added.changes.inverse())  # one undo takes all of it back
        assert store.query("SELECT count(*) FROM faces")[0][0] == 0


@pytest.mark.parametrize(("box", "message"), [
    ((150, 100, 60, 60), "outside the frame"),
    ((-5, 10, 60, 60), "outside the frame"),
    ((48, 36, 12, 40), "smaller than 16 px"),
])
def test_bad_boxes_are_refused_and_change_nothing(carphone: Path, box, message) -> None:
    with ProjectStore.open(carphone) as store:
        with pytest.raises(FacesmithError, match=message):
            add_face(store, "carphone", 5, box)
        assert store.query("SELECT count(*) FROM faces")[0][0] == 0
    with pytest.raises(FacesmithError, match="outside the clip"):
        with ProjectStore.open(carphone) as store:
            add_face(store, "carphone", 500, (48, 36, 60, 62))


def test_face_add_command(carphone: Path, capsys) -> None:
    assert cli_main(["face", "add", str(carphone), "--clip", "carphone", "--frame", "12",
                     "--box", "48,36,60,62"]) == 0
    assert "added face" in capsys.readouterr().out
    assert cli_main(["face", "add", str(carphone), "--clip", "carphone", "--frame", "12",
                     "--box", "48,36,8,8"]) != 0
    assert "smaller than 16 px" in capsys.readouterr().err
    with ProjectStore.open(carphone) as store:
        assert store.query("SELECT count(*) FROM faces")[0][0] == 1


def test_redo_a_range_keeps_the_users_edits(carphone: Path) -> None:
    from engine.extract.rederive import rederive_face
    from engine.project.faces import crop_path

    job = run_job(carphone, "extract", {"processes": 0, "backend": "dlib", "start": 0, "stop": 20})
    assert job.state == "done", job.error_text
    with ProjectStore.open(carphone) as store:
        faces = {f.frame: f for f in store.faces()}
        assert len(faces) >= 18
        edited = faces[3]
        moved = edited.landmarks.copy()
        moved[30] += (1.5, 0.5)
        rederive_face(store, edited.id, moved)
        person = edited.person_id
        assert person is not None
        store.connection.execute("UPDATE persons SET name = 'Driver' WHERE id = ?", (person,))
        store.connection.commit()
    job = run_job(carphone, "extract", {"processes": 0, "start": 0, "stop": 20, "redo": True})
    assert job.state == "done", job.error_text
    with ProjectStore.open(carphone) as store:
        after = store.faces()
        by_frame: dict[int, list] = {}
        for f in after:
            by_frame.setdefault(f.frame, []).append(f)
        assert all(len(v) == 1 for v in by_frame.values())  # no face doubled on the kept one
        assert [f.idx for f in after] == [0] * len(after)
        kept = by_frame[3][0]
        assert kept.id == edited.id and np.allclose(kept.landmarks[30], moved[30])
        new = [f for f in after if f.frame != 3]
        assert new and all(f.crop_path == crop_path(f.id) and (carphone / f.crop_path).is_file() for f in new)
        assert store.query("SELECT count(*) FROM faces WHERE visibility IS NOT NULL")[0][0] == len(new)
        assert {f.person_id for f in after} == {person}  # the person (and its name) stay
        assert store.query("SELECT name FROM persons WHERE id = ?", (person,))[0][0] == "Driver"


def test_missing_weights_fall_back_to_dlib_and_say_so(carphone: Path, tmp_path: Path, monkeypatch) -> None:
    import engine.faces.mediapipe_backend as mpb
    import engine.faces.tflite_torch as tfl

    monkeypatch.setattr(tfl, "mediapipe_dir", lambda: tmp_path / "no-mediapipe")
    mpb._model.cache_clear()
    try:
        job = run_job(carphone, "extract", {"processes": 0, "start": 0, "stop": 10})
    finally:
        mpb._model.cache_clear()
    assert job.state == "done", job.error_text
    note = job.result["data"]["backend_fallback"]
    assert "face_detection_full_range_sparse.tflite" in note and "mediapipe==0.10.14" in note
    assert "falling back to dlib" in job.result["message"]
    with ProjectStore.open(carphone) as store:
        assert tuple(store.query("SELECT count(*), count(visibility) FROM faces")[0]) == (10, 0)  # dlib: no visibility
