"""Fixtures of the mask tests: the extracted GRID project, and one tiny XSeg model
trained once per session by the real ``train_xseg`` job (reused by the apply tests).

Training setup (the issue's test): 6 keyframes over the four GRID clips (two on each
src clip, one on each dst clip) labelled with the landmark hull plus forehead, a 128 px
U-Net of width 8, 200 iterations of batch 4 on the CPU; the 60 held-out faces are 15
of the other frames of each clip.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from engine.jobs.queue import JobQueue
from engine.jobs.worker import Worker
from engine.masks.hull import DEFAULT_FOREHEAD, hull_label
from engine.masks.repo import set_labels
from engine.masks.shapes import LabelMask
from engine.project.models import Face, Job
from engine.project.store import ProjectStore

if TYPE_CHECKING:
    from conftest import ExtractedProject

#: Frame positions (index into each clip's faces) of the keyframes.
KEY_POSITIONS = {"bbaf2n": (10, 50), "id2_vcd_swwp2s": (37,), "lbax4n": (10, 50), "sbwe5n": (37,)}
HELD_OUT_PER_CLIP = 15
TRAIN_PARAMS: dict[str, Any] = {
    "resolution": 128, "width": 8, "iterations": 200, "batch_size": 4, "lr": 3e-3, "holdout": 0.0,
    "eval_every": 100, "preview_every": 100, "save_every": 100, "seed": 0, "device": "cpu", "threads": 1,
    "name": "tiny",
}


def _run_job(root: Path, kind: str, params: dict[str, Any]) -> Job:
    """Queue a job and run it to its end in this process with the real worker."""
    with ProjectStore.open(root) as store:
        job = JobQueue(store).enqueue(kind, params)
    worker = Worker(root, only_job=job.id, log_to_stderr=False)
    worker.run()
    assert worker.last_job is not None
    return worker.last_job


def split_faces(store: ProjectStore, clips: dict[str, int]) -> tuple[list[Face], list[Face]]:
    """(keyframes, held-out faces) of the issue's test, chosen by position in each clip."""
    keys: list[Face] = []
    held: list[Face] = []
    for name, clip_id in sorted(clips.items()):
        faces = store.faces(clip_id=clip_id, include_excluded=False)
        picks = [faces[i] for i in KEY_POSITIONS[name]]
        keys += picks
        rest = [f for f in faces if f not in picks]
        held += rest[::5][:HELD_OUT_PER_CLIP]
    return keys, held


def hull_forehead(face: Face) -> LabelMask:
    """The test's label: the landmark hull plus the default forehead."""
    return hull_label(face.landmarks, forehead=DEFAULT_FOREHEAD)


@pytest.fixture(scope="session")
def run_job() -> Callable[[Path, str, dict[str, Any]], Job]:
    """``run_job(root, kind, params)``: queue a job and run it here with the real worker."""
    return _run_job


@pytest.fixture
def grid_copy(tmp_path: Path, extracted_project: ExtractedProject) -> Path:
    """A private copy of the extracted GRID project (4 clips, 300 faces, crops)."""
    return extracted_project.copy(tmp_path)


@pytest.fixture(scope="session")
def hull_forehead_label() -> Callable[[Face], LabelMask]:
    return hull_forehead


@dataclass(frozen=True)
class TrainedXSeg:
    """The session's trained model: its project (do not change it: copy it), ids, timing."""

    root: Path
    model_id: int
    job: Job
    keyframes: tuple[int, ...]
    held_out: tuple[int, ...]
    train_seconds: float
    params: dict[str, Any]

    def copy(self, dest: Path) -> Path:
        target = dest / self.root.name
        shutil.copytree(self.root, target)
        return target


@pytest.fixture(scope="session")
def trained_xseg(tmp_path_factory: pytest.TempPathFactory, extracted_project: ExtractedProject) -> TrainedXSeg:
    root = extracted_project.copy(tmp_path_factory.mktemp("xseg"))
    with ProjectStore.open(root) as store:
        keys, held = split_faces(store, extracted_project.clips)
        set_labels(store, {f.id: hull_forehead(f) for f in keys})
    started = time.monotonic()
    job = _run_job(root, "train_xseg", TRAIN_PARAMS)
    took = time.monotonic() - started
    assert job.state == "done", job.error_text
    assert job.result is not None
    return TrainedXSeg(root, int(job.result["data"]["model_id"]), job, tuple(f.id for f in keys),
                       tuple(f.id for f in held), took, dict(TRAIN_PARAMS))
