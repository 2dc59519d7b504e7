"""Extraction while a training job runs (issue: lanes, Measured 1).

One real engine (``facesmith worker``, a subprocess) on one project:

1. the four bundled GRID clips are extracted alone: the solo extraction speed (frames/s);
2. a ``train_swap`` job (fast-64) starts; once it has trained ``SOLO_S`` seconds alone,
   its solo speed (iterations/s) is taken from its metric rows;
3. copies of the same four clips are added and extracted while the training runs: the
   extraction's speed beside training, and training's speed over the same window.

Both must finish (the training is then cancelled, after the extraction) and each must
keep >= 40 % of its solo speed on 2 cores. Ratios are from one run, so a machine loaded
by others weighs on both halves alike. Run: ``.venv/bin/python benchmarks/lanes_side_by_side.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, report

from engine.jobs.queue import JobQueue
from engine.project.clips import add_clips
from engine.project.store import ProjectStore

SAMPLES = ROOT / "resources" / "sample"
SRC = ("bbaf2n.mpg", "lbax4n.mpg")
DST = ("id2_vcd_swwp2s.mpg", "sbwe5n.mpg")
SOLO_S = float(os.environ.get("SOLO_S", "40"))


def mirrored(source: Path, target: Path) -> Path:
    """``source`` flipped left-right (H.264): the same work for extraction, another clip
    for the project (which refuses a second copy of the same content)."""
    import av

    with av.open(str(source)) as inp, av.open(str(target), mode="w") as out:
        src = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=25, options={"crf": "18", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = src.codec_context.width, src.codec_context.height, "yuv420p"
        for frame in inp.decode(video=0):
            img = frame.to_ndarray(format="rgb24")[:, ::-1].copy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return target


def wait(cond, timeout: float, what: str) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def speed(store: ProjectStore, job_id: int, t0: float, t1: float) -> float:
    """Iterations per second of a training job between wall times t0 and t1: from the
    ms/iteration of its metric windows written then (median)."""
    rows = store.query("SELECT value FROM job_metrics WHERE job_id = ? AND name = 'ms_per_iter' AND t BETWEEN ? AND ?",
                       (job_id, t0, t1))
    values = sorted(r[0] for r in rows)
    print(f"  training: {len(values)} metric windows between {t0:.0f} and {t1:.0f}", file=sys.stderr)
    return 1000.0 / values[len(values) // 2] if values else 0.0


def frames_per_s(store: ProjectStore, job_id: int) -> float:
    job = JobQueue(store).job(job_id)
    frames = sum(int(c.frame_count) for c in store.clips() if c.name in job.params.get("clips", []))
    return frames / (job.finished_at - job.started_at)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="fs-lanes-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        with ProjectStore.create(tmp / "Lanes") as store:
            add_clips(store, [SAMPLES / n for n in SRC], "src")
            add_clips(store, [SAMPLES / n for n in DST], "dst")
            copies = []
            for n in SRC + DST:
                copies.append(mirrored(SAMPLES / n, tmp / f"b_{Path(n).stem}.mp4"))
            q = JobQueue(store)
            names = [Path(n).stem for n in SRC + DST]
            solo = q.enqueue("extract", {"clips": names})
            root = store.root
        worker = subprocess.Popen([sys.executable, "-m", "engine", "worker", str(root)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with ProjectStore.open(root) as store:
                q = JobQueue(store)
                wait(lambda: q.job(solo.id).state == "done", 900, "the solo extraction")
                solo_fps = frames_per_s(store, solo.id)
                train = q.enqueue("train_swap", {"preset": "fast-64", "iterations": 1_000_000, "seed": 1,
                                                 "metric_every": 5, "preview_every": 0, "preview_every_s": 0,
                                                 "checkpoint_every_s": 3600})
                wait(lambda: store.scalar("SELECT count(*) FROM job_metrics WHERE job_id = ?", (train.id,)) > 0,
                     600, "training to start")
                t_solo = time.time()
                time.sleep(SOLO_S)
                # At least 4 metric windows alone (a loaded machine can make 2 OpenMP threads crawl).
                wait(lambda: store.scalar("SELECT count(*) FROM job_metrics WHERE job_id = ? AND name = 'ms_per_iter' "
                                          "AND t > ?", (train.id, t_solo)) >= 4, 600, "training's solo windows")
                solo_its = speed(store, train.id, t_solo, time.time())
                added, _ = add_clips(store, copies, "dst")
                side = q.enqueue("extract", {"clips": [c.name for c in added]})
                notes: set[str] = set()

                def side_done() -> bool:
                    text = q.job(train.id).status_text
                    if "sharing" in text:
                        notes.add(text.split(" · ")[-1])
                    return q.job(side.id).state in ("done", "failed")

                wait(side_done, 1800, "the extraction beside training")
                side_job = q.job(side.id)
                assert side_job.state == "done", side_job.error_text
                side_fps = frames_per_s(store, side.id)
                side_its = speed(store, train.id, side_job.started_at, side_job.finished_at)
                running = q.job(train.id)
                assert running.state == "running", (running.state, running.error_text)
                lane_train, note = running.lane, "; ".join(sorted(notes)) or "no sharing note seen"
                q.cancel(train.id)
                wait(lambda: q.job(train.id).state == "cancelled", 300, "training to stop")
        finally:
            worker.terminate()
            worker.wait(60)
        print(f"solo: extraction {solo_fps:.1f} frames/s, training {solo_its:.2f} it/s; side by side: "
              f"extraction {side_fps:.1f} frames/s, training {side_its:.2f} it/s (lane {lane_train}: {note})")
        ok = report("lanes_extraction_beside_training", side_fps / solo_fps, "x solo", ">= 0.4")
        ok &= report("lanes_training_beside_extraction", side_its / solo_its if solo_its else 0.0, "x solo", ">= 0.4")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
