"""The frame index of a video: every frame's timestamp and which frames are keyframes.

Frame-accurate random access needs to know, before decoding anything, which timestamp
frame *i* has and from which keyframe to decode to reach it. Demuxing (reading packets
without decoding them) gives both at a tiny fraction of the cost of decoding, and the
result is cached per file content, so a clip is indexed once per project.

Frames are numbered in **presentation order** (the order they are shown), which is not
the order they are stored in when the codec uses B-frames: the index sorts the packets'
presentation timestamps (pts), so frame *i* is the packet with the *i*-th smallest pts.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import av
import numpy as np

from engine.errors import MediaError
from engine.media._container import open_input, video_stream
from engine.media.fingerprint import fingerprint

if TYPE_CHECKING:
    from collections.abc import Iterable

    from av.packet import Packet

__all__ = ["FrameIndex", "IndexMode", "frame_index", "is_frame_packet"]

_CACHE_FORMAT: Final = "facesmith-frame-index"
_CACHE_VERSION: Final = 2


def is_frame_packet(packet: Packet[Any]) -> bool:
    """Whether a demuxed packet carries one frame that the decoder will output.

    PyAV ends each stream with an empty flush packet, and MP4 edit lists mark packets
    that are decoded only as references (``is_discard``); neither is a frame of the clip.
    """
    return packet.size > 0 and not packet.is_discard


IndexMode = Literal["pts", "dts", "count"]


@dataclass(frozen=True, eq=False)
class FrameIndex:
    """Timestamps and keyframes of one video stream, in presentation order.

    Attributes
    ----------
    time_base:
        Unit of the timestamps in seconds (the stream's time base).
    mode:
        How a decoded frame is recognised. ``"pts"``: by its presentation timestamp, the
        normal case. ``"dts"``: the container's presentation timestamps are not real (AVI
        stores none; FFmpeg makes them up, wrongly for B-frames), so frames are counted
        from the keyframe decoding started at, which is right for closed GOPs; keyframes
        are found after a seek by decode timestamp. ``"count"``: no usable timestamps at
        all (raw elementary streams): frames are counted from the start of the file.
    pts:
        ``int64[frame_count]``, strictly increasing: frame *i* has timestamp ``pts[i]``.
        Outside ``"pts"`` mode these are just ``0..n-1``.
    keyframes:
        ``int64[k]``, ascending: the frame numbers of the keyframes (where decoding can start).
    key_ts:
        ``int64[k]``, ascending: the timestamp that identifies each keyframe's packet after
        a seek (its pts, or its dts in ``"dts"`` mode).
    seek_ts:
        ``int64[k]``: the timestamp to seek to for each keyframe. It is the smaller of the
        keyframe's pts and dts, because demuxers seek by dts (MPEG-PS, MP4) or pts
        (Matroska) and seeking backward from the smaller one rarely lands after it.
    """

    time_base: Fraction
    mode: IndexMode
    pts: np.ndarray
    keyframes: np.ndarray
    key_ts: np.ndarray
    seek_ts: np.ndarray

    @property
    def frame_count(self) -> int:
        return int(self.pts.shape[0])

    @property
    def by_pts(self) -> bool:
        return self.mode == "pts"

    @property
    def seekable(self) -> bool:
        return self.mode != "count"

    def position(self, pts: int | None) -> int | None:
        """The frame number whose timestamp is ``pts``, or None when no frame has it."""
        if pts is None or self.mode != "pts" or self.frame_count == 0:
            return None
        index = int(np.searchsorted(self.pts, pts))
        if index < self.frame_count and int(self.pts[index]) == pts:
            return index
        return None

    def keyframe_slot(self, index: int) -> int:
        """The slot in ``keyframes`` of the last keyframe at or before frame ``index``.

        -1 when no keyframe precedes the frame (leading frames of an open GOP at the
        very start of a stream): such frames can only be decoded from the file start.
        """
        return int(np.searchsorted(self.keyframes, index, side="right")) - 1

    def keyframe_with_ts(self, ts: int | None) -> int | None:
        """The slot of the keyframe whose packet carries ``ts`` (see ``key_ts``), if any."""
        if ts is None or not self.seekable:
            return None
        slot = int(np.searchsorted(self.key_ts, ts))
        if slot < self.key_ts.shape[0] and int(self.key_ts[slot]) == ts:
            return slot
        return None

    @classmethod
    def from_packets(
        cls,
        time_base: Fraction,
        packets: Iterable[tuple[int | None, int | None, bool]],
        *,
        pts_trusted: bool = True,
    ) -> FrameIndex:
        """Build the index from ``(pts, dts, is_keyframe)`` of each frame packet in file order.

        ``pts_trusted`` is False when decoding showed that the decoder's output order does
        not follow the packets' pts (see ``mode``).
        """
        rows = list(packets)
        count = len(rows)
        frames = np.arange(count, dtype=np.int64)
        pts = [row[0] for row in rows]
        dts = [row[1] for row in rows]
        if pts_trusted and count and all(v is not None for v in pts):
            values = np.asarray(pts, dtype=np.int64)
            order = np.argsort(values, kind="stable")
            if bool(np.all(np.diff(values[order]) > 0)):
                rank = np.empty(count, dtype=np.int64)
                rank[order] = frames
                keys = sorted((int(rank[i]), i) for i, row in enumerate(rows) if row[2])
                keys = keys or [(0, int(order[0]))]
                seek = [min(v for v in (pts[i], dts[i]) if v is not None) for _, i in keys]
                return cls(
                    time_base=time_base,
                    mode="pts",
                    pts=values[order],
                    keyframes=np.asarray([k for k, _ in keys], dtype=np.int64),
                    key_ts=np.asarray([pts[i] for _, i in keys], dtype=np.int64),
                    seek_ts=np.asarray(seek, dtype=np.int64),
                )
        known_dts = [v for v in dts if v is not None]
        if count and len(known_dts) == count and all(a < b for a, b in pairwise(known_dts)):
            keys_d = [i for i, row in enumerate(rows) if row[2]] or [0]
            key_dts = np.asarray([dts[i] for i in keys_d], dtype=np.int64)
            return cls(
                time_base=time_base,
                mode="dts",
                pts=frames,
                keyframes=np.asarray(keys_d, dtype=np.int64),
                key_ts=key_dts,
                seek_ts=key_dts,
            )
        empty = np.zeros(1 if count else 0, dtype=np.int64)
        return cls(time_base, "count", frames, empty, empty.copy(), empty.copy())

    def to_json(self) -> dict[str, Any]:
        return {
            "time_base": [self.time_base.numerator, self.time_base.denominator],
            "mode": self.mode,
            "pts": self.pts.tolist(),
            "keyframes": self.keyframes.tolist(),
            "key_ts": self.key_ts.tolist(),
            "seek_ts": self.seek_ts.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameIndex:
        numerator, denominator = data["time_base"]
        mode = data["mode"]
        if mode not in ("pts", "dts", "count"):
            raise ValueError(f"unknown frame index mode {mode!r}")
        arrays = [
            np.asarray(data[name], dtype=np.int64).reshape(-1)
            for name in ("pts", "keyframes", "key_ts", "seek_ts")
        ]
        index = cls(Fraction(int(numerator), int(denominator)), mode, *arrays)
        if not (index.keyframes.shape == index.key_ts.shape == index.seek_ts.shape) or (
            index.frame_count and not index.keyframes.size
        ):
            raise ValueError("inconsistent frame index")
        return index


#: Packets decoded from the start of a stream to check that output follows their pts.
_CHECK_PACKETS: Final = 16


def _pts_follow_output(path: Path) -> bool:
    """Whether the decoder puts out the first frames in increasing pts order.

    Containers without real presentation timestamps (AVI) get pts made up by FFmpeg in
    decode order; with B-frames the decoder then returns them out of order, and frames
    could not be recognised by pts. Decoding a few packets shows it.
    """
    container = open_input(path)
    try:
        stream = video_stream(container, path)
        stream.thread_type = "SLICE"
        previous: int | None = None
        fed = 0
        for demuxed in container.demux(stream):
            # After enough packets, send None: it drains the frames held back for reordering.
            packet = demuxed if fed < _CHECK_PACKETS else None
            fed += is_frame_packet(demuxed)
            try:
                frames = stream.decode(packet)
            except av.FFmpegError:
                return True  # damaged data says nothing about timestamps
            for frame in frames:
                if frame.pts is not None:
                    if previous is not None and frame.pts <= previous:
                        return False
                    previous = frame.pts
            if packet is None:
                break
        return True
    finally:
        container.close()


def _scan(path: Path) -> FrameIndex:
    """Demux the whole video stream once and index its frame packets."""
    container = open_input(path)
    try:
        stream = video_stream(container, path)
        time_base = Fraction(stream.time_base or Fraction(1, 90000))
        rows: list[tuple[int | None, int | None, bool]] = []
        try:
            for packet in container.demux(stream):
                if is_frame_packet(packet):
                    rows.append((packet.pts, packet.dts, bool(packet.is_keyframe)))
        except av.FFmpegError as error:
            raise MediaError(path, f"truncated or damaged: {error.strerror or error}") from error
    finally:
        container.close()
    return FrameIndex.from_packets(time_base, rows, pts_trusted=_pts_follow_output(path))


def _cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"frames-{key.replace(':', '-')}.json"


def _load_cached(file: Path, key: str) -> FrameIndex | None:
    """The cached index for ``key``, or None when absent or unreadable (then it is rebuilt)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if (
            data.get("format") != _CACHE_FORMAT
            or data.get("version") != _CACHE_VERSION
            or data.get("fingerprint") != key
        ):
            return None
        return FrameIndex.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_cached(file: Path, key: str, index: FrameIndex) -> None:
    """Write the index atomically; the cache is an optimisation, so failures are ignored."""
    data = {"format": _CACHE_FORMAT, "version": _CACHE_VERSION, "fingerprint": key}
    data.update(index.to_json())
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=file.parent, prefix=".frames-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"))
            os.replace(temp, file)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def frame_index(path: str | Path, *, cache_dir: Path | None = None) -> FrameIndex:
    """The frame index of ``path``'s video, from ``cache_dir`` when it was built before.

    The cache file is named by the content fingerprint, so a file that was moved still
    hits it and a file that was changed in place does not.
    """
    path = Path(path)
    if cache_dir is None:
        return _scan(path)
    key = fingerprint(path)
    file = _cache_file(Path(cache_dir), key)
    cached = _load_cached(file, key)
    if cached is not None:
        return cached
    index = _scan(path)
    _save_cached(file, key, index)
    return index
