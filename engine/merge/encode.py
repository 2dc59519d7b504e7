"""Writing renders: H.264/H.265 video through PyAV in resumable parts, the final remux
with the clip's audio, and PNG files with the provenance mark.

**Resumable video.** A render is encoded in *parts* of ``segment_frames`` frames, each a
separate MP4 from a fresh encoder (so each starts on a keyframe), written under a temp
name and renamed when complete. A paused or killed render keeps its finished parts and
redoes only the part it was in. At the end the parts' packets are remuxed, not
re-encoded, into the output container one after the other, with the clip's audio
packets copied over, and the parts are deleted. Parts share the encoder settings, so
their parameter sets (the stream's extradata) are identical and one header serves all;
this is checked, and a part that differs is refused rather than muxed wrongly.

**Exact frame rate.** Every packet is put on a ``1/fps`` time grid (frame *n* of the
render at ``n / fps`` seconds), so the output's rate is the clip's exactly (also
30000/1001) and its duration is frames / fps. (Matroska counts time in milliseconds, so
an NTSC rate there is exact only to the millisecond grid: a container limit.)

**Audio** packets of the clip's first audio stream that fall in the rendered range are
copied without re-encoding, shifted so they keep their offset to the first rendered
frame, and interleaved with the video by time. A codec the MP4 container cannot carry
(PCM, for one) is re-encoded to AAC; Matroska carries anything. Copying whole packets trims the range to packet precision
(about 20-30 ms); an exact trim would need a re-encode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, Literal

import av
import cv2
import numpy as np
import numpy.typing as npt

from engine.errors import MediaError
from engine.media import frame_index

VideoCodec = Literal["h264", "h265"]
ENCODERS: Final = {"h264": "libx264", "h265": "libx265"}
#: Audio codecs the MP4 muxer takes as they are.
MP4_AUDIO: Final = frozenset({"aac", "mp3", "mp2", "mp1", "ac3", "eac3", "opus", "flac", "alac"})
PRESETS: Final = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
PART_SUFFIX: Final = ".mp4"


def check_encoder(codec: VideoCodec) -> str:
    """The FFmpeg encoder for ``codec``, or a clear error when this PyAV build lacks it."""
    name = ENCODERS[codec]
    if name not in av.codecs_available:
        other = [c for c, e in ENCODERS.items() if e in av.codecs_available and c != codec]
        hint = f"; use --codec {other[0]}" if other else ""
        raise MediaError(Path(name), f"encoder {name} is not in this PyAV build (FFmpeg without it){hint}")
    return name


@dataclass(frozen=True)
class VideoSpec:
    """How the video stream is encoded."""

    codec: VideoCodec
    crf: int
    preset: str
    fps: Fraction
    width: int
    height: int

    @property
    def pix_fmt(self) -> str:
        # 4:2:0 needs even sizes; odd ones keep full chroma rather than lose a pixel row.
        return "yuv420p" if self.width % 2 == 0 and self.height % 2 == 0 else "yuv444p"


def _open_stream(container: Any, spec: VideoSpec) -> Any:
    name = check_encoder(spec.codec)
    options = {"crf": str(spec.crf), "preset": spec.preset}
    if spec.codec == "h265":
        options["x265-params"] = "log-level=error"
    stream = container.add_stream(name, rate=spec.fps, options=options)
    stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, spec.pix_fmt
    stream.codec_context.time_base = Fraction(1) / spec.fps
    if spec.codec == "h265":
        stream.codec_tag = "hvc1"  # what Apple players require in MP4
    return stream


class PartWriter:
    """Encodes frames ``start..stop-1`` of a render into one part file (see module docs)."""

    def __init__(self, path: Path, spec: VideoSpec, start: int, stop: int) -> None:
        self.path, self.spec, self.start, self.stop = path, spec, start, stop
        self._tmp = path.with_name(path.name + ".tmp")
        self._container = av.open(str(self._tmp), "w", format="mp4")
        self._stream = _open_stream(self._container, spec)
        self.next = start

    def write(self, frame_no: int, image: npt.NDArray[np.uint8]) -> None:
        if frame_no != self.next:
            raise ValueError(f"part {self.path.name}: frame {frame_no} came, {self.next} expected")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        vf.pts = frame_no - self.start
        vf.time_base = self._stream.codec_context.time_base
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.next += 1

    @property
    def complete(self) -> bool:
        return self.next >= self.stop

    def close(self) -> None:
        """Flush and, when all frames came, publish the part under its final name."""
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
        if self.complete:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        try:
            self._container.close()
        finally:
            self._tmp.unlink(missing_ok=True)


def part_path(folder: Path, start: int, stop: int) -> Path:
    return folder / f"part_{start:08d}_{stop:08d}{PART_SUFFIX}"


def part_ranges(start: int, stop: int, segment: int) -> list[tuple[int, int]]:
    return [(a, min(a + segment, stop)) for a in range(start, stop, segment)]


def _frame_times(path: Path, index_cache_dir: Path | None) -> tuple[npt.NDArray[np.float64], float]:
    """Source frame times in seconds and one frame's duration (for the audio window)."""
    idx = frame_index(path, cache_dir=index_cache_dir)
    times = idx.pts.astype(np.float64) * float(idx.time_base)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.04
    return times, step


