"""Checkpoints that survive anything: atomic, verifiable, pickle-free to load.

A checkpoint is a folder of these files:

- ``model.safetensors``: the weights (safetensors cannot run code when read);
- ``state.json``: iteration, configs, loss history, RNG states, and the sizes of the
  other files, written **last**, so its presence marks the folder complete;
- ``optimizer.pt``: the optimiser state, tensors and plain values only, saved with
  ``torch.save`` and read with ``torch.load(weights_only=True)``. Anything else (a
  pickle of arbitrary objects) is refused, never unpickled (ARCHITECTURE.md section 7);
- extra named parts a trainer plugs in (a GAN discriminator, ...): ``modules={"disc":
  weights}`` goes to ``disc.safetensors`` and ``optimizers={"disc": state}`` to
  ``optimizer-disc.pt``; :class:`Checkpoint` hands them back by name. They are checked,
  linked, kept in backups (weights) and dropped from backups (optimizers) like the main ones,
  except the optimizer parts named in ``kept_in_backups``: small states a resume needs
  exactly (the swap trainer's discriminators), which backups keep beside the weights.

**Only finite checkpoints are written**: :func:`save` refuses weights or optimizer state
holding a NaN or an infinity (:class:`CheckpointRefused`), and marks what it wrote
``checked``; :func:`load_newest_good` (every rollback) takes the newest checkpoint whose
tensors are finite, falling back through the backups, so a bad one is never gone back to.

A model folder holds ``latest/`` and ``backups/``. Saving writes a new ``.tmp-*`` folder,
moves the previous ``latest`` into ``backups/``, then renames the new folder to
``latest``; every file and folder is fsynced first. A crash at any moment leaves at
least one complete checkpoint, and :func:`find_latest` takes the newest complete one,
wherever it is (``latest``, a backup, or a finished temporary folder).

**Disk budget**: the optimizer state (often larger than the weights) lives in
``latest`` only; a backup keeps weights and state, and the optimizer parts saved as
``kept_in_backups`` (the discriminators' moments: a restored backup trains its GAN on
exactly as the checkpoint it was; the generator's moments restart). A file equal to the one in the
previous ``latest`` (a pause right after a checkpoint) is hard-linked, not written
again. So a model takes the weights and one optimizer state plus one weights file per
backup. Backups rotate: the newest ``keep_last``, then one per hour up to ``keep_hourly``.

The module knows nothing about swap models; the XSeg trainer uses it as is.
"""

from __future__ import annotations

import filecmp
import json
import math
import os
import pickle
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
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
    module_file,
    optimizer_file,
    read_complete_state,
)

VERSION: Final = 1


_PART = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class CheckpointError(FacesmithError):
    """A checkpoint is missing, incomplete, of the wrong kind, or unsafe to load."""


class CheckpointRefused(CheckpointError):
    """Not written: the weights or optimizer state hold a NaN or an infinity."""


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint. ``optimizer`` is None when its file is absent (backups);
    ``modules`` / ``optimizers`` are the extra named parts (absent ones are missing)."""

    path: Path
    weights: dict[str, torch.Tensor]
    state: dict[str, Any]
    optimizer: dict[str, Any] | None
    modules: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)


def nonfinite(obj: Any, where: str = "weights") -> str | None:
    """Where ``obj`` (tensors, nested in dicts/lists) holds a NaN or an inf; None if nowhere."""
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() or obj.is_complex():
            if not bool(torch.isfinite(obj).all()):
                return where
        return None
    if isinstance(obj, float):
        return None if math.isfinite(obj) else where
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if (bad := nonfinite(v, f"{where}[{k!r}]")) is not None:
                return bad
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            if (bad := nonfinite(v, f"{where}[{i}]")) is not None:
                return bad
    return None


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
         optimizer: Mapping[str, Any] | None = None, keep_last: int = 2, keep_hourly: int = 12,
         modules: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
         optimizers: Mapping[str, Mapping[str, Any]] | None = None,
         kept_in_backups: Collection[str] = ()) -> Path:
    """Write a checkpoint atomically as ``folder/latest``; returns its path.

    ``state`` must be JSON-serialisable; ``format``, ``version``, ``serial``,
    ``saved_at``, ``checked``, ``files`` and ``parts`` are added. ``kept_in_backups``
    names parts of ``optimizers`` that stay when this checkpoint becomes a backup. Raises :class:`CheckpointRefused`
    (nothing written) when a tensor is not finite.
    """
    modules, optimizers = dict(modules or {}), dict(optimizers or {})
    for name in (*modules, *optimizers):
        if not _PART.match(name) or name == "model":
            raise CheckpointError(f"checkpoint part name {name!r} must be lowercase letters, digits, _ (not 'model')")
    kept = sorted(set(kept_in_backups))
    if unknown := [n for n in kept if n not in optimizers]:
        raise CheckpointError(f"kept_in_backups names {unknown}, which are not optimizer parts of this checkpoint")
    parts: list[tuple[str, Any, bool]] = [(WEIGHTS, weights, True)]
    parts += [(module_file(n), w, True) for n, w in modules.items()]
    if optimizer is not None:
        parts.append((OPTIMIZER, optimizer, False))
    parts += [(optimizer_file(n), o, False) for n, o in optimizers.items()]
    for fname, obj, _ in parts:
        if (bad := nonfinite(obj, fname)) is not None:
            raise CheckpointRefused(f"{folder}: checkpoint not written: {bad} holds a NaN or an infinity")
    root = Path(folder)
    (root / BACKUPS).mkdir(parents=True, exist_ok=True)
    previous = _read_state_quiet(root / LATEST)
    # The serial orders checkpoints even when iterations restart (end of pretraining)
    # and when a crash left the newest one outside ``latest``.
    serial = max((int(st.get("serial", 0)) for st, _ in candidates(root)), default=0) + 1
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files: dict[str, int] = {}
        for fname, obj, is_weights in parts:
            target = tmp / fname
            if is_weights:
                tensors = {k: v.detach().to("cpu").contiguous() for k, v in obj.items()}
                save_file(tensors, str(target), metadata={"format": FORMAT})
            else:
                _check_plain(dict(obj), fname)
                torch.save(dict(obj), target)
            _link_if_unchanged(target, root / LATEST / fname)
            _fsync(target)
            files[fname] = target.stat().st_size
        full = dict(state)
        full.update(format=FORMAT, version=VERSION, serial=serial, saved_at=time.time(), files=files, checked=True,
                    parts={"modules": sorted(modules), "optimizers": sorted(optimizers), "kept": kept})
        text = json.dumps(full, allow_nan=False)
        with open(tmp / STATE, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync(tmp)
        latest = root / LATEST
        moved: Path | None = None
        if latest.exists():
            old = previous or {}
            name = f"{int(old.get('serial', 0)):08d}-it{int(old.get('iteration', 0))}"
            moved = root / BACKUPS / name
            if moved.exists():
                moved = root / BACKUPS / f"{name}-{uuid.uuid4().hex[:6]}"
            os.rename(latest, moved)
        os.rename(tmp, latest)
        _fsync(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if moved is not None:
        _drop_optimizers(moved)  # the optimizer state lives in ``latest`` only (but the kept parts)
    _prune(root, keep_last=keep_last, keep_hourly=keep_hourly)
    return root / LATEST


def _link_if_unchanged(new: Path, old: Path) -> None:
    """Replace ``new`` by a hard link to ``old`` when their bytes are equal (a checkpoint
    of weights that did not change since the last one costs no disk)."""
    try:
        if old.stat().st_size != new.stat().st_size or not filecmp.cmp(old, new, shallow=False):
            return
        spare = new.with_name(new.name + ".link")
        os.link(old, spare)
        os.replace(spare, new)
    except OSError:
        return  # no hard links here (FAT, some network shares): keep the copy


def _drop_optimizers(d: Path, state: Mapping[str, Any] | None = None) -> None:
    """Delete a backup's optimizer files, but those of the parts its state keeps."""
    st = state if state is not None else (_read_state_quiet(d) or {})
    kept = {optimizer_file(n) for n in (st.get("parts") or {}).get("kept", [])}
    for f in d.glob("optimizer*.pt"):
        if f.name not in kept:
            f.unlink(missing_ok=True)


