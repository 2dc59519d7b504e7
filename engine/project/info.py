"""What ``facesmith info`` lists beyond counts: each person and each model.

Persons: id, name, role (the roles of the clips their faces come from: ``src``, ``dst``
or ``src+dst``), whether they are the wanted person, and their faces (in the training
set / excluded). Models: id, kind, name, architecture, resolution, iteration and the disk
space of their folder (checkpoints and backups), which is what a user deleting old
models wants to know.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.project import layout

if TYPE_CHECKING:
    from engine.project.store import ProjectStore


@dataclass(frozen=True)
class PersonInfo:
    id: int
    name: str
    role: str
    wanted: bool
    faces: int
    excluded: int


@dataclass(frozen=True)
class ModelInfo:
    id: int
    kind: str
    name: str
    arch: str
    resolution: int
    iteration: int
    disk_bytes: int


def person_infos(store: ProjectStore) -> list[PersonInfo]:
    rows = store.query(
        "SELECT p.id, p.name, p.wanted, count(f.id), coalesce(sum(f.excluded), 0), "
        "coalesce(sum(c.role = 'src'), 0), coalesce(sum(c.role = 'dst'), 0) "
        "FROM persons p LEFT JOIN faces f ON f.person_id = p.id LEFT JOIN clips c ON c.id = f.clip_id "
        "GROUP BY p.id ORDER BY p.id"
    )
    out = []
    for pid, name, wanted, faces, excluded, src, dst in rows:
        role = "+".join(r for r, n in (("src", src), ("dst", dst)) if n) or "-"
        out.append(PersonInfo(pid, name, role, bool(wanted), faces, excluded))
    return out


def model_infos(store: ProjectStore) -> list[ModelInfo]:
    out = []
    for m in store.models():
        folder = layout.inside(store.root, m.path) if m.path else store.root / "models" / str(m.id)
        out.append(ModelInfo(m.id, m.kind, m.name, m.arch, m.resolution, m.iteration, folder_size(folder)))
    return out


def folder_size(folder: Path) -> int:
    """Bytes on disk under ``folder`` (0 when it does not exist), hard links counted once."""
    from engine.swap.disk import folder_bytes

    return folder_bytes(folder) if folder.is_dir() else 0


def info_lines(store: ProjectStore) -> list[str]:
    """The persons and models sections of ``facesmith info``."""
    from engine.swap.disk import human

    lines = []
    persons = person_infos(store)
    lines.append(f"persons  {len(persons)}")
    for p in persons:
        faces = f"faces {p.faces - p.excluded}" + (f" (+{p.excluded} excluded)" if p.excluded else "")
        lines.append(f"  [{p.id}] {p.name:<20} {p.role:<8} {faces}{'  wanted' if p.wanted else ''}")
    models = model_infos(store)
    lines.append(f"models   {len(models)}")
    for m in models:
        lines.append(f"  [{m.id}] {m.kind:<5} {m.name:<20} {m.arch}  {m.resolution} px  iteration {m.iteration:,}  "
                     f"{human(m.disk_bytes)}")
    return lines
