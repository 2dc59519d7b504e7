"""JobsView round trips: jobs in, requests out."""

from __future__ import annotations

import pytest

from engine.project.models import Job
from widgets.jobs_view import JobsView

pytestmark = pytest.mark.gui


def _job(i: int, state: str, progress: float = 0.0, **kw) -> Job:
    return Job(id=i, kind="noop", params={"steps": 3}, state=state, progress=progress, **kw)


def test_rows_progress_buttons_and_requests(qtbot) -> None:
    view = JobsView()
    qtbot.addWidget(view)
    view.set_jobs([_job(1, "running", 0.42, status_text="step 2/3"), _job(2, "paused"),
                   _job(3, "failed", error_text="Traceback ...\nRuntimeError: boom", status_text="RuntimeError: boom")])
    assert view.job_ids() == [1, 2, 3]
    assert view._bars[1].value() == 420 and view.tree.topLevelItem(0).text(4) == "step 2/3"
    view.select_job(1)
    assert view.pause_button.isEnabled() and not view.resume_button.isEnabled()
    with qtbot.waitSignal(view.pause_requested) as sig:
        view.pause_button.click()
    assert sig.args == [1]
    view.select_job(2)
    with qtbot.waitSignal(view.resume_requested) as sig:
        view.resume_button.click()
    assert sig.args == [2]
    view.select_job(3)
    assert not view.cancel_button.isEnabled() and "RuntimeError: boom" in view.details.toPlainText()
    view.update_jobs([_job(1, "done", 1.0)])
    assert view.tree.topLevelItem(0).text(2) == "done" and view._bars[1].value() == 1000
