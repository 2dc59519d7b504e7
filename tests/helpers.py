"""Helpers the tests import (``pythonpath`` in pyproject puts tests/ on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "sample"
STILLS = ROOT / "tests" / "data" / "stills"


def run_cli(*args: str, cwd: Path | None = None, unprivileged: bool = False, env: dict[str, str] | None = None):
    """Run the real ``facesmith`` command in a subprocess; returns CompletedProcess.

    ``unprivileged``: when we are root, run it in a new user namespace (``unshare -U``),
    where root's permission overrides do not apply, so a read-only folder is read-only.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    prefix = ["unshare", "-U"] if unprivileged and os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=cwd or ROOT,
        env=full_env, timeout=300,
    )


def compare_snapshot(actual: np.ndarray, path: Path, tmp_path: Path) -> None:
    """Compare an RGB uint8 rendering with the reference PNG at ``path``.

    ``FACESMITH_UPDATE_SNAPSHOTS=1`` (re)writes the reference; a missing one is written
    and the test fails so that someone looks at it. Anti-aliased edges may move a little
    between Qt builds; the frame and shapes may not (at most 0.3 % of pixels off by > 48,
    mean difference ≤ 1.5). A failing rendering is saved beside ``tmp_path``.
    """
    import pytest
    from PySide6.QtGui import QImage

    name = path.name
    h, w = actual.shape[:2]
    if os.environ.get("FACESMITH_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        QImage(actual.data, w, h, w * 3, QImage.Format.Format_RGB888).save(str(path))
        if os.environ.get("FACESMITH_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {name} was missing and has been written; check it and rerun")
        return
    expected_image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(expected_image.constBits(), np.uint8).reshape(h, expected_image.bytesPerLine())
    expected = rows[:, : w * 3].reshape(h, w, 3)
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16)).max(axis=2)
    bad = np.count_nonzero(diff > 48) / diff.size
    if bad > 0.003 or diff.mean() > 1.5:
        out = tmp_path / f"actual_{name}"
        QImage(actual.data, w, h, w * 3, QImage.Format.Format_RGB888).save(str(out))
        pytest.fail(f"{name}: {bad:.2%} pixels differ, mean {diff.mean():.2f}; actual saved to {out}")
