"""Face sets for training: the project's faces re-cropped for the model, on the device.

A face set is every non-excluded face of one role (optionally of one person), cropped
with the model's face type and resolution and held as uint8 tensors on the training
device: ``images (N, 3, R, R)`` and ``masks (N, 2, R, R)`` (face, eyes/mouth). 10,000
faces at 256 px take 2 GB as uint8, a quarter of what float would.

Crops and face masks come from :mod:`engine.masks`, so training, merge and the editor
agree on both: :class:`~engine.masks.crops.CropReader` (the cached crop file when it
has the framing, else the frame) and :func:`~engine.masks.resolve.best_mask` (label
mask, else XSeg prediction, else propagated keyframe, else the landmark hull with the
eyebrows expanded). The eyes/mouth mask is training's own: eye and outer-lip hulls,
dilated, blurred and limited to the face mask, as DeepFaceLab weights its priority loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from engine.faces.align import transform_points
from engine.masks.crops import CropReader
from engine.masks.repo import crop_matrix
from engine.masks.resolve import best_mask
from engine.project.models import Face
from engine.project.store import ProjectStore
from engine.swap.config import SwapConfigError

#: Yaw range covered by the pose bins; faces beyond it fall into the end bins.
YAW_RANGE_DEG: Final = 70.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class FaceSet:
    """One identity's training faces on the device.

    Attributes
    ----------
    images : ``(N, 3, R, R)`` uint8 RGB crops.
    masks : ``(N, 2, R, R)`` uint8: channel 0 the face mask, 1 the eyes/mouth mask.
    yaw : ``(N,)`` float32 degrees (0 where unknown).
    face_ids : the faces' row ids, in tensor order.
    """

    images: Tensor
    masks: Tensor
    yaw: Tensor
    face_ids: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.face_ids)

    def gather(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Images and masks of the faces ``idx`` (the interface :mod:`engine.swap.facestore` shares)."""
        return self.images[idx], self.masks[idx]

    def to(self, device: torch.device) -> FaceSet:
        return FaceSet(self.images.to(device), self.masks.to(device), self.yaw.to(device), self.face_ids)

    def preview_indices(self, k: int) -> list[int]:
        """``k`` faces spread evenly over the set: the same rows in every preview."""
        n = len(self)
        return [int(i) for i in np.linspace(0, n - 1, num=min(k, n)).round()]


