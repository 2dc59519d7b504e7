"""A provenance mark in every rendered file: made by Facesmith, with a face-swap model.

None of the incumbents (DeepFaceLab, FaceSwap, DeepFaceLive) says anywhere in its output
that faces were replaced. Every file a render writes carries it here, readable with
standard tools (``ffprobe``, ``exiftool``, any PNG library):

- **video** (MP4, MKV): container metadata ``comment`` (a sentence for people) and
  ``facesmith_provenance`` (JSON); MP4 writes custom keys only with the
  ``use_metadata_tags`` flag, which :mod:`engine.merge.encode` sets;
- **PNG**: ``tEXt`` chunks ``Software``, ``Comment`` and ``Facesmith-Provenance`` (JSON),
  inserted right after the header so they survive truncated reads.

This is a label, not a signature: anyone can strip it. Signed content credentials
(C2PA) would be the tamper-evident next step.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import engine

if TYPE_CHECKING:
    from engine.merge.settings import MergeSettings

COMMENT_KEY: Final = "comment"
JSON_KEY: Final = "facesmith_provenance"
PNG_JSON_KEY: Final = "Facesmith-Provenance"
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


def provenance(*, model: dict[str, Any], clip: str, settings: MergeSettings | None = None,
               frames: tuple[int, int] | None = None) -> dict[str, Any]:
    """The provenance record of a render (plain JSON values)."""
    record: dict[str, Any] = {
        "software": f"Facesmith {engine.__version__}",
        "synthetic": True,
        "process": "face swap: faces replaced by a machine-learning model's output",
        "model": dict(model),
        "source_clip": clip,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if frames is not None:
        record["frames"] = [int(frames[0]), int(frames[1])]
    if settings is not None:
        record["merge_settings"] = settings.to_json()
    return record


def comment(record: dict[str, Any]) -> str:
    """The one-sentence human-readable form."""
    m = record.get("model", {})
    what = f"model {m.get('id')} ({m.get('arch', '?')}, {m.get('resolution', '?')} px, iteration {m.get('iteration', '?')})"
    return (f"Made with {record.get('software', 'Facesmith')}: faces in this video were replaced "
            f"by a face-swap {what}. Synthetic media.")


def video_metadata(record: dict[str, Any]) -> dict[str, str]:
    """Container metadata for a video file."""
    return {COMMENT_KEY: comment(record), JSON_KEY: json.dumps(record, sort_keys=True)}


def read_video(path: str | Path) -> dict[str, Any] | None:
    """The provenance record of a video, or None when it carries none."""
    import av

    with av.open(str(path)) as container:
        meta = {k.lower(): v for k, v in container.metadata.items()}
    text = meta.get(JSON_KEY)
    return None if text is None else json.loads(text)


# ---------------------------------------------------------------------- PNG text chunks
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_chunks(record: dict[str, Any]) -> bytes:
    """The ``tEXt`` chunks of a record (Latin-1 text; JSON is ASCII-escaped to fit)."""
    items = (("Software", record.get("software", "Facesmith")), ("Comment", comment(record)),
             (PNG_JSON_KEY, json.dumps(record, sort_keys=True, ensure_ascii=True)))
    return b"".join(_chunk(b"tEXt", k.encode("latin-1") + b"\0" + v.encode("latin-1", "replace")) for k, v in items)


def add_png_text(png: bytes, chunks: bytes) -> bytes:
    """``png`` with ``chunks`` inserted after its IHDR chunk."""
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    end_of_ihdr = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    return png[:end_of_ihdr] + chunks + png[end_of_ihdr:]


def png_text(data: bytes) -> dict[str, str]:
    """All ``tEXt`` chunks of a PNG file's bytes: keyword -> text."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG image")
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return out


def read_png(path: str | Path) -> dict[str, Any] | None:
    """The provenance record of a PNG file, or None when it carries none."""
    text = png_text(Path(path).read_bytes()).get(PNG_JSON_KEY)
    return None if text is None else json.loads(text)