def mux(
    parts: list[tuple[int, Path]],
    out: Path,
    *,
    container_format: Literal["mp4", "matroska"],
    spec: VideoSpec,
    metadata: Mapping[str, str],
    audio_from: Path | None = None,
    frames: tuple[int, int] = (0, 0),
    index_cache_dir: Path | None = None,
) -> None:
    """Remux ``parts`` ((first frame, file), in order) plus the source's audio into ``out``
    (atomically); ``frames`` is the rendered range, its start at time 0 of the output."""
    tmp = out.with_name(out.name + ".tmp")
    options = {"movflags": "use_metadata_tags+faststart"} if container_format == "mp4" else {}
    inputs = [av.open(str(p)) for _, p in parts]
    try:
        with av.open(str(tmp), "w", format=container_format, options=options) as output:
            for key, value in metadata.items():
                output.metadata[key] = value
            first = inputs[0].streams.video[0]
            extradata = bytes(first.codec_context.extradata or b"")
            vout = output.add_stream_from_template(first)
            vout.time_base = Fraction(1) / spec.fps
            audio = _AudioCopy(output, audio_from, container_format, frames, index_cache_dir) if audio_from else None
            try:
                _mux_video(output, vout, parts, inputs, spec, frames, extradata, audio)
                if audio is not None:
                    audio.mux_until(float("inf"))
            finally:
                if audio is not None:
                    audio.close()
    finally:
        for inp in inputs:
            inp.close()
    os.replace(tmp, out)


def _mux_video(output: Any, vout: Any, parts: list[tuple[int, Path]], inputs: list[Any], spec: VideoSpec,
               frames: tuple[int, int], extradata: bytes, audio: _AudioCopy | None) -> None:
    """The parts' packets on the output's ``1/fps`` grid, audio interleaved by time."""
    grid = Fraction(1) / spec.fps
    for (part_start, part_file), inp in zip(parts, inputs, strict=True):
        vin = inp.streams.video[0]
        if bytes(vin.codec_context.extradata or b"") != extradata:
            raise MediaError(part_file, "encoded with other settings than the first part; re-render it")
        t0 = vin.start_time or 0
        offset = part_start - frames[0]
        for packet in inp.demux(vin):
            if packet.size == 0:
                continue
            pts = None if packet.pts is None else round((packet.pts - t0) * vin.time_base / grid)
            dts = None if packet.dts is None else round((packet.dts - t0) * vin.time_base / grid)
            packet.stream = vout
            packet.time_base = grid
            packet.pts = None if pts is None else pts + offset
            packet.dts = None if dts is None else dts + offset
            packet.duration = 1
            if audio is not None and packet.dts is not None:
                audio.mux_until(float((packet.dts + 1) * grid))
            output.mux(packet)


