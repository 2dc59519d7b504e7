"""Opening a media file with PyAV, turning every way it can fail into a :class:`MediaError`.

FFmpeg reports most bad input as the same ``InvalidDataError`` ("Invalid data found when
processing input"), whether the file is a renamed text file or an MP4 whose ``moov`` atom
was cut off. The user needs to hear which of the two it is, so when FFmpeg refuses a file
we look at its first bytes ourselves: a known container signature means the file *is* a
video that is damaged; anything else is "not a video file".
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Final

import av

from engine.errors import MediaError

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = [
    "check_file",
    "header_fps",
    "measured_fps",
    "open_input",
    "sniff_container",
    "video_stream",
]

#: Bytes read from the head of a file to recognise its container.
_SNIFF_BYTES: Final = 4096

#: Demuxers that read still images: a picture is not a clip.
_IMAGE_DEMUXERS: Final = frozenset({"image2", "image2pipe"})


def check_file(path: str | Path) -> Path:
    """Refuse paths that cannot be a video before FFmpeg sees them.

    FFmpeg's own messages for these cases ("No such file or directory", "Is a directory")
    are right but terse, and an empty file gives the misleading "Invalid data".
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "file not found")
    if path.is_dir():
        raise MediaError(path, "is a directory, not a video file")
    if not path.is_file():
        raise MediaError(path, "is not a regular file")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "cannot be read (permission denied)")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file")
    return path


def sniff_container(head: bytes) -> str | None:
    """Name the container that ``head`` (the first bytes of a file) starts with, if any.

    Only signatures that FFmpeg would accept as the start of a video container are listed;
    raw elementary streams have no reliable signature and are left out.
    """
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "MP4/QuickTime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "Matroska/WebM"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "MPEG program stream"
    if head.startswith(b"\x00\x00\x01\xb3"):
        return "MPEG video"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "MPEG transport stream"
    if head.startswith(b"FLV"):
        return "FLV"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "ASF/WMV"
    if head.startswith(b"OggS"):
        return "Ogg"
    return None


def _looks_like_text(head: bytes) -> bool:
    """Whether ``head`` reads as text: no NUL bytes and valid UTF-8 (a cut character allowed)."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # only the last, cut-off character is bad
    return True


def _refusal(path: Path, error: Exception) -> MediaError:
    """The message for a file FFmpeg would not open, chosen by what the file starts with."""
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES)
    reason = getattr(error, "strerror", None) or str(error)
    container = sniff_container(head)
    if container is not None:
        return MediaError(
            path, f"truncated or damaged: its {container} structure cannot be read ({reason})"
        )
    if _looks_like_text(head):
        return MediaError(path, "not a video file (it contains text)")
    return MediaError(path, f"not a video file (format not recognised: {reason})")


def open_input(path: str | Path) -> InputContainer:
    """Open ``path`` for reading with PyAV, or raise a :class:`MediaError` that says why not."""
    path = check_file(path)
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as error:
        raise _refusal(path, error) from error
    except OSError as error:  # raised by Python's own file handling in PyAV
        raise MediaError(path, f"cannot be opened ({error.strerror or error})") from error
    if container.format.name in _IMAGE_DEMUXERS or container.format.name.endswith("_pipe"):
        container.close()
        raise MediaError(path, "is a still image, not a video file")
    return container


def video_stream(container: InputContainer, path: str | Path) -> VideoStream:
    """The clip's picture stream: the first video stream that is not cover art."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            if stream.codec_context is None or not stream.codec_context.width:
                # PyAV makes no decoder context when FFmpeg has no decoder for the codec
                # or the header describing it was cut off.
                raise MediaError(path, "unsupported or damaged: its video stream cannot be decoded")
            return stream
    found = sorted({stream.type for stream in container.streams})
    detail = f" (found: {', '.join(found)})" if found else ""
    raise MediaError(path, f"has no video stream{detail}")


def header_fps(stream: VideoStream) -> Fraction | None:
    """The stream's frame rate as the headers give it, as an exact fraction.

    ``average_rate`` is what the container measured over the stream (25, 30000/1001, ...);
    when it is missing we take FFmpeg's guess, then the codec's base rate. Read it before
    demuxing: PyAV recomputes some stream values as packets go by.
    """
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return None


def measured_fps(frame_count: int, duration_s: float) -> Fraction | None:
    """Frames over time, for streams whose headers state no rate."""
    if frame_count > 1 and duration_s > 0:
        return Fraction(frame_count / duration_s).limit_denominator(1001)
    return None
