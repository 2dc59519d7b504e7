"""20 SIGKILLs of the engine at random moments over mixed lanes (issue: lanes, Measured 2).

A project with the bundled clips extracted and a small model trained (setup, no kills)
gets a queue that fills every lane at once: a ``train_swap`` continuing the model
(compute lane without a GPU), an ``extract`` of two more clips and a ``render`` (cpu
lane), and ``noop`` jobs (io lane). The engine (``facesmith worker``, a real process) is
started and SIGKILLed 20 times at random moments (2-12 s after it starts); after every
kill ``PRAGMA integrity_check`` must say ok. Then one engine runs the queue dry: every
job must be done, none lost or added, the model at its target, the render's file there,
one metric row per (job, metric, step). Run: ``.venv/bin/python benchmarks/kill_mixed_lanes.py``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, report
from lanes_side_by_side import mirrored

from engine.jobs.queue import JobQueue
from engine.project.clips import add_clips
from engine.project.store import ProjectStore

SAMPLES = ROOT / "resources" / "sample"
KILLS = int(os.environ.get("KILLS", "20"))
TARGET = 120


def engine(root: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "engine", "worker", str(root), *extra], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    rng = random.Random(20261202)
    tmp = Path(tempfile.mkdtemp(prefix="fs-kill-"))
    try:
        with ProjectStore.create(tmp / "Kill") as store:
            add_clips(store, [SAMPLES / "bbaf2n.mpg", SAMPLES / "lbax4n.mpg"], "src")
            add_clips(store, [SAMPLES / "id2_vcd_swwp2s.mpg", SAMPLES / "sbwe5n.mpg"], "dst")
            q = JobQueue(store)
            q.enqueue("extract", {})
            root = store.root
        # Setup in two steps: lanes would start the training beside the extraction it needs.
        assert engine(root, "--exit-when-idle").wait(1800) == 0
        with ProjectStore.open(root) as store:
            setup = JobQueue(store).enqueue("train_swap", {"preset": "fast-64", "iterations": 10, "seed": 3,
                                                           "preview_every": 0})
        assert engine(root, "--exit-when-idle").wait(1800) == 0
        with ProjectStore.open(root) as store:
            q = JobQueue(store)
            done = q.job(setup.id)
            assert done.state == "done", done.error_text
            model = int(done.result["data"]["model_id"])
            copies = [mirrored(SAMPLES / n, tmp / f"b_{n[:-4]}.mp4") for n in ("bbaf2n.mpg", "sbwe5n.mpg")]
            added, _ = add_clips(store, copies, "dst")
            ids = [
                q.enqueue("train_swap", {"model": model, "iterations": TARGET, "checkpoint_every_s": 4,
                                         "preview_every": 0, "preview_every_s": 10}).id,
                q.enqueue("extract", {"clips": [c.name for c in added]}).id,
                q.enqueue("render", {"clip": "sbwe5n", "model": model, "segment_frames": 25, "preset": "ultrafast",
                                     "out": "renders/kill.mp4"}).id,
                *[q.enqueue("noop", {"steps": 40, "step_s": 0.1, "metrics": True}).id for _ in range(6)],
            ]
            before = {j.id for j in q.jobs()}
        integrity_ok = 0
        for _ in range(KILLS):
            proc = engine(root)
            time.sleep(rng.uniform(2.0, 12.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            conn = sqlite3.connect(root / "project.db")
            integrity_ok += conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
        t0 = time.monotonic()
        assert engine(root, "--exit-when-idle").wait(3600) == 0
        finish_s = time.monotonic() - t0
        with ProjectStore.open(root) as store:
            jobs = {j.id: j for j in JobQueue(store).jobs()}
            finished = sum(jobs[i].state == "done" for i in ids)
            for i in ids:
                if jobs[i].state != "done":
                    print(f"job {i} ({jobs[i].kind}) {jobs[i].state}: {jobs[i].error_text}")
            same = set(jobs) == before
            iteration = int(store.row("models", model)["iteration"])
            rendered = (root / "renders" / "kill.mp4").is_file()
            crashes = max(j.attempts for j in jobs.values())
            dupes = store.scalar("SELECT count(*) FROM (SELECT 1 FROM job_metrics GROUP BY job_id, name, step "
                                 "HAVING count(*) > 1)")
        print(f"{KILLS} kills; the queue then finished in {finish_s:.0f} s; model at iteration {iteration}; "
              f"render written: {rendered}; jobs unchanged: {same}; duplicate metric rows: {dupes}; "
              f"most crashes in a row left on a job: {crashes}")
        ok = report("kill_mixed_lanes_integrity_ok", integrity_ok, f"of {KILLS} kills", f">= {KILLS}")
        ok &= report("kill_mixed_lanes_jobs_done", finished, f"of {len(ids)} jobs", f">= {len(ids)}")
        ok &= same and iteration == TARGET and rendered and dupes == 0
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
