"""The demo project: the bundled GRID sample clips in a ready-made project.

``make run`` opens it when no project is given, so a new user sees a real project at
once. It lives in the user's data folder (``$FACESMITH_DEMO_DIR`` overrides it) and is
made on first use; when it already exists it is reused, and clips that went missing
(the checkout moved) are relinked to the bundled copies.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

from engine.errors import ProjectError
from engine.project import layout
from engine.project.clips import add_clips, relink_missing
from engine.project.store import ProjectStore
from engine.resources import sample_clips_dir

DEMO_NAME: Final = "Demo"
#: speaker A is the face to put in; speakers B and C are the footage to change.
DEMO_CLIPS: Final = {"src": ("bbaf2n.mpg",), "dst": ("lbax4n.mpg", "sbwe5n.mpg")}


def default_demo_path() -> Path:
    base = os.environ.get("FACESMITH_DEMO_DIR")
    if base:
        return Path(base).expanduser() / (DEMO_NAME + layout.PROJECT_SUFFIX)
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "facesmith" / (DEMO_NAME + layout.PROJECT_SUFFIX)


def ensure_demo(path: Path | None = None) -> Path:
    """Create the demo project at ``path`` (default: :func:`default_demo_path`) if needed."""
    root = layout.new_project_path(path or default_demo_path())
    samples = sample_clips_dir()
    if layout.is_project(root):
        with ProjectStore.open(root) as store:
            if any(c.missing for c in store.clips()):
                relink_missing(store, samples)
        return root
    if root.exists() and any(root.iterdir()):
        raise ProjectError(root, "exists but is not a Facesmith project; move it away or set FACESMITH_DEMO_DIR")
    root.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its final place and renamed when complete, so an interrupted first
    # run never leaves a half-made demo that later runs would reuse.
    staging = root.with_name(f".{root.stem}-{os.getpid()}-tmp{layout.PROJECT_SUFFIX}")
    shutil.rmtree(staging, ignore_errors=True)
    with ProjectStore.create(staging, name=DEMO_NAME) as store:
        for role, names in DEMO_CLIPS.items():
            add_clips(store, [samples / n for n in names], role)
        store.set_meta("demo", "1")
    if root.exists():
        root.rmdir()  # empty, checked above
    staging.rename(root)
    return root
