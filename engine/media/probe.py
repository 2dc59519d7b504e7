"""What a video file holds (size, rate, exact frame count, audio) and whether it is whole.

``probe`` is what the project calls before it accepts a clip, so it must refuse every
file that would fail later: not a video, empty, no video stream, or truncated. Headers
alone cannot tell a truncated file (MPEG program streams have no header that says how
long they are, and FFmpeg *estimates* their duration from the last timestamp it finds,
which a cut file still has). So ``probe`` reads the whole file once without decoding it
(demuxing is cheap: about a millisecond per second of video), which gives the exact
frame count, and checks the end of the file in several independent ways:

- the container's own promises: the frame count (MP4, AVI) and duration (MP4,
  Matroska, ASF) in its header must match what was demuxed;
- the container's structure: MPEG program streams are chains of packets with stated
  lengths and the last one must fit in the file; transport streams are made of
  188/192/204-byte packets and the size must be a multiple;
- the pictures: the last group of pictures is decoded, and its last frame must decode
  whole (a picture whose data stops early is flagged corrupt by the decoder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

import av

from engine.errors import MediaError
from engine.media._container import (
    check_file,
    header_fps,
    measured_fps,
    open_input,
    video_stream,
)
from engine.media.indexing import is_frame_packet

if TYPE_CHECKING:
    from pathlib import Path

    from av.container import InputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream

__all__ = ["AudioInfo", "MediaInfo", "probe"]

#: Containers whose header states the duration (rather than FFmpeg estimating it from
#: timestamps or bit rate), so a shorter demuxed length means data is missing.
_HEADER_DURATION_FORMATS: Final = frozenset({"matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2", "asf"})

#: Bytes read from the end of an MPEG program stream to walk its last packs, and how
#: many pack headers from the end to try before giving up on the check.
_PS_TAIL_BYTES: Final = 256 * 1024
_PS_PACK_TRIES: Final = 8

#: Bytes read to find the packet size (188, 192 or 204) of an MPEG transport stream.
_TS_SNIFF_BYTES: Final = 1024


@dataclass(frozen=True)
class AudioInfo:
    """One audio stream of a clip (kept so a render can carry the sound over)."""

    index: int
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class MediaInfo:
    """The facts about a clip that the project stores and the editor shows.

    Attributes
    ----------
    width, height:
        Size of the decoded pictures in pixels, before any rotation.
    fps:
        The stream's average frame rate, exact (``Fraction(30000, 1001)`` for NTSC).
    frame_count:
        Exact number of frames, counted by demuxing (not the container's estimate).
    duration_s:
        Time from the first frame's start to the last frame's end.
    rotation:
        Degrees counter-clockwise (0, 90, 180 or 270) that the pictures must be turned to
        be shown upright, from the display matrix (phones record portrait video this way).
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration_s: float
    rotation: int
    codec: str
    pix_fmt: str
    bit_rate: int
    audio: tuple[AudioInfo, ...]
    size_bytes: int
    container: str = ""

    @property
    def display_size(self) -> tuple[int, int]:
        """``(width, height)`` as shown, after the rotation."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass
class _Scan:
    """What one demux pass over the whole file found."""

    frames: int = 0  # frame packets of the video stream
    raw_packets: int = 0  # video packets incl. empty "dropped frame" ones (AVI), for headers
    first_pts: int | None = None
    end_pts: int | None = None  # largest pts + duration over the video frames
    start_s: float | None = None  # earliest timestamp over all streams, in seconds
    end_s: float | None = None  # latest packet end over all streams, in seconds
    tail: list[Packet[Any]] = field(default_factory=list)  # packets since the last keyframe


def _scan(container: InputContainer, stream: VideoStream, path: Path) -> _Scan:
    scan = _Scan()
    try:
        for packet in container.demux():
            if packet.pts is None and packet.dts is None and packet.size == 0:
                continue  # PyAV's end-of-stream flush packet
            timestamp = packet.pts if packet.pts is not None else packet.dts
            if timestamp is not None and packet.time_base:
                start = float(timestamp * packet.time_base)
                end = float((timestamp + max(packet.duration or 0, 0)) * packet.time_base)
                scan.start_s = start if scan.start_s is None else min(scan.start_s, start)
                scan.end_s = end if scan.end_s is None else max(scan.end_s, end)
            if packet.stream_index != stream.index:
                continue
            scan.raw_packets += 1
            if not is_frame_packet(packet):
                continue
            scan.frames += 1
            if packet.is_keyframe:
                scan.tail = [packet]
            else:
                scan.tail.append(packet)
            if packet.pts is not None:
                end = packet.pts + max(packet.duration or 0, 0)
                first = scan.first_pts
                scan.first_pts = packet.pts if first is None else min(first, packet.pts)
                scan.end_pts = end if scan.end_pts is None else max(scan.end_pts, end)
    except av.FFmpegError as error:
        raise MediaError(path, f"truncated or damaged: {error.strerror or error}") from error
    return scan


def _check_transport_stream(path: Path, format_name: str, size_bytes: int) -> None:
    """An MPEG-TS file is a sequence of fixed-size packets; one cut short means truncation.

    The transport stream demuxer cannot tell otherwise: video PES packets in TS carry no
    length, and H.264 decoders do not always flag a picture whose last bytes are missing.
    """
    if format_name != "mpegts":
        return
    with path.open("rb") as file:
        head = file.read(_TS_SNIFF_BYTES)
    for packet_size, offset in ((188, 0), (192, 4), (204, 0)):
        if len(head) > offset + 2 * packet_size and all(
            head[offset + k * packet_size] == 0x47 for k in range(3)
        ):
            if size_bytes % packet_size:
                raise MediaError(
                    path, "truncated or damaged: it ends inside a transport stream packet"
                )
            return


def _program_stream_end(tail: bytes, offset: int, size: int) -> int | None:
    """Walk MPEG-PS packs from ``offset``; return where the data claims to end.

    Returns the end of the last packet (``> size`` when the file stops inside it), or
    None when the bytes at ``offset`` are not a consistent pack sequence (a start code
    look-alike inside a payload), so the caller tries an earlier pack.
    """
    base = size - len(tail)
    position = offset
    while position < size:
        at = position - base
        if size - position < 4 or tail[at : at + 3] != b"\x00\x00\x01":
            rest = tail[at:]
            # Zero or 0xFF filler after the last packet is harmless.
            return position if rest.strip(b"\x00\xff") == b"" else None
        code = tail[at + 3]
        if code == 0xB9:  # program end code
            position += 4
        elif code == 0xBA:  # pack header: MPEG-1 (12 bytes) or MPEG-2 (14 + stuffing)
            if size - position < 14:
                return size + 1
            if tail[at + 4] & 0xC0 == 0x40:
                position += 14 + (tail[at + 13] & 0x07)
            elif tail[at + 4] & 0xF0 == 0x20:
                position += 12
            else:
                return None
        elif code >= 0xBB:  # system header or PES packet: 16-bit length follows
            if size - position < 6:
                return size + 1
            position += 6 + int.from_bytes(tail[at + 4 : at + 6], "big")
        else:
            return None
    return position


def _check_program_stream(path: Path, format_name: str, size_bytes: int) -> None:
    """An MPEG program stream is a chain of packets with stated lengths: check the last.

    When a file is cut where one picture ends and the next begins, every picture left
    decodes cleanly, so only the container shows the cut: the last packet claims more
    bytes than the file has. We walk the packets of the last pack in the file.
    """
    if format_name != "mpeg":
        return
    with path.open("rb") as file:
        file.seek(max(0, size_bytes - _PS_TAIL_BYTES))
        tail = file.read()
    base = size_bytes - len(tail)
    start = len(tail)
    for _ in range(_PS_PACK_TRIES):
        start = tail.rfind(b"\x00\x00\x01\xba", 0, start)
        if start < 0:
            return
        end = _program_stream_end(tail, base + start, size_bytes)
        if end is None:
            continue
        if end > size_bytes:
            raise MediaError(path, "truncated or damaged: it ends inside a packet")
        return


def _check_tail(stream: VideoStream, scan: _Scan, path: Path) -> int:
    """Decode the last group of pictures; refuse the file if its end does not decode.

    Returns the rotation read from a decoded frame's display matrix. Frames before the
    last keyframe in presentation order (leading B-frames of an open GOP) are not checked:
    they need the previous group of pictures, which we did not feed to the decoder.
    """
    # Single-threaded on purpose: with frame threads, whether FFmpeg flags a picture
    # whose data stops early as corrupt depends on thread timing.
    stream.codec_context.thread_type = "NONE"
    key_pts = scan.tail[0].pts
    expected = {
        p.pts for p in scan.tail if p.pts is not None and (key_pts is None or p.pts >= key_pts)
    }
    whole: set[int] = set()
    rotation = 0
    last_corrupt = False
    for packet in [*scan.tail, None]:
        try:
            frames = stream.decode(packet)
        except av.FFmpegError as error:
            reason = error.strerror or str(error)
            raise MediaError(
                path, f"truncated or damaged: the last frames cannot be decoded ({reason})"
            ) from error
        for frame in frames:
            rotation = int(frame.rotation or 0)
            last_corrupt = frame.is_corrupt
            if frame.pts is not None and not frame.is_corrupt:
                whole.add(frame.pts)
    missing = expected - whole if key_pts is not None else set()
    if missing or last_corrupt:
        last = max(expected, default=None)
        if last_corrupt or missing == {last}:
            raise MediaError(path, "truncated or damaged: the last frame is incomplete")
        raise MediaError(
            path,
            f"truncated or damaged: {len(missing)} of the last {len(expected)} frames "
            "cannot be decoded",
        )
    return (round(rotation / 90) * 90) % 360


def _check_complete(
    path: Path,
    scan: _Scan,
    *,
    format_name: str,
    size_bytes: int,
    declared_frames: int,
    header_duration_s: float,
) -> None:
    """Refuse a file whose demuxed data falls short of what its container promises."""
    if scan.frames == 0:
        raise MediaError(path, "truncated or damaged: it holds no complete video frame")
    if declared_frames and scan.raw_packets < declared_frames:
        raise MediaError(
            path,
            f"truncated or damaged: only {scan.raw_packets} of {declared_frames} "
            "frames are present",
        )
    declares_duration = format_name in _HEADER_DURATION_FORMATS and header_duration_s > 0
    if declares_duration and scan.end_s is not None:
        found_s = scan.end_s - (scan.start_s or 0.0)
        if header_duration_s - found_s > max(0.1, 0.005 * header_duration_s):
            raise MediaError(
                path,
                f"truncated or damaged: the header says {header_duration_s:.2f} s "
                f"but the data ends after {found_s:.2f} s",
            )
    _check_transport_stream(path, format_name, size_bytes)
    _check_program_stream(path, format_name, size_bytes)
    if scan.tail[-1].is_corrupt:  # the demuxer read fewer bytes than the packet has
        raise MediaError(path, "truncated or damaged: the last frame is incomplete")


def probe(path: str | Path) -> MediaInfo:
    """Describe the video at ``path``, or raise :class:`MediaError` saying why it cannot be used.

    Reads the whole file once (demux only) and decodes its last group of pictures, so it
    costs milliseconds for a short clip and is bound by disk speed for long ones.
    """
    path = check_file(path)
    size_bytes = path.stat().st_size
    container = open_input(path)
    try:
        stream = video_stream(container, path)
        # Read everything from the headers before demuxing; some values change afterwards.
        context = stream.codec_context
        width, height = int(context.width), int(context.height)
        codec = context.name
        pix_fmt = context.pix_fmt or ""
        declared_frames = int(stream.frames or 0)
        time_base = Fraction(stream.time_base or Fraction(1, 90000))
        header_duration_s = (container.duration or 0) / av.time_base
        format_name = container.format.name
        fps = header_fps(stream)
        audio = tuple(
            AudioInfo(
                index=s.index,
                codec=s.codec_context.name,
                sample_rate=int(s.codec_context.sample_rate or 0),
                channels=int(s.codec_context.channels or 0),
            )
            for s in container.streams.audio
        )
        scan = _scan(container, stream, path)
        _check_complete(
            path,
            scan,
            format_name=format_name,
            size_bytes=size_bytes,
            declared_frames=declared_frames,
            header_duration_s=header_duration_s,
        )
        rotation = _check_tail(stream, scan, path)
        span_s = 0.0
        if scan.first_pts is not None and scan.end_pts is not None:
            span_s = max(0.0, float((scan.end_pts - scan.first_pts) * time_base))
        fps = fps or measured_fps(scan.frames, span_s)
        if fps is None:
            raise MediaError(path, "unsupported: the frame rate cannot be determined")
        duration_s = span_s if span_s > 0 else float(scan.frames / fps)
        bit_rate = int(container.bit_rate or 0)
        if not bit_rate and duration_s > 0:
            bit_rate = int(size_bytes * 8 / duration_s)
    finally:
        container.close()
    return MediaInfo(
        path=path,
        width=width,
        height=height,
        fps=fps,
        frame_count=scan.frames,
        duration_s=duration_s,
        rotation=rotation,
        codec=codec,
        pix_fmt=pix_fmt,
        bit_rate=bit_rate,
        audio=audio,
        size_bytes=size_bytes,
        container=format_name,
    )
