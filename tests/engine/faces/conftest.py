"""Shared fixtures of the face-analysis tests: test images, annotations, GRID frames and
one dlib backend whose models are loaded once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from engine.faces.dlib_backend import DlibBackend

REPO = Path(__file__).resolve().parents[3]
STILLS = REPO / "tests" / "data" / "stills"
CLIPS = REPO / "resources" / "sample"
GRID_CLIPS = ("bbaf2n.mpg", "id2_vcd_swwp2s.mpg", "lbax4n.mpg", "sbwe5n.mpg")


def read_rgb(path: Path) -> npt.NDArray[np.uint8]:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_pts(path: Path) -> npt.NDArray[np.float32]:
    """An iBUG .pts file (1-based pixel coordinates) as 0-based (68, 2)."""
    text = path.read_text()
    body = text[text.index("{") + 1 : text.index("}")]
    return (np.array(body.split(), dtype=np.float64).reshape(-1, 2) - 1.0).astype(np.float32)


@pytest.fixture(scope="session")
def still() -> Callable[[str], npt.NDArray[np.uint8]]:
    cache: dict[str, npt.NDArray[np.uint8]] = {}

    def load(name: str) -> npt.NDArray[np.uint8]:
        if name not in cache:
            cache[name] = read_rgb(STILLS / name)
        return cache[name].copy()

    return load


@pytest.fixture(scope="session")
def annotation() -> Callable[[str], npt.NDArray[np.float32]]:
    return lambda name: read_pts(STILLS / name)


@pytest.fixture(scope="session")
def grid_frames() -> dict[str, list[npt.NDArray[np.uint8]]]:
    """All 75 frames of each GRID sample clip, RGB, as PyAV returns them (strided)."""
    import av

    frames: dict[str, list[npt.NDArray[np.uint8]]] = {}
    for name in GRID_CLIPS:
        with av.open(str(CLIPS / name)) as container:
            frames[name] = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames


@pytest.fixture(scope="session")
def dlib_backend() -> DlibBackend:
    backend = DlibBackend()
    backend.load()
    return backend


@pytest.fixture(scope="session")
def grid_landmarks(
    grid_frames: dict[str, list[npt.NDArray[np.uint8]]], dlib_backend: DlibBackend
) -> dict[str, npt.NDArray[np.float32]]:
    """dlib landmarks of the (single) face on every GRID frame: (75, 68, 2) per clip."""
    out = {}
    for name, frames in grid_frames.items():
        out[name] = np.stack([dlib_backend.landmarks(f, dlib_backend.detect(f)[0].box) for f in frames])
    return out
