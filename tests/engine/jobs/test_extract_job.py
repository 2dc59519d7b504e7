"""The ``extract`` job through the real worker: resume, bad input, options, reference, CLI.

The full four-clip extraction runs once per session (``extracted_project``); the tests
here use short ranges or small clips, and ``processes=0`` (analysis in the job's own
process) where the worker processes are not what is being tested.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import cv2
import numpy as np
import pytest
from helpers import ROOT, run_cli

from engine.errors import JobError
from engine.jobs.queue import JobQueue
from engine.jobs.worker import Worker
from engine.project.clips import add_clips
from engine.project.models import Job
from engine.project.store import ProjectStore

if TYPE_CHECKING:
    from conftest import ExtractedProject


def _project(tmp_path: Path, files: dict[str, Path]) -> Path:
    """A new project whose clips are ``files`` (role -> file), all copied to tmp first."""
    with ProjectStore.create(tmp_path / "P") as store:
        for n, (role, path) in enumerate(files.items()):
            copy = tmp_path / "media" / f"{n}_{path.name}"
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, copy)
            add_clips(store, [copy], role)
        return store.root


def _run(root: Path, params: dict[str, Any]) -> Job:
    with ProjectStore.open(root) as store:
        job = JobQueue(store).enqueue("extract", params)
    worker = Worker(root, only_job=job.id, log_to_stderr=False)
    worker.run()
    assert worker.last_job is not None
    return worker.last_job


def _faces(root: Path, sql: str = "SELECT clip_id, frame, idx, track_id, person_id FROM faces ORDER BY id") -> list[tuple]:
    with ProjectStore.open(root) as store:
        return [tuple(r) for r in store.query(sql)]


@pytest.mark.parametrize("params, message", [
    ({"size": 63}, "size must be 64-1024"),
    ({"size": 2048}, "size must be 64-1024"),
    ({"every_nth": 0}, "every_nth must be >= 1"),
    ({"start": 30, "stop": 10}, "range 30:10 is empty"),
    ({"smooth": 1.5}, "smooth must be within 0-1"),
    ({"clips": ["a"], "role": "src"}, "clips or role, not both"),
    ({"face_type": "wide"}, "must be one of"),
    ({"reference_face": 1, "reference_image": "x.png"}, "not both"),
])
def test_bad_parameters_are_refused_when_queued(project: ProjectStore, params: dict, message: str) -> None:
    with pytest.raises(JobError, match=message):
        JobQueue(project).enqueue("extract", params)


def test_a_range_then_the_rest_resumes_without_duplicates(tmp_path: Path, sample_clips: dict[str, Path]) -> None:
    root = _project(tmp_path, {"src": sample_clips["bbaf2n"]})
    first = _run(root, {"start": 0, "stop": 30, "processes": 0})
    assert first.state == "done", first.error_text
    assert first.result["message"].startswith("30 faces on 30 frames of 1 clip (1 new person;")
    second = _run(root, {"processes": 0})
    assert second.state == "done", second.error_text
    assert second.result["message"].startswith("45 faces on 45 frames of 1 clip (30 frames already extracted, skipped")
    assert second.result["data"]["frames_already_done"] == 30
    rows = _faces(root)
    assert [r[1] for r in rows] == list(range(75))  # every frame once, in order
    assert {r[3] for r in rows} == {0}  # the new faces continue the first run's track
    assert len({r[4] for r in rows}) == 1  # ... and its person, matched rather than duplicated
    with ProjectStore.open(root) as store:
        assert len(store.persons()) == 1
        assert store.scalar("SELECT count(*) FROM scanned_frames") == 75
        assert len(list((store.root / "faces").rglob("*.jpg"))) == 75
    third = _run(root, {"processes": 0})
    assert third.result["message"].startswith("0 faces on 0 frames of 1 clip (75 frames already extracted")
    assert len(_faces(root)) == 75


def test_pause_mid_scan_then_resume_continues(tmp_path: Path, sample_clips: dict[str, Path]) -> None:
    root = _project(tmp_path, {"dst": sample_clips["sbwe5n"]})
    with ProjectStore.open(root) as store:
        queue = JobQueue(store)
        job = queue.enqueue("extract", {"processes": 1})
        worker = Worker(root, only_job=job.id, log_to_stderr=False)
        thread = threading.Thread(target=worker.run)
        thread.start()
        deadline = time.monotonic() + 30
        while queue.job(job.id).state == "queued" and time.monotonic() < deadline:
            time.sleep(0.01)
        queue.pause(job.id)
        thread.join(60)
        paused = queue.job(job.id)
        assert paused.state == "paused" and paused.checkpoint["phase"] == "scan"
        stored = store.scalar("SELECT count(*) FROM scanned_frames")
        assert 0 < stored <= 75 and store.scalar("SELECT count(*) FROM faces") == stored
        queue.resume(job.id)
    Worker(root, only_job=job.id, log_to_stderr=False).run()
    with ProjectStore.open(root) as store:
        done = JobQueue(store).job(job.id)
    assert done.state == "done", done.error_text
    assert done.result["data"]["frames_already_done"] == stored
    assert done.result["data"]["frames"] == 75 - stored
    assert [r[1] for r in _faces(root)] == list(range(75))


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (jobs run on their own threads, and a process
    is listed under the thread that started it)."""
    tasks = Path(f"/proc/{pid}/task")
    if not (tasks / str(pid) / "children").exists():
        pytest.skip("needs Linux /proc")
    out: list[int] = []
    for task in tasks.iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return out


