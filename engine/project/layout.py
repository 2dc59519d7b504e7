"""The project folder on disk (ARCHITECTURE.md section 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

PROJECT_SUFFIX: Final = ".facesmith"
DB_NAME: Final = "project.db"
#: Folders every project has; ``cache`` is always safe to delete.
SUBDIRS: Final = ("faces", "models", "previews", "renders", "logs", "cache")


def project_root(path: str | Path) -> Path:
    """The project folder for ``path``: the folder itself, or the folder of a ``project.db``."""
    p = Path(path).expanduser()
    if p.name == DB_NAME and p.is_file():
        p = p.parent
    return p.resolve()


def new_project_path(path: str | Path) -> Path:
    """Where ``facesmith new PATH`` creates the project: ``PATH`` with ``.facesmith`` added."""
    p = Path(path).expanduser()
    if p.suffix != PROJECT_SUFFIX:
        p = p.with_name(p.name + PROJECT_SUFFIX)
    return p.resolve()


def is_project(path: str | Path) -> bool:
    root = project_root(path)
    return (root / DB_NAME).is_file()


def inside(root: Path, relative: str | Path) -> Path:
    """Resolve ``relative`` under ``root`` and refuse anything that escapes it.

    Paths read from a project row or an import must stay inside their root
    (ARCHITECTURE.md section 7): ``../../etc/passwd`` in a row is an error, not a read.
    """
    root = root.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"{relative}: path leaves the project folder {root}")
    return target
