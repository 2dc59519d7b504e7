"""Where rendered frames go: a video, a PNG sequence, or RGBA patches with a sidecar.

Every sink is resumable from its files alone (a job's parameters never change, so what
is on disk under its names is its own earlier work):

- :class:`VideoSink` keeps finished parts (:mod:`engine.merge.encode`); the render
  restarts at the first missing part and the parts are remuxed at the end.
- :class:`PngSink` writes ``frame_NNNNNN.png`` (source frame numbers) atomically; the
  render restarts at the first missing file.
- :class:`RgbaSink` writes each face's patch ``frame_NNNNNN_K.png`` (K: the face's place
  in the compositing order) and then ``frame_NNNNNN.json``, the frame's placements; a
  frame is done when its JSON exists. At the end all frames' JSON is gathered into
  ``sidecar.json``, which also says what the patches were merged with, as the provenance
  record does: ``merge_settings`` (the clip's), ``keyframed`` (its merge keys) and
  ``face_overrides``; a face merged with other values than ``merge_settings`` (a key, an
  override) lists them in its own ``merge_settings``.

A folder remembers which job wrote it (``.facesmith-render``): frames another job left
there (an earlier render to the same folder, with other settings) are removed rather
than mistaken for this job's work.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from engine.merge.composite import FrameMerge
from engine.merge.encode import PartWriter, VideoSpec, encode_png, mux, part_path, part_ranges, write_atomic
from engine.merge.patches import face_patch
from engine.merge.settings import MergeSettings


class Sink(Protocol):
    def first_todo(self) -> int: ...

    def write(self, frame_no: int, merged: FrameMerge) -> None: ...

    def close(self, *, complete: bool, discard: bool = False) -> None: ...


class VideoSink:
    """An H.264/H.265 video in parts, remuxed with the clip's audio at the end."""

    def __init__(self, out: Path, parts: Path, spec: VideoSpec, frames: tuple[int, int], *, segment: int,
                 container_format: Literal["mp4", "matroska"], metadata: dict[str, str], audio_from: Path | None,
                 index_cache_dir: Path | None) -> None:
        self.out, self.parts, self.spec, self.frames = out, parts, spec, frames
        self.ranges = part_ranges(frames[0], frames[1], segment)
        self.container_format = container_format
        self.metadata = metadata
        self.audio_from = audio_from
        self.index_cache_dir = index_cache_dir
        self._writer: PartWriter | None = None
        parts.mkdir(parents=True, exist_ok=True)
        for stale in parts.glob("*.tmp"):
            stale.unlink()

    def first_todo(self) -> int:
        for a, b in self.ranges:
            if not part_path(self.parts, a, b).exists():
                return a
        return self.frames[1]

    def write(self, frame_no: int, merged: FrameMerge) -> None:
        if self._writer is None:
            rng = next(((a, b) for a, b in self.ranges if a == frame_no), None)
            if rng is None:
                raise ValueError(f"a video part cannot start at frame {frame_no}")
            self._writer = PartWriter(part_path(self.parts, *rng), self.spec, *rng)
        self._writer.write(frame_no, merged.image)
        if self._writer.complete:
            self._writer.close()
            self._writer = None

    def close(self, *, complete: bool, discard: bool = False) -> None:
        """Finish the output (``complete``), or stop keeping what is done for a resume;
        ``discard`` (a cancelled or failed render) deletes the finished parts too."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if not complete:
            if discard:
                shutil.rmtree(self.parts, ignore_errors=True)
            return
        files = [(a, part_path(self.parts, a, b)) for a, b in self.ranges]
        self.out.parent.mkdir(parents=True, exist_ok=True)
        mux(files, self.out, container_format=self.container_format, spec=self.spec, metadata=self.metadata,
            audio_from=self.audio_from, frames=self.frames, index_cache_dir=self.index_cache_dir)
        shutil.rmtree(self.parts, ignore_errors=True)


MARKER: Final = ".facesmith-render"


def claim_folder(folder: Path, job_id: int) -> None:
    """Make ``folder`` this job's: frames of another job's render there are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER
    try:
        owner = json.loads(marker.read_text()).get("job")
    except (OSError, ValueError, AttributeError):
        owner = None
    if owner == job_id:
        return
    for stale in [*folder.glob("frame_*.png"), *folder.glob("frame_*.json"), folder / "sidecar.json"]:
        stale.unlink(missing_ok=True)
    write_atomic(marker, json.dumps({"job": job_id}).encode())


