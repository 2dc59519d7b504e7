"""Face sets of any size: crops packed once on disk, a staging buffer, a device cache.

Keeping a whole face set on the device (:class:`~engine.swap.dataset.FaceSet`) costs
``5 * R * R`` bytes a face (3 image + 2 mask channels, uint8): 30,000 faces at 256 px
are 9.8 GB, more than an 8 GB GPU holds beside the model. Here instead

1. the selected faces are cropped and masked **once** and packed into one contiguous
   uint8 file in the project cache (``cache/facestore/<key>.faces``, written through a
   memory map, one ``(5, R, R)`` record a face, plus a ``.json`` index written last).
   The key hashes everything the records depend on (faces, landmarks, alignment, mask
   edits, framing, resolution), so a later session reuses the pack and any change
   makes a new one; a pack is complete only once its index exists (crash-safe);
2. :class:`StoredFaces` keeps as many records on the device as the **memory budget**
   allows. When the whole set fits, it is read to the device once (as before). When it
   does not, a batch's faces that are not cached are read with ``preadv`` straight into
   a pinned host staging buffer, copied to the device in one transfer, and take cache
   slots in clock order. Sampling is unchanged, uniform (or pose-uniform) over the
   **whole** set, not over what happens to be cached; a step reads at most its own
   batch (160 kB a face at 128 px) from the page cache or disk.

Records are read with ``preadv`` rather than through a mapping so the process's
resident memory stays the budget plus the staging buffer, however large the file (the
kernel's page cache holds the rest and gives it back under pressure).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import torch
from torch import Tensor

from engine.swap.config import SwapConfigError

PACK_VERSION: Final = 1
CHANNELS: Final = 5
FOLDER: Final = "facestore"
#: Packs kept in a project's cache (newest used first); older ones are deleted.
KEEP_PACKS: Final = 6
IMAGE_SUFFIXES: Final = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Pack:
    """A complete packed face set on disk."""

    path: Path  # the .faces file
    resolution: int
    face_ids: tuple[int, ...]
    yaw: np.ndarray  # float32 (N,)

    @property
    def record_bytes(self) -> int:
        return CHANNELS * self.resolution * self.resolution

    def __len__(self) -> int:
        return len(self.face_ids)


# ---------------------------------------------------------------------------- packing
def _index_path(data: Path) -> Path:
    return data.with_suffix(".json")


def open_pack(data: Path) -> Pack | None:
    """The pack at ``data`` if it is complete and consistent, else None."""
    try:
        meta = json.loads(_index_path(data).read_text(encoding="utf-8"))
        n, r = int(meta["count"]), int(meta["resolution"])
        if meta.get("version") != PACK_VERSION or data.stat().st_size != n * CHANNELS * r * r:
            return None
        return Pack(data, r, tuple(int(i) for i in meta["face_ids"]), np.asarray(meta["yaw"], np.float32))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_pack(data: Path, count: int, resolution: int, records: Any, *, face_ids: Sequence[int],
               yaw: Sequence[float]) -> Pack:
    """Write ``records`` (an iterable of ``(i, record (5, R, R) uint8)``) into a new pack.

    The data goes to a temporary file through a memory map, is flushed and fsynced, then
    renamed; the index is written last, so a crash leaves no pack that looks complete.
    """
    data.parent.mkdir(parents=True, exist_ok=True)
    tmp = data.with_name(f".{data.name}.{os.getpid()}.tmp")
    rec = CHANNELS * resolution * resolution
    try:
        with open(tmp, "wb") as fh:
            fh.truncate(count * rec)
        mm = np.memmap(tmp, dtype=np.uint8, mode="r+", shape=(count, CHANNELS, resolution, resolution))
        for i, record in records:
            mm[i] = record
        mm.flush()
        del mm
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, data)
        meta = {"version": PACK_VERSION, "count": count, "resolution": resolution, "face_ids": list(face_ids),
                "yaw": [round(float(y), 3) for y in yaw], "created_at": time.time()}
        itmp = _index_path(data).with_name(f".{data.stem}.{os.getpid()}.json.tmp")
        itmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(itmp, _index_path(data))
    finally:
        tmp.unlink(missing_ok=True)
    pack = open_pack(data)
    assert pack is not None
    return pack


def _prune(folder: Path, keep: Path) -> None:
    packs = sorted(folder.glob("*.faces"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in packs[KEEP_PACKS:]:
        if old != keep:
            old.unlink(missing_ok=True)
            _index_path(old).unlink(missing_ok=True)


def project_key(store: Any, faces: Sequence[Any], face_type: str, resolution: int) -> str:
    """What a project pack's records depend on, hashed: faces, geometry, mask edits, framing."""
    h = hashlib.sha256(f"v{PACK_VERSION}|{face_type}|{resolution}|".encode())
    edits = dict(store.connection.execute("SELECT face_id, max(updated_at) FROM masks GROUP BY face_id").fetchall())
    for f in faces:
        h.update(f"{f.id}|{f.crop_size}|{edits.get(f.id, 0)}|".encode())
        h.update(np.asarray(f.landmarks, np.float32).tobytes())
        h.update(np.asarray(f.alignment, np.float64).tobytes())
    return h.hexdigest()[:24]


