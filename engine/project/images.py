"""Image clips in a project: adding folders, sequences and stills; reading any clip's frames.

An image clip's row holds what the user added (``clips.path``: the folder, the sequence
pattern or the still) and one ``clip_images`` row per frame (natural name order). Face-set
clips (``kind`` 'faceset', imported aligned faces) use the same table, with paths relative
to the project folder for the files it owns. Every frame reader in the engine and the
editor goes through :func:`open_reader` / :func:`clip_frames`, so a clip's kind matters
here only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ClipError, MediaError
from engine.media import FrameReader, iter_frames
from engine.media.decode import DecodeStats
from engine.media.images import (
    IMAGE_FPS,
    ImageFrameReader,
    ImageInfo,
    expand_pattern,
    image_fingerprint,
    images_fingerprint,
    is_image_path,
    iter_image_frames,
    list_folder,
    probe_image,
)
from engine.project.changes import ChangeSet
from engine.project.models import Clip, NewClip
from engine.project.store import ProjectStore

__all__ = ["FrameSource", "ImageClipPlan", "clip_frames", "frame_source", "clip_image_paths", "is_image_source", "open_reader",
           "plan_image_clip", "insert_image_clips", "image_clip_fingerprint"]


@dataclass(frozen=True)
class ImageClipPlan:
    """An image clip checked and ready to insert: the clip, its images, the files left out."""

    clip: NewClip
    images: tuple[ImageInfo, ...]
    bad: tuple[tuple[Path, str], ...]


def is_image_source(path: Path) -> bool:
    """Whether ``path`` (as the user gave it) names a folder, a sequence pattern or a still."""
    return path.is_dir() or "%" in path.name or (is_image_path(path) and not path.is_dir())


def source_files(path: Path) -> list[Path]:
    """The image files ``path`` stands for (folder, pattern or still), in frame order."""
    if "%" in path.name and not path.exists():
        return expand_pattern(path)
    if path.is_dir():
        return list_folder(path)
    if not path.exists():
        raise MediaError(path, "file not found")
    return [path]


def _probe_all(files: Sequence[Path]) -> tuple[list[ImageInfo], list[tuple[Path, str]]]:
    good: list[ImageInfo] = []
    bad: list[tuple[Path, str]] = []
    for f in files:
        try:
            good.append(probe_image(f))
        except MediaError as exc:
            bad.append((f, exc.problem))
    return good, bad


def image_clip_fingerprint(images: Sequence[ImageInfo] | Sequence[tuple[Path, int]]) -> str:
    """The clip fingerprint of images (ImageInfo or ``(path, size)``), in frame order."""
    digests, total = [], 0
    for item in images:
        path, size = (item.path, item.size_bytes) if isinstance(item, ImageInfo) else item
        digests.append(image_fingerprint(path, size))
        total += size
    return images_fingerprint(digests, total)


def plan_image_clip(path: Path, role: str, name: str) -> ImageClipPlan:
    """Probe the images ``path`` stands for; raises when none is usable.

    A folder with a few unreadable files keeps the rest (``bad`` lists them); a single
    still or a pattern whose every file is bad is refused with the first file's problem.
    """
    files = source_files(path)
    good, bad = _probe_all(files)
    if not good:
        if len(files) == 1:
            raise MediaError(bad[0][0], bad[0][1])
        raise MediaError(path, f"none of its {len(files)} images can be read (first: {bad[0][0].name}: "
                               f"{bad[0][1]})")
    total = sum(i.size_bytes for i in good)
    clip = NewClip(
        name=name, role=role, path=path, size_bytes=total, fingerprint=image_clip_fingerprint(good),  # type: ignore[arg-type]
        width=max(i.width for i in good), height=max(i.height for i in good), fps=IMAGE_FPS,
        frame_count=len(good), duration_s=float(len(good) / IMAGE_FPS), rotation=0,
        codec="images:" + ",".join(sorted({i.format.lower() for i in good})), audio_streams=0,
        audio_codec=None, kind="images",
    )
    return ImageClipPlan(clip, tuple(good), tuple(bad))


def insert_image_rows(store: ProjectStore, clip_id: int, images: Sequence[ImageInfo]) -> None:
    with store.transaction() as c:
        c.executemany(
            "INSERT INTO clip_images (clip_id, frame, path, width, height, size_bytes, orientation) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(clip_id, k, str(i.path), i.width, i.height, i.size_bytes, i.orientation)
             for k, i in enumerate(images)])


def insert_image_clips(store: ProjectStore, plans: Sequence[ImageClipPlan]) -> tuple[list[Clip], ChangeSet]:
    """Insert the clips with their ``clip_images`` rows, all in one transaction."""
    with store.transaction():
        clips, changes = store.insert_clips([p.clip for p in plans])
        for clip, plan in zip(clips, plans, strict=True):
            insert_image_rows(store, clip.id, plan.images)
    return clips, changes


def clip_image_rows(store: ProjectStore, clip_id: int) -> list[dict[str, Any]]:
    rows = store.query("SELECT frame, path, width, height, size_bytes, orientation FROM clip_images "
                       "WHERE clip_id = ? ORDER BY frame", (clip_id,))
    out = []
    for r in rows:
        d = dict(r)
        p = Path(d["path"])
        d["path"] = p if p.is_absolute() else store.root / p
        out.append(d)
    return out


def clip_image_paths(store: ProjectStore, clip: Clip) -> tuple[list[Path], list[int]]:
    """Absolute image paths and EXIF orientations of an image clip, in frame order."""
    rows = clip_image_rows(store, clip.id)
    if not rows and clip.kind == "images":
        rows = _rebuild_rows(store, clip)
    return [r["path"] for r in rows], [int(r["orientation"]) for r in rows]


def _rebuild_rows(store: ProjectStore, clip: Clip) -> list[dict[str, Any]]:
    """An image clip whose rows are gone (its add was undone and redone: undo deletes the
    clip row and its images with it, redo puts back the clip row only) lists its source
    again; used only when the content is the one the clip was added with."""
    try:
        plan = plan_image_clip(clip.path, clip.role, clip.name)
    except MediaError:
        return []
    if plan.clip.fingerprint != clip.fingerprint:
        return []
    if not store.readonly:
        insert_image_rows(store, clip.id, plan.images)
    return [{"frame": k, "path": i.path, "width": i.width, "height": i.height, "size_bytes": i.size_bytes,
             "orientation": i.orientation} for k, i in enumerate(plan.images)]


def frame_sizes(store: ProjectStore, clip: Clip) -> np.ndarray:
    """``(frame_count, 2)`` width, height of each frame (upright)."""
    if clip.kind == "video":
        return np.tile(np.array([[clip.width, clip.height]], dtype=np.int64), (clip.frame_count, 1))
    rows = clip_image_rows(store, clip.id) or (_rebuild_rows(store, clip) if clip.kind == "images" else [])
    return np.array([[r["width"], r["height"]] for r in rows], dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class FrameSource:
    """Where a clip's frames come from, resolved while the store is at hand, so a worker
    thread (which must not touch the store's connection) can read them."""

    kind: str
    path: Path
    cache_dir: Path
    images: tuple[Path, ...] = ()
    orientations: tuple[int, ...] = ()
    name: str = ""

    def open(self, *, cache_frames: int = 16) -> FrameReader | ImageFrameReader:
        """A random-access frame reader (``read(i)``, ``frame_count``, ``size``, ``close``)."""
        if self.kind == "video":
            return FrameReader(self.path, index_cache_dir=self.cache_dir, cache_frames=cache_frames)
        return ImageFrameReader(self.images, self.orientations, cache_frames=cache_frames, name=self.name)

    def frames(self, *, start: int = 0, stop: int | None = None, step: int = 1, threaded: bool = True,
               queue_size: int = 8, stats: DecodeStats | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(frame, image)`` in order over ``start:stop:step``."""
        if self.kind == "video":
            return iter_frames(self.path, start=start, stop=stop, step=step, threaded=threaded,
                               queue_size=queue_size, stats=stats, index_cache_dir=self.cache_dir)
        return iter_image_frames(self.images, self.orientations, start=start, stop=stop, step=step, stats=stats,
                                 threaded=threaded, queue_size=min(queue_size, 4))


def frame_source(store: ProjectStore, clip: Clip, *, index_cache_dir: Path | None = None) -> FrameSource:
    cache = index_cache_dir if index_cache_dir is not None else store.root / "cache"
    if clip.kind == "video":
        return FrameSource("video", clip.path, cache, name=clip.name)
    paths, orient = clip_image_paths(store, clip)
    return FrameSource(clip.kind, clip.path, cache, tuple(paths), tuple(orient), clip.name)


def open_reader(store: ProjectStore, clip: Clip, *, cache_frames: int = 16,
                index_cache_dir: Path | None = None) -> FrameReader | ImageFrameReader:
    """A random-access frame reader for ``clip``, whatever its kind."""
    return frame_source(store, clip, index_cache_dir=index_cache_dir).open(cache_frames=cache_frames)


def clip_frames(store: ProjectStore, clip: Clip, *, start: int = 0, stop: int | None = None, step: int = 1,
                threaded: bool = True, queue_size: int = 8, stats: DecodeStats | None = None,
                index_cache_dir: Path | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame, image)`` in order over ``start:stop:step`` of ``clip``, whatever its kind."""
    return frame_source(store, clip, index_cache_dir=index_cache_dir).frames(
        start=start, stop=stop, step=step, threaded=threaded, queue_size=queue_size, stats=stats)


def current_fingerprint(store: ProjectStore, clip: Clip) -> str:
    """The fingerprint of the files the image clip's rows point at now."""
    rows = clip_image_rows(store, clip.id)
    try:
        return image_clip_fingerprint([(r["path"], r["path"].stat().st_size) for r in rows])
    except FileNotFoundError as exc:
        raise MediaError(Path(str(exc.filename)), "file not found") from None


def relink_images(store: ProjectStore, clip: Clip, new_path: Path) -> tuple[Path, ChangeSet]:
    """Point an image clip at a moved folder/pattern/still with the same content."""
    try:
        files = source_files(new_path)
    except MediaError as exc:
        raise ClipError(exc.path, exc.problem) from None
    rows = clip_image_rows(store, clip.id)
    names = {r["path"].name for r in rows}
    chosen = [f for f in files if f.name in names] if len(files) != len(rows) else files
    if len(chosen) != len(rows):
        raise ClipError(new_path, f"holds {len(files)} images; clip '{clip.name}' has {len(rows)}")
    fp = image_clip_fingerprint([(f, f.stat().st_size) for f in chosen])
    if fp != clip.fingerprint:
        raise ClipError(new_path, f"different content from clip '{clip.name}' (fingerprint differs)")
    with store.transaction() as c:
        changes = store.update_rows("clips", {clip.id: {"path": str(new_path)}}, label=f"Relink {clip.name}")
        c.executemany("UPDATE clip_images SET path = ? WHERE clip_id = ? AND frame = ?",
                      [(str(f.resolve()), clip.id, k) for k, f in enumerate(chosen)])
    return new_path, changes


def check_renderable(store: ProjectStore, clip: Clip, fmt: str) -> None:
    """Refuse a video render of an image clip whose images differ in size (a video has one
    size); PNG frames or RGBA patches keep each image's own size."""
    if clip.kind == "video" or fmt not in ("mp4", "mkv"):
        return
    sizes = {tuple(s) for s in frame_sizes(store, clip).tolist()}
    if len(sizes) > 1:
        raise ClipError(clip.path, f"clip '{clip.name}' is an image clip with {len(sizes)} different image sizes; "
                                   "a video needs one: render it with --format png")
