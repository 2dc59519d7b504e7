"""``facesmith train``: queue a swap-model training job and (usually) run it here.

With no worker running on the project, the job runs in the foreground with a progress
bar, like ``facesmith run``; Ctrl+C checkpoints it and leaves it queued, so ``facesmith
worker`` (or the editor) continues it. With a worker running, or ``--queue-only``, it is
only queued. Everything is checked before the job is queued: a bad option or a model
whose shape differs from the request changes nothing in the project.
"""

from __future__ import annotations

import argparse
import time
from typing import Any


def _params(args: argparse.Namespace) -> dict[str, Any]:
    from engine.jobs.registry import parse_cli_params

    p: dict[str, Any] = {}
    for name in ("preset", "arch", "resolution", "face_type", "iterations", "model", "batch_size", "lr",
                 "optimizer", "pretrain", "name", "device", "seed", "preview_every"):
        value = getattr(args, name)
        if value is not None:
            p[name] = value
    if args.devices != 1:
        p["devices"] = args.devices
    for name in ("nnodes", "node_rank", "rdzv_endpoint", "rdzv_id"):  # several machines (engine.swap.ddp)
        if getattr(args, name) is not None:
            p[name] = getattr(args, name)
    if args.checkpoint_minutes is not None:
        p["checkpoint_every_s"] = args.checkpoint_minutes * 60.0
    if args.set:
        p["train"] = parse_cli_params(args.set)
    for role, values in (("src", args.src_person), ("dst", args.dst_person)):
        if values:  # the first as <role>_person, the rest as <role>_persons: what the dialog queues
            p[f"{role}_person"] = int(values[0])
            if values[1:]:
                p[f"{role}_persons"] = [int(v) for v in values[1:]]
    if args.clip:
        p["clips"] = list(args.clip)
    if args.face_cache_mb is not None:
        p["face_cache_mb"] = args.face_cache_mb
    if args.pretrain_faces is not None:
        p["pretrain_faces"] = str(args.pretrain_faces)
        p.setdefault("pretrain", True)
    if args.from_pretrained is not None:
        p["from_pretrained"] = str(args.from_pretrained)
        if args.keep_decoders:
            p["keep_decoders"] = True
    if args.size_preset is not None:
        from engine.swap.options import size_preset

        sp = size_preset(args.size_preset)
        if args.model is None and args.from_pretrained is None:
            p.setdefault("resolution", sp.resolution)
        p.setdefault("batch_size", sp.batch_size)
    return p


def _busy_worker(store: Any) -> int | None:
    """The id of a job a live worker is running on this project, if any."""
    from engine.jobs.queue import STALE_AFTER_S

    row = store.connection.execute(
        "SELECT id FROM jobs WHERE state = 'running' AND heartbeat_at > ? ORDER BY id LIMIT 1",
        (time.time() - STALE_AFTER_S,)).fetchone()
    return None if row is None else int(row[0])