def pack_project_faces(store: Any, faces: Sequence[Any], *, face_type: str, resolution: int,
                       progress: Progress | None = None, what: str = "face set") -> Pack:
    """The pack of ``faces`` (as selected by :func:`engine.swap.dataset.select_faces`),
    made now if the cache has none: the same crops and masks the in-memory face set has."""
    from engine.faces.align import transform_points
    from engine.masks.crops import CropReader
    from engine.masks.repo import crop_matrix
    from engine.masks.resolve import best_mask
    from engine.swap.dataset import eyes_mouth_mask

    if not faces:
        raise SwapConfigError(f"the {what} is empty: extract faces first, or include some excluded ones")
    folder = Path(store.root) / "cache" / FOLDER
    data = folder / f"{project_key(store, faces, face_type, resolution)}.faces"
    pack = open_pack(data)
    if pack is not None:
        os.utime(data)
        return pack
    r, n = resolution, len(faces)
    row = {f.id: i for i, f in enumerate(faces)}

    def records() -> Any:
        with CropReader(store, face_type, r) as reader:
            for done, (face, crop) in enumerate(reader.read(faces), start=1):
                rec = np.empty((CHANNELS, r, r), np.uint8)
                rec[:3] = np.asarray(crop).transpose(2, 0, 1)
                face_mask = best_mask(store, face, face_type=face_type, size=r).mask
                rec[3] = face_mask
                rec[4] = eyes_mouth_mask(transform_points(face.landmarks, crop_matrix(face, face_type, r)), face_mask)
                if progress is not None and done % 16 == 0:
                    progress(done, n)
                yield row[face.id], rec

    pack = write_pack(data, n, r, records(), face_ids=[f.id for f in faces],
                      yaw=[0.0 if f.yaw is None else float(f.yaw) for f in faces])
    _prune(folder, data)
    return pack


def pack_folder(folder: str | Path, cache: str | Path, *, resolution: int, progress: Progress | None = None) -> Pack:
    """A generic face set for pretraining: every image in ``folder`` (e.g. an exported
    DeepFaceLab ``aligned`` folder), taken as an already aligned face crop and resized to
    ``resolution``. Such folders carry no masks Facesmith reads (DeepFaceLab's are
    pickles, never loaded), so the face mask covers the crop and there is no eyes/mouth
    mask: pretraining learns faces in general, the real model learns the masks."""
    src = Path(folder)
    if not src.is_dir():
        raise SwapConfigError(f"{src}: the pretraining face folder does not exist")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise SwapConfigError(f"{src}: no face images ({', '.join(IMAGE_SUFFIXES)}) in the pretraining folder")
    h = hashlib.sha256(f"v{PACK_VERSION}|folder|{src.resolve()}|{resolution}|".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.name}|{st.st_size}|{st.st_mtime_ns}|".encode())
    data = Path(cache) / FOLDER / f"folder-{h.hexdigest()[:24]}.faces"
    pack = open_pack(data)
    if pack is not None:
        return pack
    # Decode-check first, so an unreadable file is refused before anything is written.
    for p in files:
        if cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_8) is None:
            raise SwapConfigError(f"{p}: not a readable image; remove it from the pretraining folder")

    def records() -> Any:
        for i, p in enumerate(files):
            img = cv2.resize(cv2.imread(str(p), cv2.IMREAD_COLOR), (resolution, resolution),
                             interpolation=cv2.INTER_AREA)
            rec = np.empty((CHANNELS, resolution, resolution), np.uint8)
            rec[:3] = img[:, :, ::-1].transpose(2, 0, 1)
            rec[3] = 255
            rec[4] = 0
            if progress is not None and (i + 1) % 16 == 0:
                progress(i + 1, len(files))
            yield i, rec

    pack = write_pack(data, len(files), resolution, records(), face_ids=list(range(len(files))),
                      yaw=[0.0] * len(files))
    return pack


