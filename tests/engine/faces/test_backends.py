"""Detection and landmark accuracy of the dlib backend, and the backend registry."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from engine.faces.backends import Detection, FaceBackend, as_rgb_image, backend_names, get_backend
from engine.faces.dlib_backend import DlibBackend
from engine.faces.errors import FaceAnalysisError


def nme(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean point error over the outer-eye-corner distance (points 36 and 45)."""
    return float(np.linalg.norm(pred - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45]))


@pytest.mark.parametrize(
    ("image", "pts", "limit"),
    [("takeo.ppm", "takeo.pts", 0.05), ("einstein.jpg", "einstein.pts", 0.08)],
)
def test_dlib_landmark_nme_on_annotated_stills(dlib_backend, still, annotation, image, pts, limit):
    img = still(image)
    truth = annotation(pts)
    found = dlib_backend.detect(img)
    assert found, f"no face found on {image}"
    # The annotated face is the one whose box holds the annotation's centre.
    cx, cy = truth.mean(axis=0)
    best = next(d for d in found if d.box[0] <= cx <= d.box[2] and d.box[1] <= cy <= d.box[3])
    lm = dlib_backend.landmarks(img, best.box)
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    assert nme(lm, truth) <= limit


def test_two_people_gives_two_faces(dlib_backend, still):
    found = dlib_backend.detect(still("two_people.jpg"))
    assert len(found) == 2
    assert found[0].score >= found[1].score > 0
    left, right = sorted(found, key=lambda d: d.box[0])
    assert left.box[2] < right.box[0]  # two separate people, side by side


def test_every_sampled_grid_frame_has_exactly_one_face(dlib_backend, grid_frames):
    for name, frames in grid_frames.items():
        for index in np.linspace(0, len(frames) - 1, 10).round().astype(int):
            found = dlib_backend.detect(frames[index])
            assert len(found) == 1, f"{name} frame {index}: {len(found)} faces"


def test_downscaled_detection_maps_boxes_back(dlib_backend, grid_frames):
    import cv2

    frame = grid_frames["bbaf2n.mpg"][30]
    big = cv2.resize(np.ascontiguousarray(frame), (1280, 1024), interpolation=cv2.INTER_CUBIC)
    full = DlibBackend(upsample_levels=(0,)).detect(big)
    small = DlibBackend(upsample_levels=(0,), max_detect_side=640).detect(big)
    assert len(full) == len(small) == 1
    # Same face: HOG boxes snap to pyramid levels, so compare what matters downstream,
    # the landmarks placed from each box.
    lm_full = dlib_backend.landmarks(big, full[0].box)
    lm_small = dlib_backend.landmarks(big, small[0].box)
    eye_dist = np.linalg.norm(lm_full[36] - lm_full[45])
    assert np.linalg.norm(lm_full - lm_small, axis=1).mean() < 0.05 * eye_dist


def test_upsample_fallback_finds_small_faces(still):
    img = still("grace_hopper_512x512.jpg")
    import cv2

    tiny = cv2.resize(img, (120, 120), interpolation=cv2.INTER_AREA)  # face ~50 px < HOG window
    assert DlibBackend(upsample_levels=(0,)).detect(tiny) == []
    found = DlibBackend(upsample_levels=(0, 1)).detect(tiny)
    assert len(found) == 1


def test_strided_and_bad_images(dlib_backend, grid_frames):
    frame = grid_frames["lbax4n.mpg"][0]
    assert not frame.flags.c_contiguous  # PyAV pads rows; the backend must cope
    assert len(dlib_backend.detect(frame)) == 1
    with pytest.raises(FaceAnalysisError):
        as_rgb_image(np.zeros((10, 10), np.uint8))
    with pytest.raises(FaceAnalysisError):
        as_rgb_image(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(FaceAnalysisError):
        dlib_backend.landmarks(frame, (10.0, 10.0, 11.0, 11.0))


def test_registry_and_pickling():
    assert set(backend_names()) == {"dlib", "fan", "mediapipe"}
    backend = get_backend("dlib", max_detect_side=640)
    assert isinstance(backend, FaceBackend)
    clone = pickle.loads(pickle.dumps(backend))
    assert clone.max_detect_side == 640
    with pytest.raises(FaceAnalysisError, match="unknown face backend"):
        get_backend("nope")
    det = Detection(box=(1.0, 2.0, 11.0, 22.0), score=1.0)
    assert (det.width, det.height) == (10.0, 20.0)


def test_dlib_models_are_found_in_a_folder_without_init(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle carries ``face_recognition_models/models`` as data, without the package's
    ``__init__``: Python finds it as a namespace package (no origin), and so must we."""
    import importlib.machinery
    import importlib.util

    from engine.faces import dlib_backend

    installed = dlib_backend.dlib_model_dir()
    carried = tmp_path / "face_recognition_models" / "models"
    carried.mkdir(parents=True)
    for name in (dlib_backend.SHAPE_PREDICTOR_FILE, dlib_backend.FACE_RECOGNITION_FILE):
        (carried / name).symlink_to(installed / name)
    spec = importlib.machinery.PathFinder.find_spec("face_recognition_models", [str(tmp_path)])
    assert spec is not None and spec.origin in (None, "namespace")  # what the bundle's Python sees
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: spec if name == "face_recognition_models" else real(name, *a))
    assert dlib_backend.dlib_model_dir() == carried
    predictor = dlib_backend.SHAPE_PREDICTOR_FILE
    assert dlib_backend._model_file(predictor) == str(carried / predictor)
