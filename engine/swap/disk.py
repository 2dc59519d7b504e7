"""The models' disk use and the "prune backups" action (CLI and editor), without torch.

A model folder (:mod:`engine.swap.checkpoint`) holds ``latest`` (weights, optimizer state,
state) and ``backups/`` (weights, state, and the optimizer parts kept in backups: a GAN's
discriminators). Files hard-linked between checkpoints (a
save whose weights did not change) are counted once: what is shown is what deleting
would free. Pruning removes backups, newest kept first, never ``latest``; it is refused
while a job trains the model, whose rotation could be mid-rename.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FacesmithError
from engine.project.store import ProjectStore
from engine.swap.checkpoint_files import BACKUPS, LATEST, OPTIMIZER, WEIGHTS, optimizer_file, read_complete_state


class PruneError(FacesmithError):
    """Backups cannot be pruned now (the model is training, no such model)."""


@dataclass(frozen=True)
class ModelDiskUse:
    """One model's checkpoints on disk, in bytes (hard links counted once)."""

    model_id: int
    name: str
    folder: Path
    latest_bytes: int
    weights_bytes: int
    optimizer_bytes: int
    backups: int
    backups_bytes: int
    other_bytes: int  # temporary folders of a save in progress or a crash
    kept_bytes: int = 0  # optimizer parts that every backup keeps too (the discriminators')

    @property
    def total_bytes(self) -> int:
        return self.latest_bytes + self.backups_bytes + self.other_bytes

    @property
    def budget_bytes(self) -> int:
        """What the layout promises: 1.2 x (weights + one optimizer state) + weights (and
        kept optimizer parts) per backup."""
        per_backup = self.weights_bytes + self.kept_bytes
        return int(1.2 * (per_backup + self.optimizer_bytes)) + self.backups * per_backup


def folder_bytes(d: Path, seen: set[tuple[int, int]] | None = None) -> int:
    """Bytes of the files under ``d``, a hard-linked file counted once (backups link the
    weights they share with ``latest``); ``seen`` carries that across several folders."""
    seen = set() if seen is None else seen
    total = 0
    for f in d.rglob("*"):
        try:
            st = f.lstat()
        except OSError:
            continue
        if not f.is_file():
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        total += st.st_size
    return total


def folder_use(model_id: int, name: str, folder: Path) -> ModelDiskUse:
    seen: set[tuple[int, int]] = set()
    latest = folder / LATEST
    latest_bytes = folder_bytes(latest, seen) if latest.is_dir() else 0
    weights = (latest / WEIGHTS).stat().st_size if (latest / WEIGHTS).exists() else 0
    optimizer = (latest / OPTIMIZER).stat().st_size if (latest / OPTIMIZER).exists() else 0
    state = read_complete_state(latest) or {}
    kept = sum(f.stat().st_size for n in (state.get("parts") or {}).get("kept", [])
               if (f := latest / optimizer_file(n)).is_file())
    backups = [d for d in sorted((folder / BACKUPS).glob("*")) if d.is_dir()] if (folder / BACKUPS).is_dir() else []
    backups_bytes = sum(folder_bytes(d, seen) for d in backups)
    other = sum(folder_bytes(d, seen) for d in folder.glob(".tmp-*") if d.is_dir())
    return ModelDiskUse(model_id, name, folder, latest_bytes, weights, optimizer, len(backups), backups_bytes, other,
                        kept)


def _models(store: ProjectStore, model_id: int | None) -> list[tuple[int, str, Path]]:
    from engine.project.layout import inside

    rows = store.query("SELECT id, name, kind, path FROM models ORDER BY id")
    out = [(int(r["id"]), str(r["name"]), inside(store.root, r["path"] or f"models/{r['id']}/"))
           for r in rows if model_id is None or int(r["id"]) == model_id]
    if model_id is not None and not out:
        raise PruneError(f"{store.root}: no model with id {model_id}")
    return out


def disk_use(store: ProjectStore, model_id: int | None = None) -> list[ModelDiskUse]:
    """Every model's (or one model's) checkpoints on disk."""
    return [folder_use(i, n, f) for i, n, f in _models(store, model_id)]


def _training(store: ProjectStore, model_id: int) -> int | None:
    for r in store.query("SELECT id, kind, params, checkpoint FROM jobs WHERE state = 'running'"):
        import json

        for blob in (r["params"], r["checkpoint"]):
            try:
                data = json.loads(blob or "{}")
            except ValueError:
                continue
            if isinstance(data, dict) and model_id in (data.get("model"), data.get("model_id")):
                return int(r["id"])
    return None


def prune_backups(store: ProjectStore, model_id: int | None = None, *, keep: int = 0) -> dict[int, int]:
    """Delete backups of every model (or one), keeping the newest ``keep``; returns the
    bytes freed per model. ``latest`` is never touched."""
    if keep < 0:
        raise PruneError(f"keep must be >= 0, got {keep}")
    freed: dict[int, int] = {}
    for mid, name, folder in _models(store, model_id):
        job = _training(store, mid)
        if job is not None:
            if model_id is not None:
                raise PruneError(f"model {mid} ({name}) is being trained by job {job}; pause it first")
            continue
        before = folder_use(mid, name, folder).total_bytes
        found = []
        for d in (folder / BACKUPS).glob("*") if (folder / BACKUPS).is_dir() else []:
            st = read_complete_state(d)
            found.append((int(st.get("serial", 0)) if st else -1, d))
        found.sort(reverse=True)
        for _, d in found[keep:]:
            shutil.rmtree(d, ignore_errors=True)
        freed[mid] = before - folder_use(mid, name, folder).total_bytes
    return freed


def human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def report(uses: list[ModelDiskUse]) -> list[str]:
    """Lines for ``facesmith models-disk`` and the editor's dialog."""
    if not uses:
        return ["no models"]
    lines = []
    for u in uses:
        lines.append(f"[{u.model_id}] {u.name}: {human(u.total_bytes)} (latest {human(u.latest_bytes)}: weights "
                     f"{human(u.weights_bytes)} + optimizer {human(u.optimizer_bytes)}; {u.backups} backup"
                     f"{'s' if u.backups != 1 else ''} {human(u.backups_bytes)}"
                     + (f"; unfinished saves {human(u.other_bytes)}" if u.other_bytes else "") + ")")
    lines.append(f"total {human(sum(u.total_bytes for u in uses))}")
    return lines
