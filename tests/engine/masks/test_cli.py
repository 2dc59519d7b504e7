"""``facesmith xseg ...`` and the generic ``facesmith run P train_xseg|apply_xseg``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from engine.cli import main


def _count(root: Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    with sqlite3.connect(root / "project.db") as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def test_label_hull_seeds_every_nth_face_and_keeps_existing_labels(
    grid_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["xseg", "label-hull", str(grid_copy), "--every", "25", "--clip", "bbaf2n"]) == 0
    assert "labelled 3 faces" in capsys.readouterr().out
    assert main(["xseg", "label-hull", str(grid_copy), "--every", "25"]) == 0
    assert "labelled 9 faces" in capsys.readouterr().out  # bbaf2n's three are kept
    assert _count(grid_copy, "SELECT count(*) FROM masks WHERE kind = 'label'") == 12
    shapes = json.loads(sqlite3.connect(grid_copy / "project.db").execute(
        "SELECT shapes FROM masks LIMIT 1").fetchone()[0])
    assert shapes["version"] == 1 and shapes["shapes"][0]["type"] == "polygon"
    assert main(["xseg", "models", str(grid_copy)]) == 0
    assert "no XSeg models" in capsys.readouterr().out


def test_train_and_apply_commands_run_the_jobs(grid_copy: Path) -> None:
    assert main(["xseg", "label-hull", str(grid_copy), "--every", "25"]) == 0
    done = run_cli("xseg", "train", str(grid_copy), "--resolution", "128", "--width", "4", "--iterations", "4",
                   "--batch-size", "2", "--threads", "1", "--name", "cli", "--propagated", "4", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "XSeg model 1 at iteration 4" in done.stdout
    with sqlite3.connect(grid_copy / "project.db") as conn:
        info = conn.execute("SELECT text FROM job_events WHERE kind = 'info'").fetchone()[0]
    assert "11 keyframes, 1 held out, 4 propagated" in info
    done = run_cli("xseg", "apply", str(grid_copy), "--clip", "bbaf2n", "--model", "1", "--threads", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    assert _count(grid_copy, "SELECT count(*) FROM masks WHERE kind = 'predicted'") == 75
    done = run_cli("run", str(grid_copy), "apply_xseg", "--param", 'clips=["lbax4n", "sbwe5n"]',
                   "--param", "skip_keyframes=true", "--quiet")
    assert done.returncode == 0, done.stderr
    assert _count(grid_copy, "SELECT count(*) FROM masks WHERE kind = 'predicted'") == 75 + 150 - 6


def test_apply_without_a_model_says_so(grid_copy: Path) -> None:
    done = run_cli("xseg", "apply", str(grid_copy), "--quiet")
    assert done.returncode == 1
    assert "no XSeg model yet" in done.stderr
    done = run_cli("xseg", "train", str(grid_copy), "--resolution", "64", "--quiet")
    assert done.returncode == 1 and "resolution=64 must be one of 128, 256" in done.stderr