def _prune(root: Path, *, keep_last: int, keep_hourly: int) -> None:
    """Rotate backups (weights and kept parts); drop temporary folders of processes that are gone."""
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
        _drop_optimizers(d, st)  # left by a crash between the rename and the unlink
        backups.append((int(st.get("serial", 0)), float(st.get("saved_at", 0.0)), d))
    backups.sort(reverse=True)
    hours: set[int] = set()
    for i, (_, saved_at, d) in enumerate(backups):
        if i < keep_last:
            continue
        hour = int(saved_at // 3600)
        if hour not in hours and len(hours) < keep_hourly:
            hours.add(hour)
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
    parts = state.get("parts") or {}
    modules = {n: load_weights(d / module_file(n), device=device) for n in parts.get("modules", [])}
    optimizer = None
    optimizers: dict[str, dict[str, Any]] = {}
    if with_optimizer and (d / OPTIMIZER).exists():
        optimizer = load_optimizer(d / OPTIMIZER, device=device)
    if with_optimizer:
        optimizers = {n: load_optimizer(d / optimizer_file(n), device=device)
                      for n in parts.get("optimizers", []) if (d / optimizer_file(n)).exists()}
    return Checkpoint(d, weights, state, optimizer, modules, optimizers)


def load_newest_good(folder: str | Path, *, device: str | torch.device = "cpu",
                     skip: Callable[[dict[str, Any]], bool] | None = None) -> tuple[Checkpoint, list[str]] | None:
    """The newest checkpoint under a model folder whose tensors are all finite, falling
    back through the backups; and why each newer one was passed over. ``skip(state)``
    passes over others too (another phase). None when no checkpoint is good.

    A finite checkpoint whose optimizer state is not is still good: it comes back
    without that state (the moments restart).
    """
    passed: list[str] = []
    for st, d in candidates(folder):
        if skip is not None and skip(st):
            continue
        try:
            ck = load(d, device=device)
        except CheckpointError as exc:
            passed.append(f"{d.name}: {exc}")
            continue
        bad = nonfinite(ck.weights, WEIGHTS) or next(
            (b for n, w in ck.modules.items() if (b := nonfinite(w, module_file(n))) is not None), None)
        if bad is not None:
            passed.append(f"{d.name}: {bad} is not finite")
            continue
        if ck.optimizer is not None and nonfinite(ck.optimizer, OPTIMIZER) is not None:
            ck = Checkpoint(ck.path, ck.weights, ck.state, None, ck.modules, {})
            passed.append(f"{d.name}: optimizer state not finite, moments restart")
        if bad_parts := [n for n, o in ck.optimizers.items() if nonfinite(o) is not None]:
            ck = Checkpoint(ck.path, ck.weights, ck.state, ck.optimizer,
                            ck.modules, {n: o for n, o in ck.optimizers.items() if n not in bad_parts})
            passed.append(f"{d.name}: optimizer state of {', '.join(bad_parts)} not finite, their moments restart")
        return ck, passed
    return None
