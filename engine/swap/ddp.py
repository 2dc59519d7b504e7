"""Multi-device training: the ``train_swap`` job as a DDP group launched through torchrun.

The worker process (which owns the job) prepares the model row, then starts
``python -m torch.distributed.run --standalone --nproc_per_node N -m engine.swap.ddp``
(:func:`torchrun_args`) in its own session (a Ctrl+C in the terminal reaches the worker, not the ranks) and
watches it. Every rank runs the same :class:`~engine.swap.session.Session` as a
single-device job; rank 0 reports through a :class:`~engine.jobs.context.JobContext` of
its own under the worker's id (so its heartbeat, flags, metrics and checkpoint rows are
the job's), and writes the outcome to a small JSON file the worker reads when the group
exits. A shutdown of the worker is passed on as the job's shutdown flag, which rank 0
sees like a pause: every rank stops after the same step, rank 0 checkpoints.

**Several machines** (``nnodes`` > 1): node 0 runs the job as above, with torchrun's
static rendezvous at ``rdzv_endpoint`` (node 0's address) instead of ``--standalone``,
so global rank 0 is on node 0. Every other node runs ``facesmith train`` with the same
options and its ``--node-rank``: it queues nothing and starts its ranks in the
foreground (:func:`follow`), which read the project read-only (it must be the same
folder on a shared filesystem: they load the faces, and the checkpoints on a resume or a
rollback) and take the model id from rank 0.

Backends: NCCL with one GPU per rank, gloo on CPU (what the tests run: two processes
on this machine must give the single-process losses on the same batches).
Per the physics in ``REFERENCE.md`` Part F 6, DDP pays off inside an NVLink node or for
a larger batch; ``batch_size`` is the global batch, split over the ranks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.jobs.context import JobContext, JobInterrupted
from engine.jobs.queue import JobQueue
from engine.errors import JobError
from engine.jobs.registry import JobResult
from engine.project.changes import ChangeSet
from engine.swap.request import TrainRequest

POLL_S = 0.25
#: The rendezvous id when none is given (every node must use the same one).
RDZV_ID = "facesmith"


def torchrun_args(req: TrainRequest) -> list[str]:
    """torchrun's options for the request: one machine (``--standalone``) or this node's
    place among ``nnodes`` meeting at ``rdzv_endpoint``. The static rendezvous is used so
    that global rank 0, which owns the job and writes the model, is on node 0."""
    if req.rdzv_endpoint is None:
        return ["--standalone", f"--nproc_per_node={req.devices}"]
    return [f"--nnodes={req.nnodes}", f"--node_rank={req.node_rank}", "--rdzv_backend=static",
            f"--rdzv_endpoint={req.rdzv_endpoint}", f"--rdzv_id={req.rdzv_id or RDZV_ID}",
            f"--nproc_per_node={req.devices}"]


def _env() -> dict[str, str]:
    repo = str(Path(__file__).resolve().parents[2])
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH", "")) if p))


def launch(ctx: JobContext, req: TrainRequest) -> JobResult:
    """Run the job as a DDP group of ``req.devices`` ranks (on each of ``req.nnodes``
    machines) and wait for it (worker side, node 0)."""
    from engine.swap.session import check_request, prepare_model

    if req.node_rank != 0:
        raise JobError(f"node_rank {req.node_rank}: only node 0 runs the training job; the other nodes join it "
                       "with 'facesmith train ... --node-rank N', which queues nothing")
    check_request(ctx.store, req)
    model_id = prepare_model(ctx, req)
    root = ctx.store.root
    result_file = root / "cache" / f"ddp-job{ctx.job_id}-{uuid.uuid4().hex[:8]}.json"
    log_file = root / "logs" / f"ddp-job{ctx.job_id}.log"
    cmd = [sys.executable, "-m", "torch.distributed.run", *torchrun_args(req),
           "-m", "engine.swap.ddp", "--project", str(root), "--job", str(ctx.job_id), "--worker", ctx.worker,
           "--result", str(result_file)]
    env = _env()
    ctx.progress(0.0, f"starting {req.devices} training processes"
                      + (f" (node 0 of {req.nnodes}, waiting for the others at {req.rdzv_endpoint})"
                         if req.nnodes > 1 else ""))
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        forwarded = False
        try:
            while proc.poll() is None:
                reason = ctx.stop_reason()
                if reason == "shutdown" and not forwarded:
                    JobQueue(ctx.store).request_shutdown(ctx.worker)
                    forwarded = True
                elif reason == "lost":
                    _terminate(proc)
                    raise JobInterrupted("lost")
                _mirror_progress(ctx)
                time.sleep(POLL_S)
        except BaseException:
            _terminate(proc)
            raise
    outcome = _read_outcome(result_file)
    if outcome.get("state") == "done":
        r = outcome.get("result", {})
        return JobResult(changes=ChangeSet.bulk("models", [model_id], label="Train swap model"),
                         message=r.get("message", ""), data=r.get("data", {}))
    if outcome.get("state") == "interrupted":
        raise JobInterrupted(outcome["reason"])
    tail = outcome.get("error") or _tail(log_file)
    raise RuntimeError(f"DDP training failed (exit code {proc.returncode}); see {log_file}:\n{tail}")


def _mirror_progress(ctx: JobContext) -> None:
    """Show rank 0's progress on the worker's own progress callback (the CLI's bar)."""
    row = ctx.store.connection.execute("SELECT progress, status_text FROM jobs WHERE id = ?", (ctx.job_id,)).fetchone()
    if row is not None and ctx._on_progress is not None:  # noqa: SLF001 - the worker's own callback
        ctx._on_progress(float(row[0]), str(row[1]))


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _read_outcome(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    finally:
        path.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def follow(project: str | Path, params: dict[str, Any]) -> int:
    """Join node 0's training job as node ``node_rank`` (> 0): this machine's ranks, in
    the foreground, until the group ends; nothing is queued here. Returns torchrun's code."""
    req = TrainRequest(**params)
    cmd = [sys.executable, "-m", "torch.distributed.run", *torchrun_args(req), "-m", "engine.swap.ddp",
           "--project", str(project), "--follow", "--params", json.dumps(params)]
    return subprocess.call(cmd, env=_env())


# ---------------------------------------------------------------------------- rank side
def _write_outcome(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(tmp, path)


def rank_main(argv: Sequence[str] | None = None) -> int:
    """One rank of the group (started by torchrun with RANK/WORLD_SIZE/LOCAL_RANK set)."""
    ap = argparse.ArgumentParser(prog="engine.swap.ddp")
    ap.add_argument("--project", required=True)
    ap.add_argument("--job", type=int)
    ap.add_argument("--worker")
    ap.add_argument("--result")
    ap.add_argument("--follow", action="store_true", help="a node > 0: no job here, the request in --params")
    ap.add_argument("--params")
    args = ap.parse_args(argv)
    if not args.follow and (args.job is None or args.worker is None or args.result is None):
        ap.error("--job, --worker and --result are needed (or --follow --params)")

    import torch
    import torch.distributed as tdist

    from engine.jobs.registry import get_kind
    from engine.project.store import ProjectStore
    from engine.swap.session import Session
    from engine.swap.trainer import DistInfo

    dist = DistInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(dist.local_rank)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.world))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # torchrun's SIGTERM: stop now
    tdist.init_process_group("nccl" if cuda else "gloo")
    # Node 0 has the job and its model; the other nodes' ranks read the project (the same
    # folder, shared) and take the model id from rank 0.
    store = ProjectStore.open(args.project, readonly=args.follow)
    if args.follow:
        req: TrainRequest = get_kind("train_swap").parse(json.loads(args.params))
        ctx = None
        known = -1
    else:
        job = JobQueue(store).job(args.job)
        req = get_kind("train_swap").parse(job.params)
        ctx = JobContext(store, job, args.worker) if dist.main else None
        known = int((job.checkpoint or {})["model_id"])
    shared = [known]
    tdist.broadcast_object_list(shared, src=0)
    outcome: dict[str, Any]
    try:
        model_id = int(shared[0])
        result = Session(ctx, store, req, model_id, dist).run()
        outcome = {"state": "done", "result": result.to_json()}
    except JobInterrupted as stop:
        outcome = {"state": "interrupted", "reason": stop.reason}
    except BaseException:
        outcome = {"state": "failed", "error": traceback.format_exc()}
    finally:
        if ctx is not None:
            ctx.close()
        store.close()
    if dist.main and args.result:
        _write_outcome(Path(args.result), outcome)
    try:
        tdist.destroy_process_group()
    except Exception:  # noqa: BLE001 - a failed peer may have torn the group down already
        pass
    if outcome["state"] == "failed":
        print(outcome["error"], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(rank_main())
