"""Helpers the tests import (``pythonpath`` in pyproject puts tests/ on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
