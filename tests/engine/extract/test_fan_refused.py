"""FAN without its weights: refused when queued, naming the file and the folder; no job row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import FacesmithError
from engine.jobs.queue import JobQueue
from engine.project.store import ProjectStore

pytest.importorskip("face_alignment")
WEIGHTS = "2DFAN4-11f355bf06.pth.tar"


def test_queueing_fan_without_weights_is_refused_with_file_and_folder(project: ProjectStore, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    queue = JobQueue(project)
    with pytest.raises(FacesmithError) as info:
        queue.enqueue("extract", {"backend": "fan"})
    message = str(info.value)
    assert WEIGHTS in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "dlib" in message
    assert queue.jobs() == []


def test_extract_cli_with_fan_and_no_weights_exits_with_the_reason(project: ProjectStore, tmp_path: Path) -> None:
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch")}
    for extra in ([], ["--queue-only"]):
        r = subprocess.run([sys.executable, "-m", "engine", "extract", str(project.root), "--backend", "fan", *extra],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode != 0, r.stdout
        assert WEIGHTS in r.stderr and str(tmp_path / "torch" / "hub" / "checkpoints") in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert project.scalar("SELECT count(*) FROM jobs") == 0


def test_fan_with_its_weights_on_disk_is_queued(project: ProjectStore, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / WEIGHTS).write_bytes(b"weights")  # only its presence is checked at queue time
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    job = JobQueue(project).enqueue("extract", {"backend": "fan"})
    assert job.state == "queued" and job.params["backend"] == "fan"


def test_fan_without_numba_is_refused_naming_the_package(project: ProjectStore, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """What the bundled app meets (it leaves numba out): refused at queue, naming numba and
    the default backend, even with the weights on disk; no job row."""
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / WEIGHTS).write_bytes(b"weights")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setitem(sys.modules, "numba", None)  # what Python does for a module that is not there
    with pytest.raises(FacesmithError) as info:
        JobQueue(project).enqueue("extract", {"backend": "fan"})
    message = str(info.value)
    assert "it needs the package numba," in message, message
    assert "mediapipe backend (the default)" in message and "make setup" in message
    assert project.scalar("SELECT count(*) FROM jobs") == 0
    monkeypatch.setitem(sys.modules, "face_alignment", None)
    with pytest.raises(FacesmithError, match="packages face-alignment and numba"):
        JobQueue(project).enqueue("extract", {"backend": "fan"})


def test_the_fan_backend_itself_names_a_missing_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.faces.backends import get_backend
    from engine.faces.errors import BackendUnavailable

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(BackendUnavailable, match="needs the package numba"):
        get_backend("fan")