def test_a_killed_engine_leaves_whole_frames_and_the_rerun_completes(
    tmp_path: Path, sample_clips: dict[str, Path]
) -> None:
    root = _project(tmp_path, {"dst": sample_clips["lbax4n"]})
    with ProjectStore.open(root) as store:
        JobQueue(store).enqueue("extract", {"processes": 1})
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "engine", "worker", str(root), "--exit-when-idle"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    db = sqlite3.connect(root / "project.db", timeout=10)
    deadline = time.monotonic() + 60
    while db.execute("SELECT count(*) FROM scanned_frames").fetchone()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    children = _children(proc.pid)
    assert children  # the analysis worker (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGKILL)  # in the middle of the scan, between or during batches
    proc.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "workers outlived the engine"
    stored = dict(db.execute("SELECT frame, face_count FROM scanned_frames").fetchall())
    faces = db.execute("SELECT frame, crop_path FROM faces").fetchall()
    db.close()
    assert 0 < len(stored) < 75
    assert sorted(f for f, _ in faces) == sorted(f for f, n in stored.items() for _ in range(n))
    assert all((root / path).is_file() for _, path in faces)
    assert subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    with ProjectStore.open(root) as store:
        job = JobQueue(store).jobs()[0]
        assert job.state == "done", job.error_text
        assert job.result["data"]["frames_already_done"] == len(stored)
    assert [r[1] for r in _faces(root)] == list(range(75))


def _plain_clip(path: Path, frames: int = 30) -> Path:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for n in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), (40, 120, 200), np.uint8), format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_a_clip_without_faces_finishes_with_zero_faces(tmp_path: Path) -> None:
    root = _project(tmp_path, {"dst": _plain_clip(tmp_path / "blue.mp4")})
    job = _run(root, {"processes": 0})
    assert job.state == "done", job.error_text
    assert job.result["message"].startswith("0 faces on 30 frames of 1 clip (no faces found")
    assert job.result["data"]["faces"] == 0 and _faces(root) == []
    with ProjectStore.open(root) as store:
        assert store.persons() == [] and store.scalar("SELECT count(*) FROM scanned_frames") == 30


def test_a_missing_clip_fails_naming_it_and_the_relink_fix(tmp_path: Path, sample_clips: dict[str, Path]) -> None:
    root = _project(tmp_path, {"src": sample_clips["bbaf2n"], "dst": sample_clips["lbax4n"]})
    with ProjectStore.open(root) as store:
        gone = store.clips("dst")[0]
    gone.path.unlink()
    job = _run(root, {"processes": 0})
    assert job.state == "failed"
    assert f"clip '{gone.name}'" in job.status_text and "relink" in job.status_text
    assert "relink" in job.error_text
    assert _faces(root) == []  # nothing was written, not even for the clip that is there
    with ProjectStore.open(root) as store:
        assert store.scalar("SELECT count(*) FROM scanned_frames") == 0


