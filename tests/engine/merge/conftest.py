"""Fixtures of the merge tests: one private copy of the trained swap project per session,
a preview engine on it, and a helper that renders through the real ``render`` job.

Torch runs on one thread (see ``tests/engine/swap/conftest.py`` for why). Renders write
into the session copy (files under ``tmp`` folders, rows in its ``renders`` table), never
into ``trained_swap``'s project, which the swap tests read.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

GRID_DST = "lbax4n"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def merge_project(tmp_path_factory: pytest.TempPathFactory, trained_swap: Any) -> Path:
    """A private copy of the project with the session's trained 64 px model (id in
    ``trained_swap.model_id``)."""
    target = tmp_path_factory.mktemp("merge") / trained_swap.root.name
    shutil.copytree(trained_swap.root, target, ignore=shutil.ignore_patterns("previews", "logs"))
    return target


@pytest.fixture(scope="session")
def engine(merge_project: Path) -> Iterator[Any]:
    """A :class:`MergeEngine` on the merge project (CPU), shared by the tests."""
    from engine.merge.preview import MergeEngine
    from engine.project.store import ProjectStore

    store = ProjectStore.open(merge_project)
    eng = MergeEngine(store, device="cpu")
    yield eng
    eng.close()
    store.close()


@pytest.fixture(scope="session")
def render(merge_project: Path, job_runner: Any) -> Callable[..., Any]:
    """``render(**params)`` runs a ``render`` job of the GRID dst clip to its end; returns the job."""
    run, _ = job_runner

    def go(**params: Any) -> Any:
        job = run(merge_project, "render", {"clip": GRID_DST, "device": "cpu", **params})
        assert job.state == "done", (job.state, job.error_text)
        return job

    return go