# ---------------------------------------------------------------------------- budget
def training_bytes(model_cfg: Any, batch_size: int) -> int:
    """Rough device memory training needs besides the faces: weights, gradients and two
    optimiser moments (16 bytes a parameter), activations of both sides, and slack."""
    from engine.swap.archs import build_model

    with torch.device("meta"):
        params = sum(p.numel() for p in build_model(model_cfg).parameters())
    r = model_cfg.resolution
    # Both sides' decoder feature maps dominate: about eight float maps of d_dims channels
    # at full resolution per sample (a conservative figure; bf16 halves it on CUDA).
    activations = 2 * batch_size * r * r * model_cfg.d_dims * 4 * 8
    return int(params * 16 + activations + (1 << 29))


def free_bytes(device: torch.device) -> int:
    """Memory free on ``device`` now: CUDA's free memory, or the host's available RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def default_budget(device: torch.device, model_cfg: Any, batch_size: int) -> int:
    """The face cache's budget: what is free on the device minus the model's needs (on
    the host, half of that: the process shares the RAM with everything else), and never
    less than a small working cache of 16 batches (the rest then streams from the pack)."""
    spare = free_bytes(device) - training_bytes(model_cfg, batch_size)
    floor = 16 * max(1, batch_size) * CHANNELS * model_cfg.resolution ** 2
    return max(floor, spare if device.type == "cuda" else spare // 2)


# ---------------------------------------------------------------------------- the set
class StoredFaces:
    """A packed face set with a device cache of at most ``budget`` bytes.

    The interface the trainer uses is :class:`~engine.swap.dataset.FaceSet`'s:
    ``len``, ``yaw``, ``face_ids``, ``gather`` and ``preview_indices``.
    """

    def __init__(self, pack: Pack, device: torch.device | str, *, budget: int, max_batch: int = 64) -> None:
        self._fd = -1
        self.pack = pack
        self.device = torch.device(device)
        self.face_ids = pack.face_ids
        self.yaw = torch.from_numpy(pack.yaw.copy()).to(self.device)
        n, r, rec = len(pack), pack.resolution, pack.record_bytes
        self.capacity = min(n, budget // rec)
        need = min(n, 2 * max_batch)
        if self.capacity < need:
            raise SwapConfigError(f"the face cache budget ({budget / 2**20:.0f} MB) holds {self.capacity} faces of "
                                  f"{r} px; at least {need} are needed (two batches). Free device memory, lower the "
                                  f"batch size or raise the budget")
        self.resident = self.capacity >= n
        self.reads = 0  # records read from the file (tests, benchmarks)
        #: The training loop's batch prefetch thread and its previews gather concurrently.
        self._lock = threading.Lock()
        self._fd = os.open(pack.path, os.O_RDONLY)
        if self.resident:
            self.data = self._read_all()
            os.close(self._fd)
            self._fd = -1
            return
        pin = self.device.type == "cuda"
        self.cache = torch.empty((self.capacity, CHANNELS, r, r), dtype=torch.uint8, device=self.device)
        self.staging = torch.empty((max_batch * 3, CHANNELS, r, r), dtype=torch.uint8, pin_memory=pin)
        self._staging_np = self.staging.numpy()
        #: Marks the end of the last host-to-device copy out of the staging buffer: the
        #: buffer is not overwritten before the (asynchronous) copy has read it.
        self._copied = torch.cuda.Event() if self.device.type == "cuda" else None
        self.slot_of = np.full(n, -1, np.int64)
        self.owner = np.full(self.capacity, -1, np.int64)
        self._hand = 0

    def __len__(self) -> int:
        return len(self.face_ids)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if hasattr(self, "_fd"):
            self.close()

    def _read_all(self) -> Tensor:
        n, r, rec = len(self.pack), self.pack.resolution, self.pack.record_bytes
        out = torch.empty((n, CHANNELS, r, r), dtype=torch.uint8, device=self.device)
        chunk = max(1, (64 << 20) // rec)
        buf = np.empty((chunk, CHANNELS, r, r), np.uint8)
        for start in range(0, n, chunk):
            k = min(chunk, n - start)
            self._pread(buf[:k], start * rec)
            out[start:start + k] = torch.from_numpy(buf[:k]).to(self.device)
            self.reads += k
        return out

    def _pread(self, view: np.ndarray, offset: int) -> None:
        mv = memoryview(view).cast("B")
        got = 0
        while got < len(mv):
            k = os.preadv(self._fd, [mv[got:]], offset + got)
            if k <= 0:
                raise SwapConfigError(f"{self.pack.path}: the face pack is shorter than its index says; delete it "
                                      "and train again (it is re-made)")
            got += k

    def _read_direct(self, ids: np.ndarray) -> np.ndarray:
        r, rec = self.pack.resolution, self.pack.record_bytes
        out = np.empty((len(ids), CHANNELS, r, r), np.uint8)
        for j, face in enumerate(ids):
            self._pread(out[j], int(face) * rec)
        self.reads += len(ids)
        return out

    def _fetch(self, ids: np.ndarray) -> Tensor:
        """Cache slots of ``ids`` (unique face indices), reading the missing ones."""
        slots = self.slot_of[ids]
        missing = np.flatnonzero(slots < 0)
        if len(missing):
            keep = set(slots[slots >= 0].tolist())
            rec = self.pack.record_bytes
            todo = ids[missing]
            if len(todo) > len(self.staging):
                raise ValueError(f"batch of {len(todo)} faces exceeds the staging buffer ({len(self.staging)})")
            if self._copied is not None:
                self._copied.synchronize()
            for j, face in enumerate(todo):
                self._pread(self._staging_np[j], int(face) * rec)
            self.reads += len(todo)
            new_slots = np.empty(len(todo), np.int64)
            for j in range(len(todo)):
                while self._hand in keep:
                    self._hand = (self._hand + 1) % self.capacity
                slot = self._hand
                self._hand = (self._hand + 1) % self.capacity
                old = self.owner[slot]
                if old >= 0:
                    self.slot_of[old] = -1
                self.owner[slot] = todo[j]
                self.slot_of[todo[j]] = slot
                keep.add(slot)
                new_slots[j] = slot
            staged = self.staging[:len(todo)].to(self.device, non_blocking=True)
            if self._copied is not None:
                self._copied.record()
            self.cache[torch.from_numpy(new_slots).to(self.device)] = staged
            slots = self.slot_of[ids]
        return torch.from_numpy(slots).to(self.device)

    def gather(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Images ``(B, 3, R, R)`` and masks ``(B, 2, R, R)`` of faces ``idx`` on the device."""
        if self.resident:
            rec = self.data[idx]
        else:
            ids = idx.detach().cpu().numpy().astype(np.int64)
            uniq, inverse = np.unique(ids, return_inverse=True)
            with self._lock:
                if len(uniq) > min(self.capacity, len(self.staging)):  # more than a batch: read past the cache
                    rec = torch.from_numpy(self._read_direct(uniq)).to(self.device)[torch.from_numpy(inverse)
                                                                                    .to(self.device)]
                else:
                    slots = self._fetch(uniq)
                    rec = self.cache[slots[torch.from_numpy(inverse).to(self.device)]]
        return rec[:, :3].contiguous(), rec[:, 3:].contiguous()

    def preview_indices(self, k: int) -> list[int]:
        n = len(self)
        return [int(i) for i in np.linspace(0, n - 1, num=min(k, n)).round()]

    @property
    def device_bytes(self) -> int:
        """Device memory the faces take (cache or whole set)."""
        return self.capacity * self.pack.record_bytes
