"""Shared fixtures of the swap-model tests: tiny synthetic face sets and private copies of
the extracted project. The session's trained model (``trained_swap``), ``swap_project``
and ``job_runner`` live in ``tests/conftest.py``, shared with the merge tests.

Torch runs on one thread here: the test machine has two cores shared with other test
runs, and two OpenMP threads fighting a busy neighbour for cores stall at every barrier
(a 72 ms step was measured at over 1 s under load), while one thread just runs slower.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # for the engines the tests start as processes
    yield
    torch.set_num_threads(before)


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
