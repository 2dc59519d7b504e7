"""Extraction reports one rate: frames done over the time since the job started, labelled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import ExtractedProject


def test_the_rate_is_one_labelled_measure_from_start_to_end(extracted_project: ExtractedProject,
                                                            job_runner: Any) -> None:
    _run, metric_series = job_runner
    job = extracted_project.job
    assert "frames/s average" in job.result["message"]
    series = metric_series(extracted_project.root, job.id, "frames_per_s")
    assert series and series[-1][0] == 300  # one point per batch, the last at the last frame
    final = job.result["data"]["frames_per_s"]
    # The same measure: the final figure only adds the time after the scan (tracks,
    # persons), so it can be lower than the scan's last point, never higher.
    assert 0 < final <= series[-1][1] * 1.001
    # ... and never the 5x jump between mid-job and end of the old mixed measures.
    assert series[-1][1] <= final * 5