def cmd_train(args: argparse.Namespace) -> int:
    from engine.jobs.cli import run_in_foreground
    from engine.jobs.queue import JobQueue
    from engine.jobs.registry import get_kind
    from engine.project.store import ProjectStore

    params = _params(args)
    joining = (args.node_rank or 0) > 0  # another node's job: this one only reads the project
    busy = None
    with ProjectStore.open(args.project, readonly=joining) as store:
        req = get_kind("train_swap").parse(params)  # refuses bad options (JobError)
        if req.from_pretrained is not None:
            from engine.swap.pretrained import check_source

            check_source(req.from_pretrained)  # refuses a folder that holds no swap model
        if req.model is not None:
            from engine.swap.session import check_request

            check_request(store, req)  # refuses a model of another shape
        from engine.swap.dataset import training_selection

        for role in ("src", "dst"):  # refuses unknown persons and clips, and a side left empty
            if not req.pretrain and not training_selection(store, role, req.persons_of(role), req.clips):
                from engine.errors import FacesmithError

                raise FacesmithError(f"the {role} training set is empty for the persons and clips chosen")
        if req.node_rank > 0:
            if args.queue_only:
                from engine.errors import FacesmithError

                raise FacesmithError(f"--node-rank {req.node_rank} joins node 0's job and queues nothing; "
                                     "leave out --queue-only")
            job = None
        else:
            job = JobQueue(store).enqueue("train_swap", params)
            busy = None if args.queue_only else _busy_worker(store)
    if job is None:
        from engine.swap.ddp import follow

        print(f"node {req.node_rank} of {req.nnodes}: joining the training at {req.rdzv_endpoint} "
              f"with {req.devices} process{'es' if req.devices != 1 else ''}")
        return follow(args.project, params)
    what = f"model {req.model}" if req.model is not None else "a new model"
    if req.from_pretrained is not None:
        what = (f"a new model from the pretrained {req.from_pretrained}: encoder and inter kept, decoders "
                f"{'kept' if req.keep_decoders else 'reset'}")
    if args.queue_only:
        print(f"queued job {job.id} (train_swap, {what})")
        return 0
    if busy is not None:
        print(f"queued job {job.id} (train_swap, {what}); a worker is running job {busy} on this project "
              "and will run it after that")
        return 0
    if req.from_pretrained is not None:
        print(f"job {job.id}: {what}")
    return run_in_foreground(args.project, job.id, label="train", quiet=args.quiet)


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train a swap model on the project's src and dst faces")
    p.add_argument("project")
    p.add_argument("--preset", help="fast-64, dfl-128 (default), dfl-256, df-128, liae-udt-224")
    p.add_argument("--arch", help="df or liae with options u, d, t (e.g. liae-ud, df-udt)")
    p.add_argument("--resolution", type=int, help="crop size of the model, 64-512")
    p.add_argument("--face-type", dest="face_type", help="half, mid_full, full, whole, head (or f, wf, ...)")
    p.add_argument("--iterations", type=int, help="stop at this iteration (0: until stopped)")
    p.add_argument("--devices", type=int, default=1, help="train on N devices with DDP (torchrun); per machine "
                                                         "with --nnodes")
    p.add_argument("--nnodes", type=int, help="train on this many machines (run the same command on each, with "
                                              "its --node-rank; the project on a shared filesystem)")
    p.add_argument("--node-rank", dest="node_rank", type=int, help="this machine's place, 0 to nnodes-1; node 0 "
                                                                   "runs the job, the others join it")
    p.add_argument("--rdzv-endpoint", dest="rdzv_endpoint", metavar="HOST:PORT",
                   help="where the machines meet: node 0's address and a free port (e.g. 10.0.0.1:29400)")
    p.add_argument("--rdzv-id", dest="rdzv_id", help="the same id on every machine (default: facesmith)")
    p.add_argument("--model", type=int, help="continue this model (its id) instead of starting a new one")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="faces per identity per step (all devices)")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--optimizer", choices=("adabelief", "adamw"))
    p.add_argument("--pretrain", action=argparse.BooleanOptionalAction, default=None,
                   help="train on any faces; --no-pretrain on a pretrained model resets its inter layers")
    p.add_argument("--name", help="the new model's name")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--seed", type=int)
    p.add_argument("--checkpoint-minutes", dest="checkpoint_minutes", type=float, help="minutes between checkpoints")
    p.add_argument("--preview-every", dest="preview_every", type=int, help="iterations between preview images")
    p.add_argument("--src-person", dest="src_person", action="append", type=int, metavar="ID",
                   help="train src on this person's faces (repeat for several; see 'facesmith persons')")
    p.add_argument("--dst-person", dest="dst_person", action="append", type=int, metavar="ID",
                   help="train dst on this person's faces (repeat for several)")
    p.add_argument("--clip", action="append", metavar="NAME",
                   help="train on this clip's faces only (repeat; src and dst clips; default: every clip)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="another training setting, e.g. ct_mode=rct, uniform_yaw=true, loss={\"mse\":5}; "
                        "DeepFaceLab's SAEHD options by name: gan_power, true_face_power, face_style_power, "
                        "bg_style_power, lr_dropout, random_blur, random_jpeg, random_downsample, ct_mode "
                        "(none/rct/lct/mkl/idt/sot), random_flip, uniform_yaw, eyes_mouth_prio, masked_training")
    p.add_argument("--size-preset", dest="size_preset",
                   help="resolution and batch size for a GPU size: 4gb, 8gb, 12gb, 24gb, 80gb")
    p.add_argument("--face-cache-mb", dest="face_cache_mb", type=int,
                   help="device memory for the training faces (default: what is free minus the model's needs); "
                        "larger face sets stream from the project cache")
    p.add_argument("--pretrain-faces", dest="pretrain_faces", metavar="FOLDER",
                   help="pretrain on a folder of aligned face images (e.g. a DeepFaceLab aligned folder); "
                        "implies --pretrain")
    p.add_argument("--from-pretrained", dest="from_pretrained", metavar="MODEL_FOLDER",
                   help="start a new model from a pretrained one (e.g. Other.fsproj/models/2): encoder and inter "
                        "kept, decoders reset unless --keep-decoders")
    p.add_argument("--keep-decoders", dest="keep_decoders", action="store_true",
                   help="with --from-pretrained: keep the pretrained decoders too")
    p.add_argument("--queue-only", action="store_true", help="only queue the job")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
