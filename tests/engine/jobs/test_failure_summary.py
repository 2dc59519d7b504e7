"""A failed job's one-line summary is the exception's own message; the traceback is in its details."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import FacesmithError
from engine.jobs.messages import failure_summary
from engine.jobs.queue import JobQueue
from engine.jobs.worker import Worker
from engine.project.store import ProjectStore


def test_the_summary_is_the_first_line_of_the_message() -> None:
    exc = FacesmithError("face backend 'fan' is unavailable: its weight file is missing.\n"
                         "  Put X in /somewhere/\n  Facesmith never downloads it.")
    assert failure_summary(exc) == "face backend 'fan' is unavailable: its weight file is missing. …"
    assert failure_summary(FacesmithError("no face found in the reference image")) == \
        "no face found in the reference image"
    assert failure_summary(ZeroDivisionError("division by zero")) == "ZeroDivisionError: division by zero"
    assert failure_summary(KeyError()) == "KeyError"
    assert len(failure_summary(FacesmithError("x" * 1000))) == 200


def test_a_job_that_fails_with_a_long_message_shows_its_first_line(project: ProjectStore, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """FAN weights present when queued, gone when the job runs: it fails with the real message."""
    pytest.importorskip("face_alignment")
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    weights = folder / "2DFAN4-11f355bf06.pth.tar"
    weights.write_bytes(b"weights")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    job = JobQueue(project).enqueue("extract", {"backend": "fan"})
    weights.unlink()
    worker = Worker(project.root, only_job=job.id, log_to_stderr=False)
    worker.run()
    failed = JobQueue(project).job(job.id)
    assert failed.state == "failed"
    assert failed.status_text.startswith("job extract: face backend 'fan' is unavailable: its weight file is missing")
    assert "never downloads" not in failed.status_text  # the later lines are in the details
    assert "Traceback" in failed.error_text and str(folder) in failed.error_text