class _AudioCopy:
    """The source's first audio stream over the rendered range, copied (or made AAC),
    handed to the muxer interleaved with the video (:meth:`mux_until`), so the output is
    interleaved and the muxer never holds a whole render's video waiting for sound."""

    def __init__(self, output: Any, source: Path, container_format: str, frames: tuple[int, int],
                 index_cache_dir: Path | None) -> None:
        self.input = av.open(str(source))
        self.output = output
        self.stream_in = self.input.streams.audio[0] if self.input.streams.audio else None
        self.stream_out: Any = None
        self.transcode = False
        self._pending: Any = None
        if self.stream_in is None:
            self._items: Iterator[tuple[float, Any]] = iter(())
            return
        times, step = _frame_times(source, index_cache_dir)
        start, stop = frames
        self.t0 = float(times[start]) if start < len(times) else 0.0
        self.t1 = float(times[stop]) if stop < len(times) else float(times[-1]) + step
        ctx = self.stream_in.codec_context
        self.transcode = container_format == "mp4" and ctx.name not in MP4_AUDIO
        if self.transcode:
            self.stream_out = output.add_stream("aac", rate=ctx.sample_rate)
            # A named layout for the channel count (others are downmixed to stereo): PCM
            # often has an unordered one ("2 channels"), which the AAC encoder refuses.
            self.stream_out.layout = {1: "mono", 6: "5.1", 8: "7.1"}.get(int(ctx.channels or 2), "stereo")
            self.stream_out.format = "fltp"  # what FFmpeg's AAC encoder takes; frames are resampled
            self._items = self._encoded()
        else:
            self.stream_out = output.add_stream_from_template(self.stream_in)
            self._items = self._copied()

    def _copied(self) -> Iterator[tuple[float, Any]]:
        assert self.stream_in is not None
        tb = self.stream_in.time_base
        shift = round(self.t0 / float(tb))
        for packet in self.input.demux(self.stream_in):
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None or packet.size == 0:
                continue
            t = float(ts * tb)
            if not self.t0 <= t < self.t1:
                continue
            packet.stream = self.stream_out
            packet.time_base = tb
            packet.pts = None if packet.pts is None else packet.pts - shift
            packet.dts = None if packet.dts is None else packet.dts - shift
            yield t - self.t0, packet

    def _encoded(self) -> Iterator[tuple[float, Any]]:
        assert self.stream_in is not None
        for frame in self.input.decode(self.stream_in):
            when = frame.time
            if when is None or not self.t0 <= when < self.t1:
                continue
            frame.pts = None  # the encoder numbers its own samples from 0
            for packet in self.stream_out.encode(frame):
                yield when - self.t0, packet
        for packet in self.stream_out.encode():
            yield float("inf"), packet

    def mux_until(self, t: float) -> None:
        """Mux the audio up to output time ``t`` seconds (``inf``: all of it)."""
        while True:
            if self._pending is None:
                self._pending = next(self._items, None)
                if self._pending is None:
                    return
            when, packet = self._pending
            if when > t:
                return
            self.output.mux(packet)
            self._pending = None

    def close(self) -> None:
        self.input.close()


# ---------------------------------------------------------------------- PNG
def encode_png(image: npt.NDArray[Any], text_chunks: bytes = b"", *, compression: int = 3) -> bytes:
    """An RGB(A) image (uint8 or uint16) as PNG bytes with ``text_chunks`` added."""
    from engine.merge.provenance import add_png_text

    if image.ndim == 3 and image.shape[2] == 4:
        bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2BGRA)
    else:
        bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise ValueError("could not encode a PNG image")
    return add_png_text(data.tobytes(), text_chunks) if text_chunks else data.tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and a rename (never half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