class PngSink:
    """Merged frames as 8-bit RGB PNG files carrying the provenance text."""

    def __init__(self, folder: Path, frames: tuple[int, int], text_chunks: bytes, *, job_id: int) -> None:
        self.folder, self.frames, self.chunks = folder, frames, text_chunks
        claim_folder(folder, job_id)

    def path(self, frame_no: int) -> Path:
        return self.folder / f"frame_{frame_no:06d}.png"

    def first_todo(self) -> int:
        return next((n for n in range(*self.frames) if not self.path(n).exists()), self.frames[1])

    def write(self, frame_no: int, merged: FrameMerge) -> None:
        write_atomic(self.path(frame_no), encode_png(merged.image, self.chunks))

    def close(self, *, complete: bool, discard: bool = False) -> None:
        return None  # written frames stay, also of a cancelled render: the user may want them


class RgbaSink:
    """Each face as a 16-bit RGBA patch plus per-frame placement JSON (see module docs)."""

    def __init__(self, folder: Path, frames: tuple[int, int], text_chunks: bytes, *, settings: MergeSettings,
                 fps: Fraction, frame_size: tuple[int, int], header: dict[str, Any], job_id: int) -> None:
        self.folder, self.frames, self.chunks = folder, frames, text_chunks
        self.settings, self.fps, self.frame_size, self.header = settings, fps, frame_size, header
        claim_folder(folder, job_id)

    def json_path(self, frame_no: int) -> Path:
        return self.folder / f"frame_{frame_no:06d}.json"

    def first_todo(self) -> int:
        return next((n for n in range(*self.frames) if not self.json_path(n).exists()), self.frames[1])

    def write(self, frame_no: int, merged: FrameMerge) -> None:
        faces = []
        base = self.settings.to_json()
        for k, placed in enumerate(merged.faces):
            # Each face as it was merged: its keyed values at this frame, its override.
            used = merged.settings[k] if merged.settings else self.settings
            patch = face_patch(placed, seamless=used.seamless, opacity=used.opacity)
            name = f"frame_{frame_no:06d}_{k}.png"
            write_atomic(self.folder / name, encode_png(patch.rgba, self.chunks, compression=1))
            entry = {"file": name, "face_id": placed.prepared.layer.face_id, "order": k, **patch.sidecar()}
            differs = {n: v for n, v in used.to_json().items() if v != base.get(n)}
            if differs:
                entry["merge_settings"] = differs
            faces.append(entry)
        entry = {"frame": frame_no, "time": float((frame_no - self.frames[0]) / self.fps), "faces": faces}
        write_atomic(self.json_path(frame_no), json.dumps(entry).encode())

    def close(self, *, complete: bool, discard: bool = False) -> None:
        if not complete:
            return
        entries = [json.loads(self.json_path(n).read_text()) for n in range(*self.frames)]
        sidecar = {
            **self.header,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "frame_size": list(self.frame_size),
            "frame_range": list(self.frames),
            "alpha": "straight",
            "bit_depth": 16,
            "convention": "pixel centres on integer coordinates; matrices map (x, y, 1); "
                          "patch_to_frame takes patch pixels to frame pixels",
            "frames": entries,
        }
        write_atomic(self.folder / "sidecar.json", json.dumps(sidecar, indent=1).encode())
