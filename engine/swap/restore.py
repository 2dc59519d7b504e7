"""Restore a swap model to one of its backups: the editor's "restore this one".

A model folder holds ``latest/`` and ``backups/`` (:mod:`engine.swap.checkpoint`).
Restoring makes a backup the checkpoint that training continues from, without losing
anything:

1. the backup's files are hard-linked (copied where links are impossible) into a
   temporary folder, with a new ``state.json`` whose serial is above every other
   checkpoint's (:func:`~engine.swap.checkpoint.find_latest` orders by serial, so the
   restored one must be the newest), written last and fsynced;
2. in one write transaction on the project (so no engine can claim a job on the model
   meanwhile) it is checked that no job is training the model, the current ``latest``
   is moved into ``backups/`` (restoring is itself undone by restoring that backup), the
   temporary folder is renamed to ``latest``, and the model row takes the restored
   iteration and configs.

A crash at any moment leaves a loadable model: before the renames the old ``latest`` is
still the newest complete checkpoint unless the finished temporary folder is (it then
*is* the restored one); after them the restored one is ``latest``.

This module reads checkpoint folders with ``json`` alone: :mod:`engine.swap.checkpoint`
imports torch at its top, and the editor lists checkpoints every few seconds without
ever loading torch. The file names and the completeness test mirror that module's (a
test checks they agree).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import FacesmithError
from engine.project.changes import ChangeSet
from engine.project.layout import inside
from engine.project.store import ProjectStore

# The checkpoint format's names (engine.swap.checkpoint, which needs torch to import).
from engine.swap.checkpoint_files import (  # noqa: F401 - shared with engine.swap.checkpoint
    BACKUPS,
    FORMAT,
    LATEST,
    OPTIMIZER,
    STATE,
    WEIGHTS,
    read_complete_state,
)


class RestoreError(FacesmithError):
    """A checkpoint cannot be restored (training runs, not a backup of the model, ...)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """One complete checkpoint folder of a model.

    Attributes
    ----------
    path : the folder.
    name : ``latest`` or the backup folder's name (``00000012-it4000``).
    iteration, serial, saved_at : from its state.
    is_latest : it is ``latest/``.
    has_optimizer : the optimiser file is there (only `latest` keeps it: backups hold weights).
    size_bytes : its files together.
    """

    path: Path
    name: str
    iteration: int
    serial: int
    saved_at: float
    is_latest: bool
    has_optimizer: bool
    size_bytes: int


_state = read_complete_state


def _info(d: Path, state: dict[str, Any], *, is_latest: bool) -> CheckpointInfo:
    size = 0
    for f in d.iterdir():
        try:
            size += f.stat().st_size
        except OSError:
            pass
    return CheckpointInfo(d, LATEST if is_latest else d.name, int(state.get("iteration", 0)),
                          int(state.get("serial", 0)), float(state.get("saved_at", 0.0)), is_latest,
                          (d / OPTIMIZER).is_file(), size)


def list_checkpoints(folder: str | Path) -> list[CheckpointInfo]:
    """A model folder's complete checkpoints: ``latest`` first, then backups newest first.

    Unfinished temporary folders of a save in progress are not listed.
    """
    root = Path(folder)
    out: list[CheckpointInfo] = []
    latest = root / LATEST
    if latest.is_dir() and (st := _state(latest)) is not None:
        out.append(_info(latest, st, is_latest=True))
    backups = []
    if (root / BACKUPS).is_dir():
        for d in (root / BACKUPS).iterdir():
            if d.is_dir() and (st := _state(d)) is not None:
                backups.append(_info(d, st, is_latest=False))
    backups.sort(key=lambda c: (c.serial, c.saved_at), reverse=True)
    return out + backups


def model_folder(store: ProjectStore, model_id: int) -> Path:
    row = store.row("models", model_id)
    if row is None or row["kind"] != "swap":
        raise RestoreError(f"{store.root}: no swap model with id {model_id}")
    return inside(store.root, row["path"] or f"models/{model_id}/")


