"""Helpers the importers and exporters share: file lists, frame names, results."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from engine.interop import InteropError

Progress = Callable[[float, str], None]

IMAGE_SUFFIXES: Final = (".jpg", ".jpeg", ".png")
_DIGITS = re.compile(r"(\d+)")
_TRAILING = re.compile(r"^(.*?)[_\-.]?(\d+)$")


def natural_key(name: str) -> list[object]:
    """Sort key that puts ``img2`` before ``img10`` (how DFL's and FS's folders read)."""
    return [int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(name)]


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InteropError(folder, "not a folder")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def split_frame_name(name: str) -> tuple[str, int] | None:
    """``('clip', 12)`` for ``clip_00012.png``; ``('', 12)`` for ``00012.png``; None without digits."""
    stem = Path(name).stem
    m = _TRAILING.match(stem)
    if m is None:
        return None
    return m.group(1), int(m.group(2))


@dataclass(frozen=True)
class Broken:
    """A file an import skipped, and why."""

    path: Path
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: the clip the faces went to and the files it skipped."""

    clip_id: int
    clip_name: str
    faces: int
    label_masks: int
    predicted_masks: int
    person_id: int | None
    new_clip: bool
    broken: tuple[Broken, ...] = field(default_factory=tuple)

    def message(self) -> str:
        where = f"new face-set clip '{self.clip_name}'" if self.new_clip else f"clip '{self.clip_name}'"
        text = (f"imported {self.faces} face{'s' if self.faces != 1 else ''} into {where} "
                f"({self.label_masks} label masks, {self.predicted_masks} predicted masks)")
        if self.broken:
            text += f"; skipped {len(self.broken)} broken file{'s' if len(self.broken) != 1 else ''}"
        return text


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's SOF segment, without decoding it."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > len(data):
                return None
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h
        if marker == 0xDA:
            return None
        pos += 2 + length
    return None


def png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def listing(broken: Sequence[Broken], limit: int = 20) -> str:
    lines = [str(b) for b in broken[:limit]]
    if len(broken) > limit:
        lines.append(f"... and {len(broken) - limit} more")
    return "\n".join(lines)
