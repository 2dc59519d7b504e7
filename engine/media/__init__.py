"""Media I/O: what a video file holds, its content fingerprint, and its frames.

Qt-free like all of ``engine``. Frames are ``uint8`` arrays of shape ``(H, W, 3)`` in RGB
order, numbered from 0 in presentation order. Every problem with a file is raised as
:class:`engine.errors.MediaError` naming the file and the problem.
"""

from __future__ import annotations

from engine.media.decode import DecodeStats, FrameReader, iter_frames, thumbnail
from engine.media.fingerprint import fingerprint
from engine.media.indexing import FrameIndex, frame_index
from engine.media.probe import AudioInfo, MediaInfo, probe

__all__ = [
    "AudioInfo",
    "DecodeStats",
    "FrameIndex",
    "FrameReader",
    "MediaInfo",
    "fingerprint",
    "frame_index",
    "iter_frames",
    "probe",
    "thumbnail",
]
