"""Where the bundled resources are: the repository's ``resources/`` or a frozen build's copy."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def sample_clips_dir() -> Path:
    return resources_dir() / "sample"
