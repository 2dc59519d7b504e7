"""``facesmith doctor``'s report, and the migration that makes metrics unique."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from helpers import run_cli

from projects_schema import migrate, migrations


def test_doctor_prints_python_torch_gpus_backends_disk(tmp_path: Path) -> None:
    out = run_cli("doctor", str(tmp_path))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for line_start in ("Python", "torch", "GPU", "lanes", "faces: dlib", "faces: fan", "disk"):
        assert any(ln[5:].startswith(line_start) for ln in text.splitlines()), (line_start, text)
    assert "CPU only" in text or "CUDA" in text or "ROCm" in text  # the torch build
    assert "free of" in text and str(tmp_path) in text
    # FAN's weights are absent in tests (no downloads): the fix names the file to put where.
    fan = next(ln for ln in text.splitlines() if "faces: fan" in ln)
    assert "optional" in fan or "weights" in fan
    last = text.rstrip().splitlines()[-1]
    problems = text.count("\nMISS ") + text.startswith("MISS ")
    assert last == (f"{problems} problem{'s' if problems != 1 else ''} found" if problems
                    else "everything Facesmith needs is here")


def test_doctor_uses_the_lane_overrides(tmp_path: Path) -> None:
    out = run_cli("doctor", env={"FACESMITH_GPUS": "0", "FACESMITH_CPU_JOBS": "3"})
    assert "compute (CPU, no GPU); cpu x3" in out.stdout, out.stdout


def test_the_migration_keeps_the_newest_of_duplicate_metric_rows(tmp_path: Path) -> None:
    mine = next(n for n, p in migrations() if p.name.endswith("_job_lanes_and_unique_metrics.sql"))
    db = tmp_path / "p.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, db, target=mine - 1)
    conn.execute("INSERT INTO jobs (id, kind, created_at, updated_at) VALUES (1, 'train_swap', 0, 0)")
    rows = [(1, s, "src_loss", float(s), 1.0) for s in range(1, 300)]
    # A run killed at ~293 with its checkpoint at 252, resumed: steps 262-292 written twice.
    rows += [(1, s, "src_loss", 1000.0 + s, 2.0) for s in range(262, 293)]
    conn.executemany("INSERT INTO job_metrics (job_id, step, name, value, t) VALUES (?, ?, ?, ?, ?)", rows)
    migrate(conn, db, target=mine)
    got = conn.execute("SELECT step, value FROM job_metrics ORDER BY step").fetchall()
    assert [s for s, _ in got] == list(range(1, 300))
    assert dict(got)[270] == 1270.0  # the resumed run's row
    try:
        conn.execute("INSERT INTO job_metrics (job_id, step, name, value, t) VALUES (1, 5, 'src_loss', 0, 0)")
        raise AssertionError("a duplicate row was accepted")
    except sqlite3.IntegrityError:
        pass
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
