"""A decoder positioned in one video stream: the seek-and-verify core of frame access.

Seeking is where frame-accurate readers go wrong. Demuxers seek by different clocks
(MPEG-PS and MP4 by decode timestamp, Matroska by presentation timestamp), formats
without an index (MPEG-PS, TS) seek by bisecting the file and may land a little before
or after the keyframe asked for, and after a seek the first packets may belong to the
middle of a group of pictures. So a seek here is *verified*: packets are skipped up to the
first keyframe, and if that keyframe is later than the one wanted we seek again from an
earlier keyframe, and finally decode from the start of the file. Landing early is fine:
decoding forward from any keyframe reaches the wanted frame. Frames are then recognised by
their presentation timestamp, never by counting, because a decoder may drop frames it
cannot decode (leading B-frames of an open GOP after a seek).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final, Literal

import av

from engine.media._container import open_input, video_stream

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from av.container import InputContainer
    from av.packet import Packet
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

    from engine.media.indexing import FrameIndex

__all__ = ["Cursor"]

#: How many keyframes further back a seek is retried before decoding from the file start.
_SEEK_RETRIES: Final = 3

ThreadType = Literal["NONE", "SLICE", "FRAME", "AUTO"]


class Cursor:
    """Decoded frames of one video stream from a chosen keyframe on (not thread-safe).

    Attributes
    ----------
    position:
        Frame number of the frame :meth:`next_frame` returned last, or None when unknown
        (just after a seek, or a frame whose timestamp is not in the index).
    errors:
        Number of packets the decoder refused (damaged data), since the cursor was made.
    last_error:
        The decoder's message for the last refused packet.
    """

    def __init__(self, path: Path, index: FrameIndex, *, thread_type: ThreadType) -> None:
        self.path = path
        self.index = index
        self.thread_type: ThreadType = thread_type
        self.position: int | None = None
        self.errors = 0
        self.last_error = ""
        self._container: InputContainer | None = None
        self._stream: VideoStream | None = None
        self._packets: Iterator[Packet[VideoStream]] | None = None
        self._pending: Packet[VideoStream] | None = None
        self._ready: deque[VideoFrame] = deque()
        self._counted = 0
        self.rewind()

    @property
    def stream(self) -> VideoStream:
        """The video stream being decoded (read its header values before decoding)."""
        assert self._stream is not None, "cursor is closed"
        return self._stream

    def close(self) -> None:
        self._packets = None
        self._pending = None
        self._ready.clear()
        if self._container is not None:
            self._container.close()
            self._container = None
            self._stream = None

    def rewind(self) -> None:
        """Start over from the first packet of the file (the fallback that always works).

        Reopening rather than seeking to 0 sidesteps demuxers whose seek to the very
        start is approximate.
        """
        self.close()
        self._container = open_input(self.path)
        self._stream = video_stream(self._container, self.path)
        self._stream.thread_type = self.thread_type
        self._packets = self._container.demux(self._stream)
        self.position = None
        self._counted = 0

    def seek_before(self, index: int) -> None:
        """Position the decoder on a keyframe at or before frame ``index`` (verified)."""
        if not self.index.seekable:
            self.rewind()
            return
        slot = self.index.keyframe_slot(index)
        for attempt in range(slot, max(slot - _SEEK_RETRIES, -1), -1):
            if self._seek_to_keyframe(attempt):
                return
        self.rewind()

    def _seek_to_keyframe(self, slot: int) -> bool:
        """Seek to keyframe ``slot``, or any earlier one; False when that did not work.

        The first keyframe packet after the seek must carry the timestamp the index has
        for a keyframe at or before ``slot``. Anything else means the demuxer landed
        after it, or (MPEG-PS, when several pictures share a PES packet) gave the first
        packets timestamps shifted by a frame, so frames would not be recognised.
        The seek is tried at the keyframe's timestamp and one tick before it, because
        some demuxers land just after a keyframe whose timestamp equals the target.
        """
        assert self._container is not None and self._stream is not None
        index = self.index
        for target in (int(index.seek_ts[slot]), int(index.seek_ts[slot]) - 1):
            self._ready.clear()
            self._pending = None
            self.position = None
            try:
                self._container.seek(target, stream=self._stream, backward=True)
            except av.FFmpegError:
                continue
            self._packets = self._container.demux(self._stream)
            for packet in self._packets:
                if packet.size == 0 or not packet.is_keyframe:
                    continue  # the tail of the previous group of pictures
                ts = packet.pts if index.by_pts else packet.dts
                landed = index.keyframe_with_ts(ts)
                if landed is not None and landed <= slot:
                    self._pending = packet
                    self._counted = int(index.keyframes[landed])
                    return True
                break
        return False

    def next_frame(self) -> VideoFrame | None:
        """The next decoded frame in presentation order, or None at the end of the stream.

        Packets the decoder refuses are counted in :attr:`errors` and passed over, so a
        damaged stretch costs the frames that depend on it, not the rest of the clip.
        """
        while not self._ready:
            if self._packets is None:
                return None
            packet = self._pending
            self._pending = None
            if packet is None:
                packet = next(self._packets, None)
            if packet is None:
                self._packets = None  # PyAV's last (empty) packet has drained the decoder
                continue
            assert self._stream is not None
            try:
                self._ready.extend(self._stream.decode(packet))
            except av.FFmpegError as error:
                self.errors += 1
                self.last_error = error.strerror or str(error)
        frame = self._ready.popleft()
        if self.index.by_pts:
            self.position = self.index.position(frame.pts)
        else:
            self.position = self._counted
            self._counted += 1
        return frame

    def advance_to(self, index: int) -> VideoFrame | None:
        """Decode forward to frame ``index``; None when the stream passed it or ended.

        The caller must have positioned the cursor at or before the frame.
        """
        while True:
            frame = self.next_frame()
            if frame is None:
                return None
            if self.position == index:
                return frame
            if self.position is not None and self.position > index:
                return None