def test_a_backend_without_its_weights_is_refused_before_any_work(tmp_path: Path,
                                                                  sample_clips: dict[str, Path]) -> None:
    root = _project(tmp_path, {"src": sample_clips["bbaf2n"]})
    with pytest.raises(JobError, match="face backend 'fan' is unavailable") as info:
        _run(root, {"backend": "fan"})  # tests run with an empty TORCH_HOME: refused when queued
    assert "2DFAN4" in str(info.value) and _faces(root) == []
    with ProjectStore.open(root) as store:
        assert store.scalar("SELECT count(*) FROM jobs") == 0


def test_corrupt_frames_are_skipped_and_counted(tmp_path: Path, sample_clips: dict[str, Path]) -> None:
    damaged = tmp_path / "damaged.mpg"
    data = bytearray(sample_clips["bbaf2n"].read_bytes())
    for fraction, fill in ((0.4, 0x00), (0.6, 0xAB)):
        offset = int(len(data) * fraction)
        data[offset:offset + 3000] = bytes([fill]) * 3000
    damaged.write_bytes(bytes(data))
    root = _project(tmp_path, {"src": damaged})
    job = _run(root, {"processes": 0})
    assert job.state == "done", job.error_text
    data_out = job.result["data"]
    skipped = data_out["clips"]["0_damaged"]["corrupt_frames"]
    assert data_out["corrupt_frames"] == len(skipped) >= 1
    assert f"{len(skipped)} corrupt frame{'s' if len(skipped) > 1 else ''} skipped" in job.result["message"]
    frames = [r[1] for r in _faces(root)]
    assert len(frames) == data_out["faces"] >= 60 and not set(skipped) & set(frames)
    with ProjectStore.open(root) as store:
        scanned = {r[0] for r in store.query("SELECT frame FROM scanned_frames")}
    assert not scanned & set(skipped)  # a corrupt frame is tried again by the next run


def test_every_nth_frame_links_one_track_across_the_gaps(tmp_path: Path, sample_clips: dict[str, Path]) -> None:
    root = _project(tmp_path, {"dst": sample_clips["lbax4n"]})
    job = _run(root, {"every_nth": 5, "processes": 0, "embed_sample": 2})
    assert job.state == "done", job.error_text
    rows = _faces(root, "SELECT frame, track_id, embedding IS NOT NULL FROM faces ORDER BY frame")
    assert [r[0] for r in rows] == list(range(0, 75, 5))
    assert {r[1] for r in rows} == {0} and sum(r[2] for r in rows) == 2


def test_smoothing_steadies_landmarks_and_rederives_crops(
    tmp_path: Path, sample_clips: dict[str, Path], extracted_project: ExtractedProject
) -> None:
    root = _project(tmp_path, {"src": sample_clips["bbaf2n"]})
    job = _run(root, {"stop": 30, "smooth": 0.5, "processes": 0})
    assert job.state == "done", job.error_text
    assert job.result["data"]["smoothed"] > 20
    with ProjectStore.open(root) as store:
        smooth = store.faces()
    with ProjectStore.open(extracted_project.root, readonly=True) as store:
        raw = store.faces(clip_id=extracted_project.clips["bbaf2n"], frames=(0, 30))

    def jitter(faces: list) -> float:
        pts = np.stack([f.landmarks for f in faces]).astype(np.float64)
        return float(np.abs(np.diff(pts, n=2, axis=0)).mean())

    assert jitter(smooth) < 0.7 * jitter(raw)
    from engine.faces.align import alignment_matrix

    f = smooth[10]
    assert np.allclose(f.alignment, alignment_matrix(f.landmarks, "whole", 256))
    assert not np.allclose(f.landmarks, raw[10].landmarks)


