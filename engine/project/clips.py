"""Adding clips to a project, and finding them again when their files move.

Import is all-or-nothing: every file is probed and checked first, and only when all of
them are usable are they inserted, in one transaction. A bad file in a batch of ten
therefore changes nothing, and the error names that file and what is wrong with it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ClipError, MediaError
from engine.media import fingerprint, probe
from engine.project.changes import ChangeSet
from engine.media.images import is_image_path, natural_key
from engine.project.images import ImageClipPlan, insert_image_clips, plan_image_clip, relink_images
from engine.project.models import ROLES, Clip, NewClip
from engine.project.store import ProjectStore


def _unique_name(stem: str, taken: set[str]) -> str:
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}_{n}"
    taken.add(name)
    return name


def _source_stem(path: Path) -> str:
    """A clip name for an image source: ``shot_%04d.png`` -> ``shot``."""
    stem = re.sub(r"%0?\d*d", "", path.stem if not path.is_dir() else path.name).strip("_-. ")
    return stem or "images"


def prepare_clips(store: ProjectStore, paths: Sequence[str | Path], role: str) -> list[NewClip]:
    """Probe and check video ``paths`` for import (image sources are refused here: use
    :func:`prepare_sources`); raises on the first unusable one."""
    videos, images = prepare_sources(store, paths, role)
    if images:
        raise ClipError(images[0].clip.path, "is an image source; add it with add_clips")
    return videos


@dataclass(frozen=True)
class AddResult:
    """What :func:`add_sources` added, and the files of image folders it left out."""

    clips: list[Clip]
    changes: ChangeSet
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def prepare_sources(store: ProjectStore, paths: Sequence[str | Path], role: str,
                    ) -> tuple[list[NewClip], list[ImageClipPlan]]:
    """Probe and check ``paths`` (videos, image folders, sequence patterns, stills).

    Checks, each with its own message: the role, the file or folder exists, a video
    decodes to its end (see :func:`engine.media.probe`), an image source holds readable
    images, and nothing is already in the project (same path, or same content under
    another path).
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
    plans: list[ImageClipPlan] = []
    for raw in paths:
        path = Path(raw).expanduser()
        pattern = "%" in path.name and not path.exists()
        if not path.exists() and not pattern:
            raise ClipError(path, "file not found")
        path = path.parent.resolve() / path.name if pattern else path.resolve()
        if path in by_path:
            raise ClipError(path, f"already in the project as clip '{by_path[path].name}'")
        if pattern or path.is_dir() or is_image_path(path):
            try:
                plan = plan_image_clip(path, role, _unique_name(_source_stem(path), taken))
            except MediaError as exc:
                raise ClipError(exc.path, exc.problem) from None
            info_fp, item = plan.clip.fingerprint, plan.clip
        else:
            try:
                info = probe(path)
                info_fp = fingerprint(path)
            except MediaError as exc:
                raise ClipError(path, exc.problem) from None
            audio = info.audio
            item = NewClip(
                name=path.stem, role=role, path=path, size_bytes=info.size_bytes,  # type: ignore[arg-type]
                fingerprint=info_fp, width=info.width, height=info.height, fps=info.fps,
                frame_count=info.frame_count, duration_s=info.duration_s, rotation=info.rotation,
                codec=info.codec, audio_streams=len(audio), audio_codec=audio[0].codec if audio else None,
            )
            plan = None
        if info_fp in by_print:
            twin = by_print[info_fp]
            raise ClipError(path, f"same content as clip '{twin.name}' ({twin.path}), already in the project")
        batch = [*new, *(p.clip for p in plans)]
        if any(n.path == path for n in batch):
            raise ClipError(path, "given twice")
        if any(n.fingerprint == info_fp for n in batch):
            twin_path = next(n.path for n in batch if n.fingerprint == info_fp)
            raise ClipError(path, f"same content as {twin_path}, given in the same batch")
        if plan is not None:
            plans.append(plan)
        else:
            new.append(dataclasses.replace(item, name=_unique_name(path.stem, taken)))
    return new, plans


def add_sources(store: ProjectStore, paths: Sequence[str | Path], role: str) -> AddResult:
    """Add videos and image sources as clips of ``role``: all of them, or (on any error) none.

    Unreadable files inside an image folder do not stop the import; they are listed in
    :attr:`AddResult.skipped` for the caller to show.
    """
    videos, plans = prepare_sources(store, paths, role)
    with store.transaction():
        clips, changes = store.insert_clips(videos) if videos else ([], ChangeSet())
        if plans:
            more, cs = insert_image_clips(store, plans)
            clips, changes = clips + more, changes.merged(cs)
    n = len(clips)
    changes = ChangeSet(changes.rows, changes.touched, f"Add {n} clip{'s' if n != 1 else ''}")
    return AddResult(clips, changes, [b for p in plans for b in p.bad])


def add_clips(store: ProjectStore, paths: Sequence[str | Path], role: str) -> tuple[list[Clip], ChangeSet]:
    """Add video files and image sources as clips of ``role``: all of them, or none."""
    result = add_sources(store, paths, role)
    return result.clips, result.changes


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
    if clip.kind != "video":
        new, changes = relink_images(store, clip, path.resolve() if path.exists() else path)
        return RelinkResult(store.clip(clip.id), clip.path, new), changes
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
    image_clips = [c for c in clips if c.kind != "video"]
    for clip in clips:
        if clip.kind == "video":
            wanted.setdefault(clip.size_bytes, []).append(clip)
    found: dict[int, Path] = {}
    for dirpath, _dirs, files in os.walk(folder):
        for clip in image_clips:
            if clip.id not in found and clip.path.name in (Path(dirpath).name, *files):
                candidate = Path(dirpath) if clip.path.name == Path(dirpath).name else Path(dirpath) / clip.path.name
                if _same_images(clip, candidate):
                    found[clip.id] = candidate.resolve()
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


def _same_images(clip: Clip, candidate: Path) -> bool:
    """Whether the folder or still at ``candidate`` has ``clip``'s content (size first)."""
    from engine.media.images import image_fingerprint, images_fingerprint

    try:
        files = [candidate] if candidate.is_file() else sorted(
            (p for p in candidate.iterdir() if is_image_path(p)), key=lambda p: natural_key(p.name))
        sizes = [p.stat().st_size for p in files]
    except OSError:
        return False
    if sum(sizes) != clip.size_bytes or len(files) != clip.frame_count:
        return False  # (a folder whose bad files were left out at import: relink it by hand)
    try:
        fp = images_fingerprint([image_fingerprint(p, s) for p, s in zip(files, sizes, strict=True)], sum(sizes))
    except MediaError:
        return False
    return fp == clip.fingerprint


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
