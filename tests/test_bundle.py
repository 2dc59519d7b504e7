"""The PyInstaller bundle launches: the editor's window comes up on the demo project and the
engine process it starts is the bundled ``facesmith`` executable, which runs a job.

Builds ``dist/Facesmith`` with the same command as ``make bundle`` unless a bundle newer
than every source file is already there (the build takes minutes on 2 cores). Everything
stays inside the repository: PyInstaller's own cache goes to ``build/pyinstaller-config``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist" / "Facesmith"
#: What ``make bundle`` runs (the Makefile passes the same arguments).
BUILD_ARGS = ["--noconfirm", "--log-level", "WARN", "--distpath", "dist", "--workpath", "build/pyinstaller",
              "build_installer.spec"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def _newest_source() -> float:
    files = [ROOT / "build_installer.spec", *ROOT.glob("projects_schema/*.sql")]
    for package in ("app", "engine", "widgets", "projects_schema"):
        files += (ROOT / package).rglob("*.py")
    return max(f.stat().st_mtime for f in files)


def _bundle() -> Path:
    editor = DIST / "facesmith-editor"
    if editor.exists() and editor.stat().st_mtime > _newest_source():
        return DIST
    pytest.importorskip("PyInstaller")
    env = {**os.environ, "PYINSTALLER_CONFIG_DIR": str(ROOT / "build" / "pyinstaller-config")}
    r = subprocess.run([sys.executable, "-m", "PyInstaller", *BUILD_ARGS], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=2000)
    assert r.returncode == 0, r.stderr[-4000:]
    assert editor.exists(), f"PyInstaller finished but made no {editor}"
    return DIST


def test_the_bundled_editor_opens_the_demo_and_starts_its_engine(tmp_path: Path) -> None:
    dist = _bundle()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", FACESMITH_DEMO_DIR=str(tmp_path / "demo"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               HOME=str(tmp_path))
    r = subprocess.run([str(dist / "facesmith-editor"), "--self-test"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "main window shown" in out and "title 'Demo — Facesmith'" in out, out
    assert f"engine: {dist / 'facesmith'}" in out, out  # the bundled engine, not a Python
    assert "engine process started: yes" in out and "ended: done" in out, out
    assert (tmp_path / "demo" / "Demo.facesmith" / "project.db").is_file()

    # The bundle leaves FAN out (numba and llvmlite are ~175 MB): refused when queued, naming
    # what is missing and the default backend, without a traceback and without a job.
    engine_exe, project = str(dist / "facesmith"), str(tmp_path / "demo" / "Demo.facesmith")
    r = subprocess.run([engine_exe, "extract", project, "--backend", "fan", "--queue-only"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0, r.stdout
    assert "packages face-alignment and numba" in r.stderr and "mediapipe backend (the default)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "bundled app leaves FAN out" in r.stderr, r.stderr
    # The default backend runs from the bundle's copy of mediapipe's weights: no fallback to dlib.
    r = subprocess.run([engine_exe, "extract", project, "--range", "0:3", "--processes", "0", "--quiet"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "falling back" not in out and "unavailable" not in out, out[-4000:]
    assert "face" in out, out[-4000:]
