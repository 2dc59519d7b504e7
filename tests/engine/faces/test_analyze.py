"""The per-frame pipeline and re-derivation after a landmark edit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from engine.faces.align import FaceType, invert_alignment, transform_points
from engine.faces.analyze import AnalyzedFace, FaceAnalyzer, link_faces, rederive
from engine.faces.errors import FaceAnalysisError
from engine.faces.pose import Pose


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    a = FaceAnalyzer("dlib", "whole", 256)
    a.load(with_embedding=True)
    return a


def test_two_people(analyzer, still):
    faces = analyzer.analyze(still("two_people.jpg"), with_embedding=True)
    assert len(faces) == 2
    for face in faces:
        assert isinstance(face, AnalyzedFace)
        assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
        assert face.crop.shape == (256, 256, 3) and face.crop.dtype == np.uint8
        assert face.matrix.shape == (2, 3)
        assert face.face_type is FaceType.WHOLE
        assert isinstance(face.pose, Pose)
        assert face.sharpness > 0
        assert face.embedding is not None and face.embedding.shape == (128,)
        x0, y0, x1, y1 = face.box
        assert x0 <= face.landmarks[:, 0].mean() <= x1 and y0 <= face.landmarks[:, 1].mean() <= y1
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    assert areas == sorted(areas, reverse=True)
    assert len(analyzer.analyze(still("two_people.jpg"), max_faces=1)) == 1
    assert analyzer.analyze(still("two_people.jpg"), min_face=400) == []
    assert faces[0].embedding is not None
    assert analyzer.analyze(still("two_people.jpg"))[0].embedding is None


def test_analyzer_is_picklable_and_lazy(still):
    analyzer = FaceAnalyzer("dlib", "full", 128, max_detect_side=640)
    clone = pickle.loads(pickle.dumps(analyzer))
    assert clone._backend is None and clone.size == 128 and clone.face_type is FaceType.FULL
    faces = clone.analyze(still("obama.jpg"))
    assert len(faces) == 1 and faces[0].crop.shape == (128, 128, 3)
    again = pickle.loads(pickle.dumps(clone))  # also after use
    assert again._backend is None
    with pytest.raises(FaceAnalysisError):
        FaceAnalyzer(size=2048)
    with pytest.raises(FaceAnalysisError):
        FaceAnalyzer(face_type="nose")


def test_rederive_after_a_landmark_edit(analyzer, grid_frames):
    frame = grid_frames["bbaf2n.mpg"][40]
    face = analyzer.analyze(frame)[0]
    same = analyzer.rederive(frame, face.landmarks)
    np.testing.assert_array_equal(same.crop, face.crop)
    np.testing.assert_allclose(same.matrix, face.matrix)
    # the user drags the jaw of the mouth open by 6 px: expression changes, the
    # alignment barely moves and the crop follows the new landmarks exactly
    edited = face.landmarks.copy()
    edited[[56, 57, 58, 65, 66, 67]] += [0.0, 6.0]
    new = rederive(frame, edited, "whole", 256)
    assert new.expression.mouth_open > face.expression.mouth_open + 0.1
    back = transform_points(transform_points(edited, new.matrix), invert_alignment(new.matrix))
    assert np.abs(back - edited).max() < 0.5
    head = rederive(frame, edited, FaceType.HEAD, 512)
    assert head.crop.shape == (512, 512, 3) and head.face_type is FaceType.HEAD


def test_link_faces_on_a_clip(analyzer, grid_frames):
    frames = grid_frames["sbwe5n.mpg"][:20]
    faces = [analyzer.analyze(f) for f in frames]
    ids = link_faces(faces)
    assert all(len(i) == 1 for i in ids)
    assert {int(i[0]) for i in ids} == {0}


def test_analyzer_runs_in_a_spawned_worker_process(grid_frames):
    """The extraction job builds one analyzer and ships it to worker processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    analyzer = FaceAnalyzer("dlib", "whole", 128)
    frame = np.ascontiguousarray(grid_frames["bbaf2n.mpg"][5])
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        faces = pool.submit(analyzer.analyze, frame).result(timeout=120)
    assert len(faces) == 1 and faces[0].crop.shape == (128, 128, 3)
    local = FaceAnalyzer("dlib", "whole", 128).analyze(frame)[0]
    np.testing.assert_array_equal(faces[0].crop, local.crop)
