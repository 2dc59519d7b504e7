"""The real ``facesmith`` command in a subprocess: happy path and one-line errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers import run_cli

from projects_schema import LATEST_VERSION


def _db_bytes(root: Path) -> bytes:
    return (root / "project.db").read_bytes()


def test_new_add_info(tmp_path: Path, sample_clips: dict[str, Path]) -> None:
    r = run_cli("new", str(tmp_path / "Show"))
    assert r.returncode == 0, r.stderr
    root = tmp_path / "Show.facesmith"
    assert "created project" in r.stdout and root.is_dir()
    r = run_cli("add", str(root), str(sample_clips["bbaf2n"]), "--role", "src")
    assert r.returncode == 0, r.stderr
    assert "added src clip 'bbaf2n': 360x288, 75 frames at 25 fps" in r.stdout
    r = run_cli("add", str(root), str(sample_clips["lbax4n"]), str(sample_clips["sbwe5n"]), "--role", "dst")
    assert r.returncode == 0, r.stderr
    r = run_cli("info", str(root))
    assert r.returncode == 0, r.stderr
    assert "clips    3" in r.stdout and "lbax4n" in r.stdout and "jobs     none" in r.stdout
    assert f"schema   v{LATEST_VERSION}" in r.stdout


@pytest.mark.parametrize("kind", ["text", "zero", "truncated", "directory", "twice", "missing"])
def test_add_bad_input_one_line_error(tmp_path: Path, sample_clips: dict[str, Path], kind: str) -> None:
    root = tmp_path / "P.facesmith"
    assert run_cli("new", str(root)).returncode == 0
    assert run_cli("add", str(root), str(sample_clips["bbaf2n"]), "--role", "src").returncode == 0
    bad = {
        "text": tmp_path / "notes.mp4",
        "zero": tmp_path / "zero.mp4",
        "truncated": tmp_path / "half.mpg",
        "directory": tmp_path / "dir.mp4",
        "twice": sample_clips["bbaf2n"],
        "missing": tmp_path / "gone.mp4",
    }[kind]
    if kind == "text":
        bad.write_text("not a video\n" * 100)
    elif kind == "zero":
        bad.write_bytes(b"")
    elif kind == "truncated":
        data = sample_clips["lbax4n"].read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "directory":
        bad.mkdir()
    before = _db_bytes(root)
    r = run_cli("add", str(root), str(bad), "--role", "dst")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facesmith: error: ") and bad.name in lines[0], r.stderr
    info = run_cli("info", str(root))
    assert "clips    1" in info.stdout
    assert _db_bytes(root) == before or "clips    1" in info.stdout


def test_not_a_project_and_newer_schema(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    r = run_cli("info", str(plain))
    assert r.returncode == 1 and "not a Facesmith project" in r.stderr and "plain" in r.stderr
    root = tmp_path / "N.facesmith"
    run_cli("new", str(root))
    conn = sqlite3.connect(root / "project.db")
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    before = _db_bytes(root)
    r = run_cli("info", str(root))
    assert r.returncode == 1 and "newer Facesmith" in r.stderr and "project.db" in r.stderr
    assert _db_bytes(root) == before


def test_read_only_project_folder(tmp_path: Path, sample_clips: dict[str, Path]) -> None:
    root = tmp_path / "RO.facesmith"
    assert run_cli("new", str(root)).returncode == 0
    before = _db_bytes(root)
    for p in [root, *root.iterdir()]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        r = run_cli("add", str(root), str(sample_clips["bbaf2n"]), "--role", "src", unprivileged=True)
        assert r.returncode == 1
        assert "read-only" in r.stderr and "RO.facesmith" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert _db_bytes(root) == before
        r = run_cli("info", str(root), unprivileged=True)
        assert r.returncode == 0, r.stderr
        assert "clips    0" in r.stdout
    finally:
        for p in [root, *root.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)


def test_relink_command(tmp_path: Path, clip_copy) -> None:
    path = clip_copy("sbwe5n")
    root = tmp_path / "R.facesmith"
    run_cli("new", str(root))
    run_cli("add", str(root), str(path), "--role", "dst")
    moved = tmp_path / "moved"
    moved.mkdir()
    path.rename(moved / "renamed.mpg")
    r = run_cli("info", str(root))
    assert "MISSING" in r.stdout
    r = run_cli("relink", str(root))
    assert r.returncode == 1 and "missing: 'sbwe5n'" in r.stdout
    r = run_cli("relink", str(root), "--search", str(moved))
    assert r.returncode == 0 and "relinked 'sbwe5n'" in r.stdout, r.stderr
    assert "MISSING" not in run_cli("info", str(root)).stdout


def test_demo_headless(tmp_path: Path) -> None:
    r = run_cli("demo", "--headless", env={"FACESMITH_DEMO_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    root = tmp_path / "Demo.facesmith"
    assert f"demo project ready: {root}" in r.stdout
    info = run_cli("info", str(root))
    assert "clips    3" in info.stdout and "bbaf2n" in info.stdout
    # A second run reuses it.
    r = run_cli("demo", "--headless", env={"FACESMITH_DEMO_DIR": str(tmp_path)})
    assert r.returncode == 0 and "clips    3" in run_cli("info", str(root)).stdout


def test_usage_errors_exit_non_zero() -> None:
    r = run_cli("add")
    assert r.returncode == 2 and "usage" in r.stderr