# ---------------------------------------------------------------------------- masks
def eyes_mouth_mask(points: npt.ArrayLike, face_mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Eyes and lips (crop coordinates), dilated by size/32, blurred by size/16, inside the face."""
    lm = np.asarray(points, dtype=np.float64)
    size = face_mask.shape[0]
    m = np.zeros((size, size), np.uint8)
    for part in (slice(36, 42), slice(42, 48), slice(48, 60)):
        cv2.fillConvexPoly(m, cv2.convexHull(np.round(lm[part]).astype(np.int32)), 255)
    k = max(3, size // 32)
    m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    b = max(3, size // 16) | 1
    m = cv2.GaussianBlur(m, (b, b), 0).astype(np.float32) * (face_mask > 127)
    peak = float(m.max())
    return (m * (255.0 / peak)).round().astype(np.uint8) if peak > 0 else m.astype(np.uint8)


# ---------------------------------------------------------------------------- loading
def select_faces(store: ProjectStore, role: str | None, person: int | None = None, *,
                 persons: Sequence[int] | None = None, clips: Sequence[int] | None = None) -> list[Face]:
    """The training set of ``role`` (any role when None): its faces not left out of
    training (``excluded``), of ``person``/``persons`` when given (any of them), of the
    clips ``clips`` (ids) when given."""
    roles = {c.id: c.role for c in store.clips()}
    faces = [f for f in store.faces(include_excluded=False) if role is None or roles.get(f.clip_id) == role]
    wanted = {int(p) for p in (persons or ())} | ({int(person)} if person is not None else set())
    if wanted:
        faces = [f for f in faces if f.person_id in wanted]
    if clips:
        chosen = {int(c) for c in clips}
        faces = [f for f in faces if f.clip_id in chosen]
    return faces


def training_selection(store: ProjectStore, role: str, persons: Sequence[int], clips: Sequence[int | str]
                       ) -> list[Face]:
    """The faces a training run takes for ``role`` from a request's persons and clips.

    With ``clips`` given, only those clips count, and a role none of whose clips is
    among them is refused (saying which clips it has) rather than silently taking all of
    them. Persons must exist and have faces of ``role``.
    """
    from engine.errors import FacesmithError

    clip_ids: list[int] | None = None
    if clips:
        found = [store.find_clip(c) for c in clips]
        mine = [c.id for c in found if c.role == role]
        if not mine:
            names = ", ".join(c.name for c in store.clips(role)) or "none"
            raise SwapConfigError(f"the clips chosen for training ({', '.join(c.name for c in found)}) include no "
                                  f"{role} clip; choose one ({role} clips: {names})")
        clip_ids = mine
    names = {p.id: p.name for p in store.persons()}
    for pid in persons:
        if pid not in names:
            raise FacesmithError(f"no person with id {pid}")
        n = int(store.scalar("SELECT count(*) FROM faces f JOIN clips c ON c.id = f.clip_id "
                             "WHERE f.person_id = ? AND c.role = ?", (pid, role)))
        if n == 0:
            raise SwapConfigError(f"person {pid} ({names[pid]}) has no {role} faces")
    return select_faces(store, role, persons=persons, clips=clip_ids)


def load_face_set(
    store: ProjectStore,
    faces: Sequence[Face],
    *,
    face_type: str,
    resolution: int,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    what: str = "face set",
) -> FaceSet:
    """Crop ``faces`` for a model, with their masks, and put them on ``device``."""
    if not faces:
        raise SwapConfigError(f"the {what} is empty: extract faces first, or include some excluded ones")
    n, r = len(faces), resolution
    images = np.empty((n, r, r, 3), np.uint8)
    masks = np.empty((n, 2, r, r), np.uint8)
    row = {f.id: i for i, f in enumerate(faces)}
    with CropReader(store, face_type, r) as reader:
        for done, (face, crop) in enumerate(reader.read(faces), start=1):
            i = row[face.id]
            images[i] = crop
            face_mask = best_mask(store, face, face_type=face_type, size=r).mask
            pts = transform_points(face.landmarks, crop_matrix(face, face_type, r))
            masks[i, 0] = face_mask
            masks[i, 1] = eyes_mouth_mask(pts, face_mask)
            if progress is not None and done % 16 == 0:
                progress(done, n)
    yaw = torch.tensor([0.0 if f.yaw is None else float(f.yaw) for f in faces], dtype=torch.float32)
    return FaceSet(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(masks), yaw,
                   tuple(f.id for f in faces)).to(torch.device(device))


# ---------------------------------------------------------------------------- sampling
class Sampler:
    """Draws face indices on the device, reproducibly.

    Plain mode walks shuffled epochs (every face once per epoch); the permutation of
    epoch *e* is a function of (seed, e), so the only state is how many samples were
    drawn. Pose-uniform mode picks a non-empty yaw bin uniformly, then a face in it, so
    a handful of profile faces are seen as often as thousands of frontal ones.
    """

    def __init__(self, yaw: Tensor, *, seed: int, uniform_yaw: bool = False, bins: int = 32) -> None:
        self.n = int(yaw.shape[0])
        self.device = yaw.device
        self.seed = seed
        self.uniform_yaw = uniform_yaw
        self.drawn = 0
        self._epoch = -1
        self._perm: Tensor | None = None
        b = ((yaw.clamp(-YAW_RANGE_DEG, YAW_RANGE_DEG - 1e-3) + YAW_RANGE_DEG) / (2 * YAW_RANGE_DEG) * bins).long()
        order = torch.argsort(b, stable=True)
        counts = torch.bincount(b, minlength=bins)
        starts = torch.cumsum(counts, 0) - counts
        nonempty = counts > 0
        self._order = order
        self._bin_starts = starts[nonempty]
        self._bin_counts = counts[nonempty]
        self.bins_used = int(nonempty.sum())

    def _permutation(self, epoch: int) -> Tensor:
        if epoch != self._epoch:
            g = torch.Generator(device=self.device).manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
            self._perm = torch.randperm(self.n, generator=g, device=self.device)
            self._epoch = epoch
        assert self._perm is not None
        return self._perm

    def draw(self, count: int, gen: torch.Generator) -> Tensor:
        if self.uniform_yaw:
            k = torch.randint(len(self._bin_counts), (count,), generator=gen, device=self.device)
            u = torch.rand(count, generator=gen, device=self.device)
            pos = self._bin_starts[k] + (u * self._bin_counts[k]).long().clamp_max(self._bin_counts[k] - 1)
            self.drawn += count
            return self._order[pos]
        out = []
        need = count
        while need:
            epoch, pos = divmod(self.drawn, self.n)
            take = min(need, self.n - pos)
            out.append(self._permutation(epoch)[pos:pos + take])
            self.drawn += take
            need -= take
        return torch.cat(out)
