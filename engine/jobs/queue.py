"""The durable job queue: rows of the ``jobs`` table and their state transitions.

States: ``queued -> running -> done | failed | cancelled``; a running job asked to pause
checkpoints and becomes ``paused``; ``resume`` queues it again. Cancel and pause are row
flags the running job honours between steps. Every transition of a running job is
guarded by ``state = 'running' AND worker = me``, so a worker that was presumed dead
(and whose job was re-queued) can never overwrite what a newer worker did.

Jobs run side by side in lanes (:mod:`engine.jobs.lanes`); a running row records the
lane it holds. ``attempts`` counts *crashes in a row*: a worker that died while running
the job (found by any live worker, within ``STALE_AFTER_S`` plus a reclaim tick). A
claim, a pause or a shutdown requeue do not count; a checkpoint past the one the run
started from, or progress past where the last run died, resets it, so a run resumed a hundred times over a month is never
failed for it, while one that kills its engine ``MAX_CRASHES`` times without getting
anywhere is failed with what it was doing when it last died.

``pause_requested`` holds why a pause was asked: 1 by the user (the job ends ``paused``),
2 by a shutdown (the editor quitting, SIGTERM: the job checkpoints and goes back to
``queued``, so it continues by itself the next time an engine runs).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from engine.errors import JobError
from engine.jobs.lanes import LaneState, cpu_job_cap, gpu_count, need_of
from engine.jobs.registry import JobResult, get_kind, validate_params
from engine.project.models import FINAL_STATES, Job, json_or_none
from engine.project.store import ProjectStore

#: A running job whose heartbeat is older than this belonged to a dead worker.
STALE_AFTER_S: Final = 30.0
#: A job whose worker died this many times in a row (no progress in between) is failed
#: instead of started again. High enough that an engine killed at random moments (the
#: kill tests: 20 kills, some before a job got anywhere) never fails a healthy job; a job
#: that kills its engine at once each time still ends failed after a few minutes.
MAX_CRASHES: Final = 25
MAX_ATTEMPTS: Final = MAX_CRASHES  # the former name
PAUSE_USER: Final = 1
PAUSE_SHUTDOWN: Final = 2

_JOB_SELECT: Final = "SELECT * FROM jobs"


def job_from_row(r: Mapping[str, Any]) -> Job:
    return Job(
        id=r["id"], kind=r["kind"], params=json.loads(r["params"]), state=r["state"],
        priority=r["priority"], progress=r["progress"], status_text=r["status_text"],
        error_text=r["error_text"], result=json_or_none(r["result"]), checkpoint=json_or_none(r["checkpoint"]),
        preview_path=r["preview_path"], cancel_requested=bool(r["cancel_requested"]),
        pause_requested=bool(r["pause_requested"]), worker=r["worker"], attempts=r["attempts"],
        heartbeat_at=r["heartbeat_at"], created_at=r["created_at"], started_at=r["started_at"],
        finished_at=r["finished_at"], updated_at=r["updated_at"],
        lane=r["lane"] if "lane" in r.keys() else None,
    )


def worker_id() -> str:
    """``host:pid`` of this process: lets a worker on the same host see a dead one."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _live(row: Mapping[str, Any], now: float, stale_after_s: float) -> bool:
    """A running row whose worker still beats (and, on this host, still exists)."""
    beat = row["heartbeat_at"] or 0.0
    return now - beat < stale_after_s and not _pid_dead(row["worker"])