def test_reference_face_keeps_only_its_person(extracted_copy: Path, extracted_project: ExtractedProject) -> None:
    with ProjectStore.open(extracted_copy) as store:
        keep = store.faces(clip_id=extracted_project.clips["lbax4n"])[20]
    job = _run(extracted_copy, {"role": "dst", "reference_face": keep.id})
    assert job.state == "done", job.error_text
    assert job.result["message"].startswith("0 faces on 0 frames of 2 clips (150 frames already extracted")
    assert "75 faces of other persons excluded" in job.result["message"]
    with ProjectStore.open(extracted_copy) as store:
        rows = store.query("SELECT clip_id, excluded, person_id FROM faces")
        wanted = [p for p in store.persons() if p.wanted]
        # dst faces of the other person are not swapped either; the kept person's are.
        swap = dict(store.query("SELECT clip_id, min(swap_excluded) FROM faces GROUP BY clip_id"))
    assert swap[extracted_project.clips["sbwe5n"]] == 1 and swap[extracted_project.clips["lbax4n"]] == 0
    assert len(rows) == 300  # nothing re-extracted, nothing deleted
    excluded = {(r[0], r[1]) for r in rows}
    assert (extracted_project.clips["sbwe5n"], 1) in excluded
    assert (extracted_project.clips["lbax4n"], 1) not in excluded
    assert all(r[1] == 0 for r in rows if r[0] not in (extracted_project.clips["sbwe5n"],))
    assert [p.id for p in wanted] == [keep.person_id]


def test_reference_image_keeps_the_person_in_it(
    extracted_copy: Path, extracted_project: ExtractedProject, tmp_path: Path, sample_clips: dict[str, Path]
) -> None:
    with av.open(str(sample_clips["sbwe5n"])) as container:
        frame = next(f for n, f in enumerate(container.decode(video=0)) if n == 40).to_ndarray(format="rgb24")
    image = tmp_path / "who.png"
    cv2.imwrite(str(image), frame[..., ::-1])
    job = _run(extracted_copy, {"clips": ["sbwe5n", "bbaf2n"], "reference_image": str(image), "processes": 0})
    assert job.state == "done", job.error_text
    with ProjectStore.open(extracted_copy) as store:
        kept = {r[0] for r in store.query("SELECT DISTINCT clip_id FROM faces WHERE excluded = 0")}
    assert kept == {extracted_project.clips["sbwe5n"], extracted_project.clips["lbax4n"],
                    extracted_project.clips["id2_vcd_swwp2s"]}
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((100, 100, 3), np.uint8))
    job = _run(extracted_copy, {"reference_image": str(blank), "processes": 0})
    assert job.state == "failed" and "no face found in the reference image" in job.status_text


def test_cli_extract_a_range(tmp_path: Path, sample_clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, {"src": sample_clips["id2_vcd_swwp2s"]})
    r = run_cli("extract", str(root), "--clip", "0_id2_vcd_swwp2s", "--range", "10:22", "--every", "2",
                "--size", "128", "--processes", "1")
    assert r.returncode == 0, r.stderr
    assert "done in" in r.stdout and "6 faces on 6 frames of 1 clip" in r.stdout
    with ProjectStore.open(root) as store:
        faces = store.faces()
    assert [f.frame for f in faces] == [10, 12, 14, 16, 18, 20] and {f.crop_size for f in faces} == {128}
    assert cv2.imread(str(root / faces[0].crop_path)).shape == (128, 128, 3)

    from engine.cli import main  # the same parser, in-process, for the quick cases

    assert main(["extract", str(root), "--role", "dst", "--every", "3", "--queue-only"]) == 0
    assert "queued job 2 (extract)" in capsys.readouterr().out
    with ProjectStore.open(root) as store:
        queued = JobQueue(store).job(2)
    assert queued.state == "queued" and queued.params["role"] == "dst" and queued.params["every_nth"] == 3
    assert main(["extract", str(root), "--range", "oops"]) == 1
    assert capsys.readouterr().err.startswith("facesmith: error: --range 'oops'")
    assert main(["extract", str(root), "--size", "2000", "--queue-only"]) == 1
    assert "size must be 64-1024" in capsys.readouterr().err
