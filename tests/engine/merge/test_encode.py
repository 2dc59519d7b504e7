"""Video parts remuxed into one file: exact frame rates (NTSC too), audio copied or made
AAC where MP4 cannot carry it, interleaved; parts of another encoding refused; PNG text."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import probe
from engine.merge import provenance
from engine.merge.encode import PartWriter, VideoSpec, encode_png, mux, part_path, part_ranges

NTSC = Fraction(30000, 1001)


def _source(path: Path, fps: Fraction, frames: int, audio_s: float) -> None:
    """A small clip with PCM audio (which MP4 cannot carry)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        aus = out.add_stream("pcm_s16le", rate=48000)
        aus.layout = "stereo"
        for n in range(frames):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), n * 3, np.uint8), format="rgb24")
            f.pts, f.time_base = n, 1 / fps
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        tone = (np.sin(np.arange(int(48000 * audio_s)) / 8) * 8000).astype(np.int16)
        for start in range(0, len(tone), 960):  # 20 ms packets, as recorders write them
            chunk = tone[start:start + 960]
            fr = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]).T.reshape(1, -1).copy(), format="s16",
                                            layout="stereo")
            fr.sample_rate, fr.pts = 48000, start
            for p in aus.encode(fr):
                out.mux(p)
        for p in aus.encode():
            out.mux(p)


def _parts(folder: Path, spec: VideoSpec, frames: tuple[int, int], segment: int) -> list[tuple[int, Path]]:
    out = []
    for a, b in part_ranges(*frames, segment):
        w = PartWriter(part_path(folder, a, b), spec, a, b)
        for n in range(a, b):
            w.write(n, np.full((spec.height, spec.width, 3), (n * 7) % 256, np.uint8))
        w.close()
        out.append((a, part_path(folder, a, b)))
    return out


def test_parts_remux_to_an_exact_ntsc_rate_with_the_range_audio(tmp_path: Path) -> None:
    src = tmp_path / "src.mkv"
    _source(src, NTSC, 60, 2.0)
    spec = VideoSpec("h264", 30, "ultrafast", NTSC, 64, 48)
    parts = _parts(tmp_path, spec, (12, 42), 8)
    assert [a for a, _ in parts] == [12, 20, 28, 36]
    for fmt, ext, codec in (("mp4", "mp4", "aac"), ("matroska", "mkv", "pcm_s16le")):
        out = tmp_path / f"out.{ext}"
        mux(parts, out, container_format=fmt, spec=spec, metadata=provenance.video_metadata({"model": {}}),
            audio_from=src, frames=(12, 42))
        info = probe(out)
        assert info.frame_count == 30 and info.audio[0].codec == codec
        assert info.fps == NTSC if fmt == "mp4" else abs(float(info.fps) - float(NTSC)) < 1e-3  # MKV keeps ms
        assert info.duration_s == pytest.approx(30 / float(NTSC), abs=2e-3)
        with av.open(str(out)) as c:
            samples = sum(f.samples for f in c.decode(audio=0))
            assert {k.lower(): v for k, v in c.metadata.items()}["comment"].startswith("Made with Facesmith")
        assert samples / 48000 == pytest.approx(30 / float(NTSC), abs=0.05)
        with av.open(str(out)) as c:  # interleaved: sound arrives along with the pictures
            kinds = [p.stream.type for p in c.demux() if p.size][:20]
        assert "audio" in kinds and "video" in kinds
        decoded = [f.to_ndarray(format="rgb24") for f in av.open(str(out)).decode(video=0)]
        means = [float(d.mean()) for d in decoded[::7]]  # the right frames, in order
        assert np.abs(np.array(means) - [(n * 7) % 256 for n in range(12, 42, 7)]).max() < 2.5


def test_a_part_of_another_encoding_is_refused(tmp_path: Path) -> None:
    spec = VideoSpec("h264", 30, "ultrafast", Fraction(25), 64, 48)
    parts = _parts(tmp_path, spec, (0, 10), 10)
    other = VideoSpec("h264", 30, "ultrafast", Fraction(25), 96, 48)
    (tmp_path / "x").mkdir()
    parts += _parts(tmp_path / "x", other, (10, 20), 10)
    with pytest.raises(MediaError, match="other settings"):
        mux(parts, tmp_path / "bad.mp4", container_format="mp4", spec=spec, metadata={}, frames=(0, 20))
    assert not (tmp_path / "bad.mp4").exists()


def test_png_text_chunks_read_back() -> None:
    record = provenance.provenance(model={"id": 3, "arch": "df-ud", "resolution": 64, "iteration": 9}, clip="c")
    data = encode_png(np.zeros((4, 4, 4), np.uint16), provenance.png_chunks(record))
    text = provenance.png_text(data)
    assert text["Software"].startswith("Facesmith") and "face-swap model 3" in text["Comment"]
    import cv2

    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).dtype == np.uint16  # still a valid PNG
