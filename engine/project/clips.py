"""Adding clips to a project, and finding them again when their files move.

Import is all-or-nothing: every file is probed and checked first, and only when all of
them are usable are they inserted, in one transaction. A bad file in a batch of ten
therefore changes nothing, and the error names that file and what is wrong with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ClipError, MediaError
from engine.media import fingerprint, probe
from engine.project.changes import ChangeSet
from engine.project.models import ROLES, Clip, NewClip
from engine.project.store import ProjectStore


def _unique_name(stem: str, taken: set[str]) -> str:
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}_{n}"
    taken.add(name)
    return name


def prepare_clips(store: ProjectStore, paths: Sequence[str | Path], role: str) -> list[NewClip]:
    """Probe and check ``paths`` for import; raises on the first unusable one.

    Checks, each with its own message: the role, the file exists and is a file, it is a
    video that decodes to its end (see :func:`engine.media.probe`), and it is not already
    in the project (same path, or same content under another path).
    """
    if role not in ROLES:
        raise ClipError(Path(str(role)), f"unknown role {role!r}; use 'src' or 'dst'")
    if not paths:
        raise ClipError(store.root, "no clips given")
    existing = store.clips()
    by_path = {c.path: c for c in existing}
    by_print = {c.fingerprint: c for c in existing}
    taken = {c.name for c in existing}
    new: list[NewClip] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise ClipError(path, "file not found")
        if path.is_dir():
            raise ClipError(path, "is a directory, not a video file")
        path = path.resolve()
        if path in by_path:
            raise ClipError(path, f"already in the project as clip '{by_path[path].name}'")
        try:
            info = probe(path)
            fp = fingerprint(path)
        except MediaError as exc:
            raise ClipError(path, exc.problem) from None
        if fp in by_print:
            raise ClipError(path, f"same content as clip '{by_print[fp].name}' ({by_print[fp].path}), already in the project")
        if any(n.path == path for n in new):
            raise ClipError(path, "given twice")
        if any(n.fingerprint == fp for n in new):
            twin = next(n for n in new if n.fingerprint == fp)
            raise ClipError(path, f"same content as {twin.path}, given in the same batch")
        audio = info.audio
        new.append(
            NewClip(
                name=_unique_name(path.stem, taken), role=role, path=path, size_bytes=info.size_bytes,
                fingerprint=fp, width=info.width, height=info.height, fps=info.fps,
                frame_count=info.frame_count, duration_s=info.duration_s, rotation=info.rotation,
                codec=info.codec, audio_streams=len(audio), audio_codec=audio[0].codec if audio else None,
            )
        )
    return new


def add_clips(store: ProjectStore, paths: Sequence[str | Path], role: str) -> tuple[list[Clip], ChangeSet]:
    """Add video files as clips of ``role``: all of them, or (on any error) none."""
    return store.insert_clips(prepare_clips(store, paths, role))


@dataclass(frozen=True)
class RelinkResult:
    clip: Clip
    old_path: Path
    new_path: Path


def relink(store: ProjectStore, clip: Clip, new_path: str | Path, *, force: bool = False) -> tuple[RelinkResult, ChangeSet]:
    """Point ``clip`` at ``new_path``; refused when the content differs, unless forced.

    A forced relink to different content still has to be a video with the same frame
    count, size and fps: faces are stored per frame, and other footage would misplace them.
    """
    path = Path(new_path).expanduser()
    if not path.is_file():
        raise ClipError(path, "file not found" if not path.exists() else "not a file")
    path = path.resolve()
    try:
        fp = fingerprint(path)
    except MediaError as exc:
        raise ClipError(path, exc.problem) from None
    if fp != clip.fingerprint:
        if not force:
            raise ClipError(path, f"different content from clip '{clip.name}' (fingerprint differs); "
                                  "use --force if the file was re-encoded")
        try:
            info = probe(path)
        except MediaError as exc:
            raise ClipError(path, exc.problem) from None
        if (info.width, info.height, info.frame_count, info.fps) != (clip.width, clip.height, clip.frame_count, clip.fps):
            raise ClipError(path, f"does not match clip '{clip.name}' ({clip.width}x{clip.height}, "
                                  f"{clip.frame_count} frames at {clip.fps} fps); faces would be misplaced")
    other = next((c for c in store.clips() if c.path == path and c.id != clip.id), None)
    if other is not None:
        raise ClipError(path, f"already used by clip '{other.name}'")
    changes = store.update_rows(
        "clips", {clip.id: {"path": str(path), "fingerprint": fp, "size_bytes": path.stat().st_size}},
        label=f"Relink {clip.name}",
    )
    return RelinkResult(store.clip(clip.id), clip.path, path), changes


def search_folder(folder: Path, clips: Iterable[Clip]) -> dict[int, Path]:
    """Find files under ``folder`` with the content of ``clips``: clip id -> path.

    Candidates are matched by size first (a stat), and only same-sized files are
    fingerprinted, so a search over a big media drive stays quick.
    """
    wanted: dict[int, list[Clip]] = {}
    for clip in clips:
        wanted.setdefault(clip.size_bytes, []).append(clip)
    found: dict[int, Path] = {}
    for dirpath, _dirs, files in os.walk(folder):
        for fname in files:
            p = Path(dirpath) / fname
            try:
                size = p.stat().st_size
            except OSError:
                continue
            for clip in wanted.get(size, ()):
                if clip.id in found:
                    continue
                try:
                    if fingerprint(p) == clip.fingerprint:
                        found[clip.id] = p.resolve()
                except MediaError:
                    pass
    return found


def relink_missing(store: ProjectStore, folder: str | Path) -> tuple[list[RelinkResult], ChangeSet]:
    """Relink every missing clip whose file is found (by content) under ``folder``."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ClipError(root, "not a folder")
    missing = [c for c in store.clips() if c.missing]
    hits = search_folder(root, missing)
    results: list[RelinkResult] = []
    changes = ChangeSet(label="Relink clips")
    for clip in missing:
        if clip.id in hits:
            result, cs = relink(store, clip, hits[clip.id])
            results.append(result)
            changes = changes.merged(cs)
    return results, changes
