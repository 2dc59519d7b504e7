"""Shared fixtures of the swap-model tests: tiny synthetic face sets and one model trained
once per session on the extracted GRID project (reused by later tests, merge included).

Torch runs on one thread here: the test machine has two cores shared with other test
runs, and two OpenMP threads fighting a busy neighbour for cores stall at every barrier
(a 72 ms step was measured at over 1 s under load), while one thread just runs slower.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.project.models import Job

#: Iterations of the session's trained model (the "loss drops" measurement).
TRAIN_ITERATIONS = 200
TRAIN_PARAMS: dict[str, Any] = {"preset": "fast-64", "iterations": TRAIN_ITERATIONS, "seed": 1,
                                "metric_every": 10, "preview_every": 100}


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # for the engines the tests start as processes
    yield
    torch.set_num_threads(before)


def run_job(root: Path, kind: str, params: dict[str, Any]) -> Job:
    """Queue a job and run it to its end with the real in-process worker."""
    from engine.jobs.queue import JobQueue
    from engine.jobs.worker import Worker
    from engine.project.store import ProjectStore

    with ProjectStore.open(root) as store:
        job = JobQueue(store).enqueue(kind, params)
    worker = Worker(root, only_job=job.id, log_to_stderr=False)
    worker.run()
    assert worker.last_job is not None
    return worker.last_job


def metric_series(root: Path, job_id: int, name: str) -> list[tuple[int, float]]:
    from engine.project.store import ProjectStore

    with ProjectStore.open(root, readonly=True) as store:
        rows = store.query("SELECT step, value FROM job_metrics WHERE job_id = ? AND name = ? ORDER BY step, t",
                           (job_id, name))
    return [(int(r[0]), float(r[1])) for r in rows]


@dataclass
class TrainedSwap:
    """The session's trained tiny model: project folder, model id, the finished job."""

    root: Path
    model_id: int
    job: Job
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.root / "models" / str(self.model_id)


@pytest.fixture(scope="session")
def swap_project(tmp_path_factory: pytest.TempPathFactory, extracted_project: Any) -> Path:
    """A private copy of the extracted GRID project (2 src + 2 dst speakers) for swap tests."""
    return extracted_project.copy(tmp_path_factory.mktemp("swap"))


@pytest.fixture(scope="session")
def trained_swap(swap_project: Path) -> TrainedSwap:
    """fast-64 (df-ud, 64 px) trained for ``TRAIN_ITERATIONS`` by the real job and worker."""
    job = run_job(swap_project, "train_swap", TRAIN_PARAMS)
    assert job.state == "done", (job.state, job.error_text)
    return TrainedSwap(swap_project, int(job.result["data"]["model_id"]), job, dict(TRAIN_PARAMS))


@pytest.fixture
def project_copy(tmp_path: Path, extracted_project: Any) -> Path:
    """A changeable copy of the extracted project for one test."""
    return extracted_project.copy(tmp_path)


def synthetic_face_set(n: int = 24, size: int = 64, seed: int = 0) -> Any:
    """Smooth random "faces" with a centred mask: enough for unit tests of the trainer."""
    from engine.swap.dataset import FaceSet

    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, size // 8, size // 8, generator=g)
    noise = 0.3 * torch.rand(n, 3, size // 8, size // 8, generator=g)
    imgs = torch.nn.functional.interpolate(base + noise, size=(size, size), mode="bilinear", align_corners=False)
    masks = torch.zeros(n, 2, size, size, dtype=torch.uint8)
    masks[:, 0, size // 8:-size // 8, size // 8:-size // 8] = 255
    masks[:, 1, size // 3:size // 2, size // 4:3 * size // 4] = 255
    yaw = torch.linspace(-40, 40, n)
    return FaceSet((imgs.clamp(0, 1) * 255).round().to(torch.uint8), masks, yaw, tuple(range(n)))


@pytest.fixture(scope="session")
def make_face_set() -> Any:
    """:func:`synthetic_face_set` (test modules cannot import this conftest by name)."""
    return synthetic_face_set


@pytest.fixture(scope="session")
def job_runner() -> Any:
    """:func:`run_job` and :func:`metric_series` for the tests."""
    return run_job, metric_series
