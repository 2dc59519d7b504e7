"""The ``render`` job with the session's tiny trained model on a GRID dst clip: the video
keeps the clip's frame count, rate, duration and audio; what is outside the merge mask is
the source frame; RGBA patches re-composite to the merged frame; every file carries the
provenance mark; renders resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from engine.media import probe
from engine.merge import provenance
from engine.merge.encode import PartWriter, VideoSpec
from engine.merge.patches import composite_patch
from engine.merge.settings import MergeSettings
from engine.project.store import ProjectStore

SETTINGS = MergeSettings(mask=("hull",), erode=1.0, blur=6.0, color="rct", smooth_alignment=0.5, smooth_mask=1)


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def test_whole_clip_mp4_keeps_frames_rate_duration_audio_and_the_outside(
        merge_project: Path, render: Any, engine: Any, tmp_path: Path) -> None:
    out = tmp_path / "whole.mp4"
    job = render(out=str(out), settings=SETTINGS.to_json())
    with ProjectStore.open(merge_project, readonly=True) as store:
        clip = store.find_clip("lbax4n")
        row = next(r for r in store.renders() if r.job_id == job.id)
    src, got = probe(clip.path), probe(out)
    assert (got.frame_count, got.fps, got.duration_s) == (src.frame_count, src.fps, src.duration_s) == (75, 25, 3.0)
    assert (got.width, got.height, got.codec) == (360, 288, "h264")
    assert audio_packets(out) == audio_packets(clip.path)  # copied, not re-encoded
    # Provenance in the container, for people and for programs.
    record = provenance.read_video(out)
    assert record is not None and record["synthetic"] is True and record["model"]["iteration"] == 200
    with av.open(str(out)) as c:
        assert "Facesmith" in c.metadata["comment"] and "face-swap" in c.metadata["comment"]
    assert (row.format, row.frame_start, row.frame_end, row.path) == ("mp4", 0, 75, str(out))
    assert MergeSettings.from_json(row.settings) == SETTINGS
    # Outside the merge mask (plus a 2 px band for chroma subsampling and the codec's
    # blocks) the frames are the source's within codec tolerance: as close as the source
    # frames themselves come back from the same encoder at the same settings.
    merged, source = decode_all(out), decode_all(clip.path)
    assert len(merged) == len(source) == 75
    plain = tmp_path / "plain.mp4"
    writer = PartWriter(plain, VideoSpec("h264", 18, "medium", src.fps, 360, 288), 0, 75)
    for n, image in enumerate(source):
        writer.write(n, image)
    writer.close()
    baseline = decode_all(plain)
    ours, codec, changed = [], [], []
    for n in range(0, 75, 3):
        alpha = engine.merge_frame("lbax4n", n, SETTINGS).alpha
        outside = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
        d = np.abs(merged[n].astype(int) - source[n].astype(int))
        ours.append(d[outside])
        codec.append(np.abs(baseline[n].astype(int) - source[n].astype(int))[outside])
        changed.append(d[alpha > 0.9].mean())
    d, c = np.concatenate(ours), np.concatenate(codec)
    assert d.mean() < c.mean() + 0.25 and np.percentile(d, 99) <= np.percentile(c, 99) + 1, (d.mean(), c.mean())
    assert np.mean(changed) > 3 * d.mean()  # while the face itself did change


def test_png_range_equals_the_preview_and_the_source_outside_the_mask(
        merge_project: Path, render: Any, engine: Any, tmp_path: Path) -> None:
    folder = tmp_path / "png"
    render(out=str(folder), format="png", start=20, stop=45, settings=SETTINGS.to_json())
    files = sorted(folder.glob("*.png"))
    assert [f.name for f in files] == [f"frame_{n:06d}.png" for n in range(20, 45)]
    with ProjectStore.open(merge_project, readonly=True) as store:
        clip = store.find_clip("lbax4n")
    source = decode_all(clip.path)
    for n in (20, 21, 33, 44):
        image = cv2.cvtColor(cv2.imread(str(folder / f"frame_{n:06d}.png")), cv2.COLOR_BGR2RGB)
        pv = engine.merge_frame("lbax4n", n, SETTINGS)
        # The preview is the render (the model's batches of 8 and of 3 round a few pixels
        # differently in the last bit).
        d = np.abs(image.astype(int) - pv.image.astype(int))
        assert d.max() <= 1 and (d > 0).mean() < 1e-3
        outside = pv.alpha == 0
        assert np.array_equal(image[outside], source[n][outside])  # lossless: exactly the source
    record = provenance.read_png(files[0])
    assert record is not None and record["frames"] == [20, 45] and record["source_clip"] == "lbax4n"
    assert provenance.png_text(files[0].read_bytes())["Software"].startswith("Facesmith")


def test_rgba_patches_recomposite_to_the_merged_frame(merge_project: Path, render: Any, engine: Any,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "rgba"
    settings = SETTINGS.replace(face_scale=4.0, opacity=0.9)
    render(out=str(folder), format="rgba", start=10, stop=20, settings=settings.to_json())
    sidecar = json.loads((folder / "sidecar.json").read_text())
    assert sidecar["frame_range"] == [10, 20] and sidecar["provenance"]["synthetic"] is True
    assert [e["frame"] for e in sidecar["frames"]] == list(range(10, 20))
    with ProjectStore.open(merge_project, readonly=True) as store:
        clip = store.find_clip("lbax4n")
    source = decode_all(clip.path)
    for entry in sidecar["frames"][::3]:
        n = entry["frame"]
        pv = engine.merge_frame("lbax4n", n, settings)
        out = source[n]
        for face in entry["faces"]:
            data = cv2.imread(str(folder / face["file"]), cv2.IMREAD_UNCHANGED)
            assert data.dtype == np.uint16 and data.shape == (face["size"], face["size"], 4)
            rgba = cv2.cvtColor(data, cv2.COLOR_BGRA2RGBA)
            out = composite_patch(out, rgba, face["patch_to_frame"])
        d = np.abs(out.astype(int) - pv.image.astype(int))
        assert d.mean() < 0.3 and np.percentile(d, 99.9) <= 6, (d.mean(), np.percentile(d, 99.9), d.max())
    assert provenance.read_png(folder / sidecar["frames"][0]["faces"][0]["file"]) is not None


@pytest.mark.parametrize("fmt", ["png", "mp4"])
def test_an_interrupted_render_resumes_where_it_stopped(merge_project: Path, tmp_path: Path, fmt: str) -> None:
    from engine.jobs.queue import JobQueue
    from engine.jobs.worker import Worker

    out = tmp_path / ("out.mp4" if fmt == "mp4" else "frames")
    params = {"clip": "lbax4n", "device": "cpu", "format": fmt, "out": str(out), "start": 5, "stop": 35,
              "batch_size": 4, "segment_frames": 10, "settings": MergeSettings(mask=("hull",)).to_json(),
              "precision": "fp32"}
    with ProjectStore.open(merge_project) as store:
        job = JobQueue(store).enqueue("render", params)
    worker: Worker

    def stop_midway(fraction: float, text: str) -> None:
        if fraction >= 0.5:
            worker.shutdown.set()

    worker = Worker(merge_project, only_job=job.id, log_to_stderr=False, on_progress=stop_midway)
    worker.run()
    assert worker.last_job is not None and worker.last_job.state == "queued"  # back in the queue
    if fmt == "png":
        done_first = len(list(out.glob("*.png")))
        assert 10 <= done_first < 30
    else:
        parts = sorted((merge_project / "renders" / ".parts" / f"job{job.id}").glob("part_*.mp4"))
        assert 1 <= len(parts) < 3 and not out.exists()
    again = Worker(merge_project, only_job=job.id, log_to_stderr=False)
    again.run()
    done = again.last_job
    assert done is not None and done.state == "done", done.error_text
    assert 0 < done.result["data"]["rendered"] < 30  # only what was missing
    if fmt == "png":
        assert len(list(out.glob("*.png"))) == 30
    else:
        info = probe(out)
        assert (info.frame_count, info.fps, info.duration_s) == (30, 25, 1.2)
        assert not (merge_project / "renders" / ".parts" / f"job{job.id}").exists()


def test_h265_in_matroska_with_the_audio_of_the_range(merge_project: Path, render: Any, tmp_path: Path) -> None:
    out = tmp_path / "range.mkv"
    render(out=str(out), format="mkv", codec="h265", crf=28, preset="ultrafast", start=30, stop=40,
           settings=MergeSettings(mask=("learned_dst",), color="idt").to_json())
    info = probe(out)
    assert (info.codec, info.frame_count, info.fps, info.duration_s) == ("hevc", 10, 25, 0.4)
    assert info.container.startswith("matroska")
    assert provenance.read_video(out)["frames"] == [30, 40]  # type: ignore[index]
    with av.open(str(out)) as c:
        packets = [p for p in c.demux(c.streams.audio[0]) if p.size]
        start = float(packets[0].pts * packets[0].time_base)
        end = float((packets[-1].pts + packets[-1].duration) * packets[-1].time_base)
    assert abs(start) < 0.03 and abs(end - 0.4) < 0.03  # the range's sound, to packet precision


def test_a_new_render_into_a_used_folder_does_not_take_its_frames(render: Any, tmp_path: Path) -> None:
    folder = tmp_path / "reused"
    render(out=str(folder), format="png", start=0, stop=4, settings=MergeSettings(color="none").to_json())
    job = render(out=str(folder), format="png", start=2, stop=5, settings=MergeSettings(color="lct").to_json())
    assert job.result["data"]["rendered"] == 3  # nothing skipped: those files were another job's
    assert sorted(f.name for f in folder.glob("*.png")) == [f"frame_{n:06d}.png" for n in range(2, 5)]


def test_a_render_killed_with_its_engine_continues_in_another_process(merge_project: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from helpers import ROOT

    from engine.jobs.queue import JobQueue
    from engine.jobs.worker import Worker

    out = tmp_path / "killed.mp4"
    with ProjectStore.open(merge_project) as store:
        job = JobQueue(store).enqueue("render", {
            "clip": "lbax4n", "device": "cpu", "out": str(out), "segment_frames": 10, "threads": 1,
            "settings": MergeSettings(mask=("hull",), color="sot").to_json()})  # sot: slow enough to catch
    parts = merge_project / "renders" / ".parts" / f"job{job.id}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "worker", "--project", str(merge_project),
                             "--exit-when-idle"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while not list(parts.glob("part_*.mp4")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = len(list(parts.glob("part_*.mp4")))
    assert 1 <= kept < 8 and not out.exists()
    worker = Worker(merge_project, only_job=job.id, log_to_stderr=False)  # finds the dead engine's job
    worker.run()
    done = worker.last_job
    assert done is not None and done.state == "done", done and done.error_text
    assert done.result["data"]["rendered"] <= 75 - 10 * kept
    info = probe(out)
    assert (info.frame_count, info.fps, info.duration_s) == (75, 25, 3.0)