def training_job(store: ProjectStore, model_id: int) -> int | None:
    """The id of a running ``train_swap`` job that trains ``model_id``, if any."""
    rows = store.connection.execute(
        "SELECT id, params, checkpoint FROM jobs WHERE kind = 'train_swap' AND state = 'running'").fetchall()
    for r in rows:
        params = json.loads(r["params"] or "{}")
        ckpt = json.loads(r["checkpoint"]) if r["checkpoint"] else {}
        if model_id in (params.get("model"), ckpt.get("model_id")):
            return int(r["id"])
    return None


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # checkpoint files are never modified in place: sharing them is safe
    except OSError:
        shutil.copy2(src, dst)
        with open(dst, "rb") as fh:
            os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # directories cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore_checkpoint(store: ProjectStore, model_id: int, checkpoint_dir: str | Path, *,
                       job_id: int | None = None) -> ChangeSet:
    """Make the backup ``checkpoint_dir`` the latest checkpoint of swap model ``model_id``.

    Refused (nothing changed) while a job trains the model, for a folder that is not a
    complete backup of this model, and for ``latest`` itself. With ``job_id``, a
    ``restore`` event is recorded on that job at the restored iteration (the training
    monitor draws it on the loss curve). Returns the change set (the model row).
    """
    folder = model_folder(store, model_id)
    try:
        src = inside(folder, Path(checkpoint_dir).resolve())
    except ValueError:
        raise RestoreError(f"{checkpoint_dir}: not a checkpoint of model {model_id} (its folder is {folder})") from None
    if src.resolve() == (folder / LATEST).resolve():
        raise RestoreError(f"{src}: this is already the latest checkpoint of model {model_id}")
    if src.parent.resolve() != (folder / BACKUPS).resolve():
        raise RestoreError(f"{src}: not a backup of model {model_id} (backups are in {folder / BACKUPS})")
    state = _state(src)
    if state is None:
        raise RestoreError(f"{src}: not a complete checkpoint (it may have been removed by backup rotation)")
    running = training_job(store, model_id)
    if running is not None:
        raise RestoreError(f"job {running} is training model {model_id}: pause or stop it before restoring")
    if state.get("kind", "swap") != "swap" or int(state.get("model_id", model_id)) != model_id:
        raise RestoreError(f"{src}: a checkpoint of another model")

    # 1. The restored checkpoint, complete, in a temporary folder (no lock held: big copies).
    serials = [int(s.get("serial", 0)) for d in (folder / LATEST, *(folder / BACKUPS).glob("*"))
               if (s := _state(d)) is not None]
    tmp = folder / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for f in src.iterdir():
            if f.is_file() and f.name != STATE:
                _link_or_copy(f, tmp / f.name)
        new_state = dict(state, serial=max(serials, default=0) + 1, saved_at=time.time(), restored_from=src.name)
        with open(tmp / STATE, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(new_state, allow_nan=False))
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        iteration = int(state.get("iteration", 0))
        now = time.time()
        # 2. Swap it in while holding the project's write lock: no job can start on the model.
        with store.transaction() as c:
            running = training_job(store, model_id)
            if running is not None:
                raise RestoreError(f"job {running} is training model {model_id}: pause or stop it before restoring")
            latest = folder / LATEST
            old = _state(latest) if latest.exists() else None
            if latest.exists():
                name = f"{int((old or {}).get('serial', 0)):08d}-it{int((old or {}).get('iteration', 0))}"
                target = folder / BACKUPS / name
                if target.exists():
                    target = folder / BACKUPS / f"{name}-{uuid.uuid4().hex[:6]}"
                os.rename(latest, target)
            os.rename(tmp, latest)
            _fsync_dir(folder)
            row = store.row("models", model_id) or {}
            config = json.loads(row.get("config") or "{}")
            if "model_config" in state:
                config["model"] = state["model_config"]
            if "train_config" in state:
                config["train"] = state["train_config"]
            c.execute("UPDATE models SET iteration = ?, config = ?, updated_at = ? WHERE id = ?",
                      (iteration, json.dumps(config), now, model_id))
            if job_id is not None:
                c.execute("INSERT INTO job_events (job_id, step, kind, text, t) VALUES (?, ?, 'restore', ?, ?)",
                          (job_id, iteration, f"model {model_id} restored to the checkpoint at iteration {iteration} "
                                              f"({src.name}); training continues from here", now))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ChangeSet.bulk("models", [model_id], label=f"Restore model {model_id} to iteration {iteration}")
