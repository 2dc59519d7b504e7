"""Job commands of the ``facesmith`` CLI: jobs, queue, cancel, pause, resume, run, worker."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from engine.errors import FacesmithError


def _queue(project: str) -> Any:
    from engine.jobs.queue import JobQueue
    from engine.project.store import ProjectStore

    return JobQueue(ProjectStore.open(project))


def _fmt_job(job: Any) -> str:
    bar = ""
    if job.state in ("running", "paused", "queued") and job.progress:
        bar = f" {job.progress * 100:5.1f}%"
    flags = " (cancel requested)" if job.cancel_requested else " (pause requested)" if job.pause_requested else ""
    text = f"  {job.status_text}" if job.status_text and job.status_text != job.state else ""
    lane = ""
    if job.state == "running" and job.lane:
        from engine.jobs.lanes import describe

        lane = f" [{describe(job.lane)}]"
    return f"[{job.id}] {job.kind:<12} {job.state:<9}{lane}{bar}{flags}{text}"


def cmd_jobs(args: argparse.Namespace) -> int:
    q = _queue(args.project)
    try:
        jobs = q.jobs()
        if not jobs:
            print("no jobs")
        for job in jobs:
            print(_fmt_job(job))
            if job.state == "failed" and job.error_text and args.errors:
                print("    " + job.error_text.rstrip().replace("\n", "\n    "))
    finally:
        q.store.close()
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from engine.jobs.registry import parse_cli_params

    q = _queue(args.project)
    try:
        job = q.enqueue(args.kind, parse_cli_params(args.param), priority=args.priority)
        print(f"queued job {job.id} ({job.kind})")
    finally:
        q.store.close()
    return 0


def _request(action: str) -> Any:
    def cmd(args: argparse.Namespace) -> int:
        q = _queue(args.project)
        try:
            job = getattr(q, action)(args.job)
            print(_fmt_job(job))
        finally:
            q.store.close()
        return 0

    return cmd


def cmd_prioritize(args: argparse.Namespace) -> int:
    q = _queue(args.project)
    try:
        print(_fmt_job(q.set_priority(args.job, args.priority)))
    finally:
        q.store.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.jobs.worker import Worker

    project = args.project_opt or args.project
    if project is None:
        raise FacesmithError("worker needs a project (facesmith worker PROJECT)")
    w = Worker(project, exit_when_idle=args.exit_when_idle, stale_after_s=args.stale_after)
    w.install_signal_handlers()
    return w.run()


class _Bar:
    """A progress bar on stderr (tqdm) fed by the job's progress calls."""

    def __init__(self, label: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=1000, desc=label, unit="‰", file=sys.stderr, dynamic_ncols=True,
                         bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")

    def __call__(self, fraction: float, text: str) -> None:
        target = int(fraction * 1000)
        if target > self._bar.n:
            self._bar.update(target - self._bar.n)
        self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        self._bar.close()


def cmd_run(args: argparse.Namespace) -> int:
    """Queue a job and run it here in the foreground (servers, scripts)."""
    from engine.jobs.registry import parse_cli_params

    q = _queue(args.project)
    try:
        job = q.enqueue(args.kind, parse_cli_params(args.param), priority=args.priority)
    finally:
        q.store.close()
    print(f"queued job {job.id} ({job.kind}); running it here", file=sys.stderr)
    return run_in_foreground(args.project, job.id, label=job.kind, quiet=args.quiet)


def run_in_foreground(project: str, job_id: int, *, label: str, quiet: bool = False) -> int:
    from engine.jobs.worker import Worker

    bar = None if quiet else _Bar(label)
    started = time.monotonic()
    try:
        w = Worker(project, only_job=job_id, on_progress=bar, log_to_stderr=False)
        w.install_signal_handlers()
        rc = w.run()
    finally:
        if bar is not None:
            bar.close()
    job = w.last_job
    if job is None:
        print(f"job {job_id} did not run", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    if job.state == "done":
        msg = (job.result or {}).get("message") or "done"
        print(f"job {job.id} done in {took:.1f} s: {msg}")
    elif job.state == "failed":
        print(f"facesmith: error: job {job.id} failed: {job.status_text}", file=sys.stderr)
        if job.error_text:
            print(job.error_text, file=sys.stderr)
    else:
        print(f"job {job.id} {job.state}" + (" (it continues with 'facesmith worker')" if job.state == "queued" else ""))
    return rc


def register(sub: Any) -> None:
    p = sub.add_parser("jobs", help="list a project's jobs with state and progress")
    p.add_argument("project")
    p.add_argument("--errors", action="store_true", help="show the traceback of failed jobs")
    p.set_defaults(func=cmd_jobs)

    for name, help_text in (("queue", "queue a job for the engine"), ("run", "queue a job and run it here")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("project")
        p.add_argument("kind")
        p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                       help="a job parameter (JSON values: 5, 0.5, true, [1,2], \"text\")")
        p.add_argument("--priority", type=int, default=0, help="higher runs first")
        if name == "run":
            p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(func=cmd_queue if name == "queue" else cmd_run)

    for action in ("cancel", "pause", "resume"):
        p = sub.add_parser(action, help=f"{action} a job")
        p.add_argument("project")
        p.add_argument("job", type=int)
        p.set_defaults(func=_request(action))

    p = sub.add_parser("prioritize", help="set a waiting job's priority (higher runs first)")
    p.add_argument("project")
    p.add_argument("job", type=int)
    p.add_argument("priority", type=int)
    p.set_defaults(func=cmd_prioritize)

    p = sub.add_parser("worker", help="run the project's queued jobs")
    p.add_argument("project", nargs="?")
    p.add_argument("--project", dest="project_opt", help=argparse.SUPPRESS)
    p.add_argument("--exit-when-idle", action="store_true", help="stop once the queue is empty")
    p.add_argument("--stale-after", type=float, default=30.0, metavar="S",
                   help="seconds without a heartbeat after which a running job's engine counts as dead")
    p.set_defaults(func=cmd_worker)
