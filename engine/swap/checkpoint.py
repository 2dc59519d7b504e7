"""Checkpoints that survive anything: atomic, verifiable, pickle-free to load.

A checkpoint is a folder of three files:

- ``model.safetensors``: the weights (safetensors cannot run code when read);
- ``state.json``: iteration, configs, loss history, RNG states, and the sizes of the
  other files, written **last**, so its presence marks the folder complete;
- ``optimizer.pt``: the optimiser state, tensors and plain values only, saved with
  ``torch.save`` and read with ``torch.load(weights_only=True)``. Anything else (a
  pickle of arbitrary objects) is refused, never unpickled (ARCHITECTURE.md section 7).

A model folder holds ``latest/`` and ``backups/``. Saving writes a new ``.tmp-*`` folder,
moves the previous ``latest`` into ``backups/``, then renames the new folder to
``latest``; every file and folder is fsynced first. A crash at any moment leaves at
least one complete checkpoint, and :func:`find_latest` takes the newest complete one,
wherever it is (``latest``, a backup, or a finished temporary folder). Backups rotate:
the newest ``keep_last`` are kept whole, older ones one per hour (weights and state
only, up to ``keep_hourly``), like DeepFaceLab's autobackups but bounded in disk.

The module knows nothing about swap models; the XSeg trainer uses it as is.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.errors import FacesmithError

from engine.swap.checkpoint_files import (  # noqa: F401 - the layout is part of this module's API
    BACKUPS,
    FORMAT,
    LATEST,
    OPTIMIZER,
    STATE,
    WEIGHTS,
    read_complete_state,
)

VERSION: Final = 1


class CheckpointError(FacesmithError):
    """A checkpoint is missing, incomplete, of the wrong kind, or unsafe to load."""


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint. ``optimizer`` is None when its file is absent (hourly backups)."""

    path: Path
    weights: dict[str, torch.Tensor]
    state: dict[str, Any]
    optimizer: dict[str, Any] | None


# ---------------------------------------------------------------------------- writing
def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_plain(obj: Any, where: str = "optimizer state") -> None:
    """Refuse to *write* anything ``torch.load(weights_only=True)`` would refuse to read."""
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise CheckpointError(f"{where}: key {k!r} is not a string or integer")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise CheckpointError(f"{where}: {type(obj).__name__} cannot go into a checkpoint (tensors and plain values only)")


