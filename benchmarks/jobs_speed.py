"""Job queue speed (issue: engine and durable job queue).

Targets: queue and complete 1,000 zero-length ``noop`` jobs <= 5 s; progress written by
the engine visible to a reader (the editor's poll) within 300 ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import report

from engine.jobs.queue import JobQueue
from engine.jobs.worker import Worker
from engine.project.store import ProjectStore

POLL_S = 0.25  # the editor's poll interval


def thousand_jobs(tmp: Path) -> float:
    store = ProjectStore.create(tmp / "thousand")
    q = JobQueue(store)
    t = time.perf_counter()
    for _ in range(1000):
        q.enqueue("noop", {"steps": 0})
    Worker(store.root, exit_when_idle=True, log_to_stderr=False).run()
    took = time.perf_counter() - t
    assert all(j.state == "done" for j in q.jobs()), "not every job finished"
    store.close()
    return took


def progress_latency(tmp: Path) -> tuple[float, float]:
    """Delay from a progress call in the engine until the editor's poll shows it.

    For every progress value the job reports, the first poll (every 250 ms, on its own
    connection, as the editor does) that shows that value or a later one.
    """
    steps = 60
    store = ProjectStore.create(tmp / "latency")
    job = JobQueue(store).enqueue("noop", {"steps": steps, "step_s": 0.05})
    polls: list[tuple[float, int]] = []
    written: dict[int, float] = {}

    def editor() -> None:
        reader = store.reopen()
        while True:
            row = reader.query("SELECT progress, state FROM jobs WHERE id = ?", (job.id,))[0]
            polls.append((time.monotonic(), round(row[0] * steps)))
            if row[1] == "done":
                break
            time.sleep(POLL_S)
        reader.close()

    w = Worker(store.root, exit_when_idle=True, log_to_stderr=False,
               on_progress=lambda f, _t: written.setdefault(round(f * steps), time.monotonic()))
    t = threading.Thread(target=editor)
    t.start()
    w.run()
    t.join()
    store.close()
    delays = []
    for step, at in written.items():
        if step >= steps:
            continue
        seen = next((pt for pt, ps in polls if ps >= step and pt >= at), None)
        if seen is not None:
            delays.append(seen - at)
    return statistics.median(delays), max(delays)


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ok = report("queue_and_run_1000_noop_jobs_s", thousand_jobs(tmp), "s", "<= 5")
        median, worst = progress_latency(tmp)
        ok &= report("progress_visible_to_editor_median_ms", median * 1000, "ms", "<= 300")
        ok &= report("progress_visible_to_editor_worst_ms", worst * 1000, "ms", "<= 300")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