def _pid_dead(worker: str | None) -> bool:
    """True when ``worker`` ran on this host and its process no longer exists."""
    if not worker:
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobQueue:
    """Queue operations over one project store (one connection, one thread)."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ reading
    def job(self, job_id: int) -> Job:
        row = self.store.connection.execute(_JOB_SELECT + " WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"{self.store.root}: no job with id {job_id}")
        return job_from_row(row)

    def jobs(self, states: Iterable[str] | None = None, *, since_update: float | None = None) -> list[Job]:
        sql, params = _JOB_SELECT, []
        where = []
        if states is not None:
            st = list(states)
            where.append(f"state IN ({', '.join('?' * len(st))})")
            params.extend(st)
        if since_update is not None:
            where.append("updated_at > ?")
            params.append(since_update)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY CASE state WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'paused' THEN 2 ELSE 3 END, priority DESC, id"
        return [job_from_row(r) for r in self.store.connection.execute(sql, params)]

    def pending_count(self) -> int:
        return int(self.store.scalar("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"))

    # ------------------------------------------------------------------ queueing
    def enqueue(self, kind: str, params: Mapping[str, Any] | None = None, *, priority: int = 0) -> Job:
        """Validate and queue a job; refused (nothing written) when the parameters are wrong."""
        clean = validate_params(kind, params or {})
        now = time.time()
        with self.store.transaction() as c:
            cur = c.execute(
                "INSERT INTO jobs (kind, params, priority, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (kind, json.dumps(clean), priority, now, now),
            )
        return self.job(int(cur.lastrowid))

    def set_priority(self, job_id: int, priority: int) -> Job:
        with self.store.transaction() as c:
            c.execute("UPDATE jobs SET priority = ?, updated_at = ? WHERE id = ?", (priority, time.time(), job_id))
        return self.job(job_id)

    def reorder(self, job_ids: list[int]) -> None:
        """Make the waiting jobs run in the order given (first runs first)."""
        now = time.time()
        with self.store.transaction() as c:
            for rank, job_id in enumerate(job_ids):
                c.execute("UPDATE jobs SET priority = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'paused')",
                          (len(job_ids) - rank, now, job_id))

    # ------------------------------------------------------------------ user requests
    def cancel(self, job_id: int) -> Job:
        """Cancel: at once when waiting or paused; a running job is asked and stops soon."""
        job = self.job(job_id)
        now = time.time()
        with self.store.transaction() as c:
            if job.state in ("queued", "paused"):
                c.execute("UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ?, "
                          "status_text = 'cancelled' WHERE id = ? AND state IN ('queued', 'paused')", (now, now, job_id))
            elif job.state == "running":
                c.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", (now, job_id))
            else:
                raise JobError(f"job {job_id} is already {job.state}")
        return self.job(job_id)

    def pause(self, job_id: int, *, reason: int = PAUSE_USER) -> Job:
        """Pause: a waiting job is held; a running job checkpoints and stops."""
        job = self.job(job_id)
        now = time.time()
        with self.store.transaction() as c:
            if job.state == "queued":
                c.execute("UPDATE jobs SET state = 'paused', updated_at = ?, status_text = 'paused' "
                          "WHERE id = ? AND state = 'queued'", (now, job_id))
            elif job.state == "running":
                c.execute("UPDATE jobs SET pause_requested = ?, updated_at = ? WHERE id = ?", (reason, now, job_id))
            elif job.state != "paused":
                raise JobError(f"job {job_id} is {job.state} and cannot be paused")
        return self.job(job_id)

    def resume(self, job_id: int) -> Job:
        job = self.job(job_id)
        if job.state != "paused":
            raise JobError(f"job {job_id} is {job.state}, not paused")
        with self.store.transaction() as c:
            c.execute("UPDATE jobs SET state = 'queued', pause_requested = 0, cancel_requested = 0, updated_at = ?, "
                      "status_text = 'queued to resume' WHERE id = ? AND state = 'paused'", (time.time(), job_id))
        return self.job(job_id)

    def request_shutdown(self, worker: str) -> None:
        """Ask ``worker``'s running job to checkpoint and go back to the queue."""
        with self.store.transaction() as c:
            c.execute("UPDATE jobs SET pause_requested = ?, updated_at = ? WHERE state = 'running' AND worker = ?",
                      (PAUSE_SHUTDOWN, time.time(), worker))

    # ------------------------------------------------------------------ worker side
    def recover_stale(self, *, stale_after_s: float = STALE_AFTER_S) -> list[int]:
        """Re-queue running jobs whose worker died (heartbeat too old, or pid gone here).

        Any live worker calls this every few seconds, not only when it starts. The jobs
        keep their checkpoint, so a resumable job continues where it was. Each death is
        a crash (``attempts + 1``); after ``MAX_CRASHES`` in a row the job is failed,
        the message naming what it was doing when its engine last died.
        """
        now = time.time()
        recovered: list[int] = []
        with self.store.transaction() as c:
            rows = c.execute("SELECT id, worker, heartbeat_at, attempts, status_text, progress FROM jobs "
                             "WHERE state = 'running'").fetchall()
            for r in rows:
                if _live(r, now, stale_after_s):
                    continue
                crashes = int(r["attempts"]) + 1
                last = (f"last: engine {r['worker'] or '?'} stopped at {100 * (r['progress'] or 0):.0f} %"
                        + (f" ({r['status_text']})" if r["status_text"] else ""))
                if crashes >= MAX_CRASHES:
                    c.execute("UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, attempts = ?, "
                              "lane = NULL, error_text = ?, status_text = ? WHERE id = ?",
                              (now, now, crashes, f"the engine died {crashes} times in a row while running this "
                               f"job; {last}", f"failed: the engine died {crashes} times in a row", r["id"]))
                else:
                    c.execute("UPDATE jobs SET state = 'queued', worker = NULL, lane = NULL, pause_requested = 0, "
                              "attempts = ?, updated_at = ?, error_text = ?, "
                              "status_text = 'resuming after an engine crash' WHERE id = ?",
                              (crashes, now, f"the engine died while running this job; {last}", r["id"]))
                recovered.append(r["id"])
        return recovered

    def held_lanes(self, *, stale_after_s: float = STALE_AFTER_S) -> LaneState:
        """The lanes held by running jobs of live workers (orphans hold nothing)."""
        now = time.time()
        rows = self.store.connection.execute(
            "SELECT lane, worker, heartbeat_at FROM jobs WHERE state = 'running' AND lane IS NOT NULL").fetchall()
        return LaneState(tuple(r["lane"] for r in rows if _live(r, now, stale_after_s)))

    def claim(self, worker: str, *, only: int | None = None, stale_after_s: float = STALE_AFTER_S) -> Job | None:
        """Atomically take the next queued job (or job ``only``) a free lane allows.

        Within a lane the queue order holds: once the first waiting job of a lane cannot
        start, no later job of that lane jumps ahead of it. Call again to fill more lanes.
        """
        now = time.time()
        with self.store.transaction() as c:
            rows = c.execute(
                "SELECT id, kind, params, priority FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id").fetchall()
            if not rows:
                return None
            state = self.held_lanes(stale_after_s=stale_after_s)
            gpus: int | None = None
            blocked: set[str] = set()
            # Jobs queued after one that makes faces work on its result: they wait for it.
            makers = [(int(p), int(i)) for k, p, i in c.execute(
                "SELECT kind, priority, id FROM jobs WHERE state = 'running'").fetchall() if _makes_faces(k)]
            faces_pending = False
            for r in rows:
                try:
                    kind = get_kind(r["kind"])
                except JobError:
                    continue  # a kind this engine does not know (a newer version queued it)
                before = any(p > r["priority"] or (p == r["priority"] and i < r["id"]) for p, i in makers)
                waits = (faces_pending or before) and kind.resource != "io"
                faces_pending = faces_pending or kind.makes_faces
                if waits or (only is not None and r["id"] != only):
                    continue
                if kind.resource.startswith("gpu:") and gpus is None:
                    gpus = gpu_count()
                params = json.loads(r["params"] or "{}")
                need = need_of(kind.resource, params, cpu_fallback=kind.cpu_fallback, gpus=gpus)
                if need.lane in blocked:
                    continue
                lane = state.assign(need, gpus=gpus or 0, cpu_cap=cpu_job_cap())
                if lane is None:
                    blocked.add(need.lane)
                    continue
                c.execute(
                    "UPDATE jobs SET state = 'running', worker = ?, lane = ?, heartbeat_at = ?, "
                    "started_at = coalesce(started_at, ?), updated_at = ?, cancel_requested = 0, pause_requested = 0, "
                    "error_text = NULL WHERE id = ? AND state = 'queued'",
                    (worker, lane, now, now, now, r["id"]),
                )
                return self.job(r["id"])
        return None

    def progressed(self, job_id: int, worker: str) -> None:
        """The run got past where it started (a new checkpoint): its crashes are no longer in a row."""
        with self.store.transaction() as c:
            c.execute("UPDATE jobs SET attempts = 0 WHERE id = ? AND worker = ? AND attempts > 0", (job_id, worker))

    def finish(self, job_id: int, worker: str, state: str, *, result: JobResult | None = None,
               error: str | None = None, status: str | None = None) -> bool:
        """Record the end of a run (``done``, ``failed``, ``cancelled``, ``paused`` or back to
        ``queued``); False when the job was no longer ours."""
        if state not in FINAL_STATES | {"paused", "queued"}:
            raise ValueError(state)
        now = time.time()
        final = state in FINAL_STATES
        text = status if status is not None else (result.message if result and result.message else state)
        with self.store.transaction() as c:
            cur = c.execute(
                "UPDATE jobs SET state = ?, result = coalesce(?, result), error_text = ?, status_text = ?, "
                "progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END, finished_at = ?, updated_at = ?, "
                "worker = CASE WHEN ? THEN worker ELSE NULL END, cancel_requested = 0, pause_requested = 0, lane = NULL, "
                "attempts = CASE WHEN ? IN ('failed', 'cancelled') THEN attempts ELSE 0 END "
                "WHERE id = ? AND state = 'running' AND worker = ?",
                (state, json.dumps(result.to_json()) if result else None, error, text, state,
                 now if final else None, now, final, state, job_id, worker),
            )
            return cur.rowcount == 1

    def delete(self, job_id: int) -> None:
        job = self.job(job_id)
        if job.state == "running":
            raise JobError(f"job {job_id} is running; cancel it first")
        with self.store.transaction() as c:
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))


def _makes_faces(kind_name: str) -> bool:
    try:
        return get_kind(kind_name).makes_faces
    except JobError:
        return False
