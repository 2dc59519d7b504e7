"""``facesmith render`` in a real process: runs in the foreground, refuses bad input
before anything is queued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from engine.cli import main
from engine.jobs.queue import JobQueue
from engine.merge.settings import MergeSettings
from engine.project.store import ProjectStore

pytestmark = pytest.mark.slow


def test_facesmith_render_runs_in_the_foreground_and_refuses_bad_input(merge_project: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      trained_swap: Any) -> None:
    env = {"OMP_NUM_THREADS": "1"}
    settings = tmp_path / "look.json"
    settings.write_text(MergeSettings(mask=("hull",), color="lct", erode=1.5).dumps())
    out = tmp_path / "cli_frames"
    res = run_cli("render", str(merge_project), "--clip", "lbax4n", "--format", "png", "--out", str(out),
                  "--range", "3:9", "--settings", str(settings), "--device", "cpu", "--quiet", env=env)
    assert res.returncode == 0, res.stderr
    assert "done" in res.stdout and len(list(out.glob("frame_*.png"))) == 6
    with ProjectStore.open(merge_project, readonly=True) as store:
        jobs_before = len(JobQueue(store).jobs())
        render = store.renders()[-1]
    assert render.format == "png" and (render.frame_start, render.frame_end) == (3, 9)
    assert render.settings["color"] == "lct"

    settings.write_text(json.dumps({"erode": 99}))
    bad = [
        (["--settings", str(settings)], "erode must be a number in -50..50"),
        (["--settings", str(tmp_path / "missing.json")], "cannot read the settings file"),
        (["--range", "50:20"], "frame range 50:20 is empty"),
        (["--model", "42"], "no model with id 42"),
        (["--crf", "70"], "crf must be 0-51"),
    ]
    bad.append(([], "no clip named 'nope'"))
    for extra, message in bad:  # in this process: the checks run before anything starts
        clip = "nope" if not extra else "lbax4n"
        assert main(["render", str(merge_project), "--clip", clip, *extra, "--queue-only"]) == 1
        assert message in capsys.readouterr().err, extra
    with ProjectStore.open(merge_project, readonly=True) as store:
        assert len(JobQueue(store).jobs()) == jobs_before  # nothing was queued
    assert main(["render", str(merge_project), "--clip", "lbax4n", "--queue-only"]) == 0
    assert "queued job" in capsys.readouterr().out
    with ProjectStore.open(merge_project) as store:
        queue = JobQueue(store)
        job = max(queue.jobs(), key=lambda j: j.id)
        assert job.kind == "render" and job.params["model"] == trained_swap.model_id
        queue.cancel(job.id)