def save(folder: str | Path, *, weights: Mapping[str, torch.Tensor], state: Mapping[str, Any],
         optimizer: Mapping[str, Any] | None = None, keep_last: int = 2, keep_hourly: int = 12) -> Path:
    """Write a checkpoint atomically as ``folder/latest``; returns its path.

    ``state`` must be JSON-serialisable; ``format``, ``version``, ``serial``,
    ``saved_at`` and ``files`` are added.
    """
    root = Path(folder)
    (root / BACKUPS).mkdir(parents=True, exist_ok=True)
    previous = _read_state_quiet(root / LATEST)
    # The serial orders checkpoints even when iterations restart (end of pretraining)
    # and when a crash left the newest one outside ``latest``.
    serial = max((int(st.get("serial", 0)) for st, _ in candidates(root)), default=0) + 1
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        _fsync(tmp / WEIGHTS)
        files = {WEIGHTS: (tmp / WEIGHTS).stat().st_size}
        if optimizer is not None:
            _check_plain(dict(optimizer))
            torch.save(dict(optimizer), tmp / OPTIMIZER)
            _fsync(tmp / OPTIMIZER)
            files[OPTIMIZER] = (tmp / OPTIMIZER).stat().st_size
        full = dict(state)
        full.update(format=FORMAT, version=VERSION, serial=serial,
                    saved_at=time.time(), files=files)
        text = json.dumps(full, allow_nan=False)
        with open(tmp / STATE, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync(tmp)
        latest = root / LATEST
        if latest.exists():
            old = previous or {}
            name = f"{int(old.get('serial', 0)):08d}-it{int(old.get('iteration', 0))}"
            target = root / BACKUPS / name
            if target.exists():
                target = root / BACKUPS / f"{name}-{uuid.uuid4().hex[:6]}"
            os.rename(latest, target)
        os.rename(tmp, latest)
        _fsync(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(root, keep_last=keep_last, keep_hourly=keep_hourly)
    return root / LATEST


def _prune(root: Path, *, keep_last: int, keep_hourly: int) -> None:
    """Rotate backups; drop temporary folders of processes that are gone."""
    for tmp in root.glob(".tmp-*"):
        pid = tmp.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
    backups = []
    for d in (root / BACKUPS).iterdir():
        st = _read_state_quiet(d)
        if st is None:
            shutil.rmtree(d, ignore_errors=True)  # incomplete: never loadable
            continue
        backups.append((int(st.get("serial", 0)), float(st.get("saved_at", 0.0)), d))
    backups.sort(reverse=True)
    hours: set[int] = set()
    for i, (_, saved_at, d) in enumerate(backups):
        if i < keep_last:
            continue
        hour = int(saved_at // 3600)
        if hour not in hours and len(hours) < keep_hourly:
            hours.add(hour)
            (d / OPTIMIZER).unlink(missing_ok=True)  # hourly copies: weights and state only
            continue
        shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------- reading
_read_state_quiet = read_complete_state


def candidates(folder: str | Path) -> list[tuple[dict[str, Any], Path]]:
    """Every complete checkpoint under a model folder, newest first."""
    root = Path(folder)
    dirs = [root / LATEST, *sorted((root / BACKUPS).glob("*")), *sorted(root.glob(".tmp-*"))]
    found = [(st, d) for d in dirs if d.is_dir() and (st := _read_state_quiet(d)) is not None]
    found.sort(key=lambda sd: (int(sd[0].get("serial", 0)), float(sd[0].get("saved_at", 0.0))), reverse=True)
    return found


def find_latest(folder: str | Path) -> Path | None:
    """The newest complete checkpoint folder under ``folder``, or None."""
    found = candidates(folder)
    return found[0][1] if found else None


def read_state(checkpoint_dir: str | Path) -> dict[str, Any]:
    d = Path(checkpoint_dir)
    try:
        state = json.loads((d / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{d}: no {STATE}; not a checkpoint (or an incomplete one)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{d / STATE}: unreadable ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{d / STATE}: not a Facesmith checkpoint")
    if int(state.get("version", 0)) > VERSION:
        raise CheckpointError(f"{d}: checkpoint version {state['version']} is newer than this Facesmith reads "
                              f"({VERSION}); update Facesmith")
    return state


def load_weights(path: str | Path, *, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; anything else is refused with a message naming it."""
    p = Path(path)
    try:
        return load_file(str(p), device=str(device))
    except FileNotFoundError:
        raise CheckpointError(f"{p}: weights file missing") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{p}: refused: not a safetensors weights file ({exc})") from None


def load_optimizer(path: str | Path, *, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read an optimiser file with ``weights_only=True``; a pickle of arbitrary objects is
    refused (and nothing of it is executed)."""
    p = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about the protocol of files it then refuses
            warnings.simplefilter("ignore", UserWarning)
            data = torch.load(p, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{p}: optimizer file missing") from None
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsupported content"
        raise CheckpointError(f"{p}: refused: it is a pickle of arbitrary Python objects, not tensors and plain "
                              f"values; Facesmith never loads such files ({first})") from None
    except (OSError, RuntimeError, ValueError, EOFError, AttributeError, ImportError) as exc:
        raise CheckpointError(f"{p}: refused: not a readable optimizer file ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{p}: refused: expected a dict of optimizer state, found {type(data).__name__}")
    return data


def load(checkpoint_dir: str | Path, *, device: str | torch.device = "cpu", with_optimizer: bool = True) -> Checkpoint:
    """Load one checkpoint folder (see :func:`find_latest` for a model folder)."""
    d = Path(checkpoint_dir)
    state = read_state(d)
    weights = load_weights(d / WEIGHTS, device=device)
    optimizer = None
    if with_optimizer and (d / OPTIMIZER).exists():
        optimizer = load_optimizer(d / OPTIMIZER, device=device)
    return Checkpoint(d, weights, state, optimizer)
