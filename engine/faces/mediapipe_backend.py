"""The pose-robust backend: full-range BlazeFace detection and the 468-point face mesh,
mapped to the 68 iBUG points, all run in torch (``engine.faces.tflite_torch``).

Why these models: measured on this CPU, full-range BlazeFace finds close-up profiles
and three-quarter faces that dlib's HOG (a frontal detector) never finds, at a few ms a
frame; the face mesh is a 3D surface model, so its points keep their meaning on a
profile (the far cheek's contour is *behind* the nose, not smeared onto the near one).
The mesh's own MediaPipe detector finds almost nothing on profiles, so the mesh runs on
the crop our detector found, as MediaPipe itself does when it tracks.

Weights: the ``.tflite`` files of the ``mediapipe==0.10.14`` wheel (Apache-2.0),
installed with ``--no-deps``; a missing or unreadable file raises
:class:`~engine.faces.errors.BackendUnavailable` naming the file and the package, and
the extraction job falls back to dlib, saying so.

Per-point visibility: each of the 68 points' surface normal (from its mesh neighbours,
or from the generic 3D face at the estimated pose when the mesh was not needed) against
the view direction: 1 faces the camera, 0.5 is edge-on (the silhouette), 0 is turned
away (the far jaw of a profile). It is stored with the face so later steps know which points to
trust.

Batches and devices: :meth:`MediapipeBackend.detect_batch` and
:meth:`MediapipeBackend.mesh_batch` run many frames / faces in one torch call, on CUDA
when it is available (``device="auto"``), else on the CPU with one thread per process.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.backends import Box, Detection, Landmarks, RgbImage, as_rgb_image
from engine.faces.errors import BackendUnavailable, FaceAnalysisError
from engine.faces.mesh68 import MESH_TO_68, mesh_neighbours
from engine.faces.pose import estimate_pose

PACKAGE: Final = "mediapipe==0.10.14 (pip install --no-deps mediapipe==0.10.14, see the Makefile)"
DETECTOR_FILE: Final = "modules/face_detection/face_detection_full_range_sparse.tflite"
MESH_FILE: Final = "modules/face_landmark/face_landmark.tflite"
DETECT_SIDE: Final = 192
MESH_SIDE: Final = 192
#: The mesh crop around a detection: MediaPipe's own ROI scale for the face mesh.
ROI_SCALE: Final = 1.5
#: A first mesh rolled more than this (degrees) is redone on an upright crop.
REFINE_ROLL: Final = 15.0


def _roll(points: np.ndarray) -> float:
    """The in-plane angle of a mesh, from its outer eye corners (vertices 33 and 263)."""
    right, left = points[33, :2], points[263, :2]
    return math.degrees(math.atan2(left[1] - right[1], left[0] - right[0]))


def weight_path(name: str) -> Path:
    """The path of a weights file inside the installed mediapipe package, or a clear error."""
    from engine.faces.tflite_torch import mediapipe_dir

    root = mediapipe_dir()
    if root is None:
        raise BackendUnavailable("mediapipe", f"the package providing {name} is not installed: {PACKAGE}")
    path = root / name
    if not path.is_file():
        raise BackendUnavailable("mediapipe", f"weights file {path} is missing; reinstall {PACKAGE}")
    return path


@functools.cache
def _model(name: str, device: str) -> Any:
    from engine.faces.tflite_torch import TfliteError, TfliteModel

    path = weight_path(name)
    try:
        return TfliteModel(path).to(device)
    except TfliteError as exc:
        raise BackendUnavailable("mediapipe", f"weights file {path} is corrupt or unreadable ({exc}); "
                                 f"reinstall {PACKAGE}") from exc


@functools.cache
def _anchors() -> npt.NDArray[np.float32]:
    """Full-range BlazeFace anchors: one per cell of a 48x48 grid (stride 4 at 192 px)."""
    n = DETECT_SIDE // 4
    ys, xs = np.mgrid[0:n, 0:n]
    return np.stack([(xs.ravel() + 0.5) / n, (ys.ravel() + 0.5) / n], axis=1).astype(np.float32)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


#: The helping HOG pass runs on frames scaled to at most this side: it only has to box
#: the faces it can give the precise dlib points to; smaller faces take the mesh path.
HOG_ASSIST_SIDE: Final = 640


def _hog_side(max_detect_side: int | None) -> int | None:
    return None if max_detect_side is None else min(max_detect_side, HOG_ASSIST_SIDE)


def _iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                  iou: float) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's blending suppression: overlapping candidates are averaged by score."""
    order = np.argsort(-scores)
    out = []
    while len(order):
        top = order[0]
        b = boxes[order]
        x0 = np.maximum(b[:, 0], boxes[top, 0])
        y0 = np.maximum(b[:, 1], boxes[top, 1])
        x1 = np.minimum(b[:, 2], boxes[top, 2])
        y1 = np.minimum(b[:, 3], boxes[top, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        overlap = inter / np.maximum(area + area[0] - inter, 1e-9)
        group = order[overlap > iou]
        w = scores[group][:, None]
        out.append(((boxes[group] * w).sum(0) / w.sum(), float(scores[top]),
                    (keypoints[group] * w[:, :, None]).sum(0) / w.sum()))
        order = order[overlap <= iou]
    return out


class MediapipeBackend:
    """Full-range BlazeFace + face mesh mapped to 68 points (see the module docstring).

    Parameters
    ----------
    min_score:
        Detection confidence 0..1 (MediaPipe's default for this model is 0.6; a bit
        lower finds more small and turned faces).
    max_detect_side:
        The helping HOG pass (``hog_assist``) runs on a copy scaled to this side (None:
        full size); BlazeFace always works on a 192 px letterboxed copy.
    tiles:
        Also detect on a ``tiles x tiles`` grid of overlapping crops (small faces in
        large frames); 1 = the whole frame only.
    device:
        "auto" (CUDA when present), "cpu" or "cuda".
    refine:
        Run the mesh a second time on the ROI the first mesh gives (upright, tight).
    frontal_yaw:
        Below this |yaw| the 68 points come from dlib's predictor (0: always the mesh).
    hog_assist:
        Also run dlib's HOG on each frame (see :meth:`detect`).
    """

    name = "mediapipe"

    def __init__(self, *, min_score: float = 0.5, max_detect_side: int | None = None, tiles: int = 1,
                 device: str = "auto", refine: bool = True, frontal_yaw: float = 30.0,
                 hog_assist: bool = True) -> None:
        if not 0.0 < min_score < 1.0:
            raise FaceAnalysisError(f"min_score must be within 0-1, got {min_score}")
        if not 1 <= tiles <= 4:
            raise FaceAnalysisError(f"tiles must be 1-4, got {tiles}")
        self.min_score = float(min_score)
        self.max_detect_side = max_detect_side
        self.tiles = int(tiles)
        self.device = device
        self.refine = refine
        self.frontal_yaw = float(frontal_yaw)
        self.hog_assist = hog_assist
        self._hog: tuple[int, list[Box]] = (0, [])
        # The last detect()'s eye keypoints per image id: (box, right eye, left eye).
        self._eyes: dict[int, list[tuple[Box, np.ndarray, np.ndarray]]] = {}
        self._hog_many: dict[int, list[Box]] = {}  # detect_frames()'s HOG boxes per image id

    def __repr__(self) -> str:
        return f"MediapipeBackend(min_score={self.min_score}, tiles={self.tiles}, device={self.device!r})"

    def load(self) -> None:
        """Load both models now (and fail now, naming the file, when one is missing)."""
        import torch

        if _resolve_device(self.device) == "cpu":
            torch.set_num_threads(1)
        _model(DETECTOR_FILE, _resolve_device(self.device))
        _model(MESH_FILE, _resolve_device(self.device))

    # -- detection -------------------------------------------------------------------------
    def _letterbox(self, image: RgbImage, region: tuple[int, int, int, int]) -> tuple[np.ndarray, float, float, float]:
        x0, y0, x1, y1 = region
        sub = image[y0:y1, x0:x1]
        h, w = sub.shape[:2]
        scale = DETECT_SIDE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(sub, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.zeros((DETECT_SIDE, DETECT_SIDE, 3), np.uint8)
        px, py = (DETECT_SIDE - nw) // 2, (DETECT_SIDE - nh) // 2
        canvas[py:py + nh, px:px + nw] = resized
        return canvas, scale, x0 - px / scale, y0 - py / scale

    def _regions(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        regions = [(0, 0, width, height)]
        if self.tiles > 1:
            tw, th = width / self.tiles, height / self.tiles
            pad = 0.25
            for i in range(self.tiles):
                for j in range(self.tiles):
                    regions.append((max(0, int((i - pad) * tw)), max(0, int((j - pad) * th)),
                                    min(width, int((i + 1 + pad) * tw)), min(height, int((j + 1 + pad) * th))))
        return regions

    def detect_batch(self, images: Sequence[RgbImage]) -> list[list[Detection]]:
        """Faces of several frames in one torch call (the GPU path); best score first."""
        import torch

        device = _resolve_device(self.device)
        model = _model(DETECTOR_FILE, device)
        inputs, owners = [], []
        for k, image in enumerate(images):
            rgb = as_rgb_image(image)
            for region in self._regions(*rgb.shape[:2]):
                canvas, scale, ox, oy = self._letterbox(rgb, region)
                inputs.append(canvas)
                owners.append((k, scale, ox, oy))
        batch = torch.from_numpy(np.stack(inputs)).to(device).float() / 127.5 - 1.0
        raw, logits = (t.float().cpu().numpy() for t in model(batch))
        anchors = _anchors()
        per_image: list[list[tuple[np.ndarray, float, np.ndarray]]] = [[] for _ in images]
        all_boxes: list[list[np.ndarray]] = [[] for _ in images]
        all_scores: list[list[np.ndarray]] = [[] for _ in images]
        all_kps: list[list[np.ndarray]] = [[] for _ in images]
        for n, (k, scale, ox, oy) in enumerate(owners):
            scores = 1.0 / (1.0 + np.exp(-np.clip(logits[n, :, 0], -80, 80)))
            keep = scores >= self.min_score
            if not keep.any():
                continue
            r = raw[n, keep] / DETECT_SIDE
            a = anchors[keep]
            cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
            w, h = r[:, 2], r[:, 3]
            box = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * DETECT_SIDE / scale
            box += np.array([ox, oy, ox, oy], np.float32)
            kps = (r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]) * DETECT_SIDE / scale + np.array([ox, oy])
            all_boxes[k].append(box)
            all_scores[k].append(scores[keep])
            all_kps[k].append(kps)
        out: list[list[Detection]] = []
        for k, image in enumerate(images):
            if all_boxes[k]:
                per_image[k] = _weighted_nms(np.concatenate(all_boxes[k]), np.concatenate(all_scores[k]),
                                             np.concatenate(all_kps[k]), 0.3)
            h, w = np.asarray(image).shape[:2]
            found = []
            eyes = []
            for box, score, kp in per_image[k]:
                x0, y0, x1, y1 = (float(v) for v in box)
                x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
                if x1 - x0 >= 4 and y1 - y0 >= 4:
                    found.append(Detection(box=(x0, y0, x1, y1), score=score))
                    eyes.append(((x0, y0, x1, y1), kp[0], kp[1]))
            self._eyes[id(image)] = eyes
            found.sort(key=lambda d: d.score, reverse=True)
            out.append(found)
        return out

    def detect(self, image: RgbImage) -> list[Detection]:
        """Faces in ``image``, best score first.

        With ``hog_assist`` dlib's HOG also runs on the frame: a HOG box that matches a
        BlazeFace face is kept for :meth:`landmarks_visibility` (dlib's predictor is
        most precise in the HOG box it was trained on), and a HOG face that BlazeFace
        missed is added (HOG rarely finds what is not a face).
        """
        self._eyes.clear()
        self._hog_many = {}  # hints are for the frames of the last call only (ids get reused)
        found = self.detect_batch([image])[0]
        if not self.hog_assist:
            return found
        from engine.faces.dlib_backend import DlibBackend

        hog = DlibBackend(upsample_levels=(0,), max_detect_side=_hog_side(self.max_detect_side)).detect(
            as_rgb_image(image))
        self._hog = (id(image), [d.box for d in hog])
        for det in hog:
            if all(_iou(det.box, f.box) < 0.3 for f in found):
                # HOG's SVM margin (0..3) mapped under BlazeFace's 0..1 confidence.
                found.append(Detection(box=det.box, score=float(min(0.99, 0.5 + det.score / 6))))
        return found

    @property
    def batched(self) -> bool:
        """Whether :meth:`detect_frames` batches (on a GPU); callers go frame by frame otherwise."""
        return _resolve_device(self.device) != "cpu"

    def detect_frames(self, images: Sequence[RgbImage], *, batch: bool | None = None) -> list[list[Detection]]:
        """:meth:`detect` for several frames: BlazeFace on all of them in one batch (the
        HOG assist stays per frame, on the CPU). ``batch=None`` batches on a GPU only:
        on the CPU batching buys nothing and the frames go one by one."""
        if batch is None:
            batch = self.batched
        if not batch or len(images) < 2:
            return [self.detect(image) for image in images]
        self._eyes.clear()
        batch = self.detect_batch(images)
        if not self.hog_assist:
            return batch
        from engine.faces.dlib_backend import DlibBackend

        hog_backend = DlibBackend(upsample_levels=(0,), max_detect_side=_hog_side(self.max_detect_side))
        out = []
        self._hog, self._hog_many = (0, []), {}
        for image, found in zip(images, batch, strict=True):
            hog = hog_backend.detect(as_rgb_image(image))
            self._hog_many[id(image)] = [d.box for d in hog]
            out.append(found + [Detection(box=d.box, score=float(min(0.99, 0.5 + d.score / 6))) for d in hog
                                if all(_iou(d.box, f.box) < 0.3 for f in found)])
        return out

    def _hog_box_for(self, image: RgbImage, box: Box) -> Box | None:
        key, boxes = self._hog
        if key != id(image):
            boxes = self._hog_many.get(id(image))
            if boxes is None:
                return None
        best = max(boxes, key=lambda b: _iou(b, box), default=None)
        return best if best is not None and _iou(best, box) >= 0.3 else None

    # -- landmarks -------------------------------------------------------------------------
    @staticmethod
    def _roi(center: np.ndarray, side: float, angle: float) -> np.ndarray:
        """The 2x3 frame -> mesh-input affine of a square ROI around a face whose eye line
        is at ``angle`` (radians, image coordinates): the crop shows that face upright."""
        scale = MESH_SIDE / side
        c, s = math.cos(angle) * scale, math.sin(angle) * scale
        m = np.array([[c, s, 0.0], [-s, c, 0.0]])
        m[:, 2] = MESH_SIDE / 2 - m[:, :2] @ center
        return m

    def mesh_batch(self, image: RgbImage, rois: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The 468 mesh points (frame pixels x, y and z in pixel units) of each ROI and
        the mesh's face-presence score: ``(n, 468, 3)``, ``(n,)``."""
        import torch

        device = _resolve_device(self.device)
        model = _model(MESH_FILE, device)
        crops = [cv2.warpAffine(image, m, (MESH_SIDE, MESH_SIDE), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT) for m in rois]
        batch = torch.from_numpy(np.stack(crops)).to(device).float() / 255.0
        pts, presence = (t.float().cpu().numpy() for t in model(batch))
        pts = pts.reshape(len(rois), 468, 3).astype(np.float64)
        out = np.empty_like(pts)
        for n, m in enumerate(rois):
            inv = cv2.invertAffineTransform(m)
            out[n, :, :2] = pts[n, :, :2] @ inv[:, :2].T + inv[:, 2]
            out[n, :, 2] = pts[n, :, 2] * math.hypot(inv[0, 0], inv[0, 1])
        score = 1.0 / (1.0 + np.exp(-np.clip(presence.reshape(-1), -80, 80)))
        return out, score

    def mesh(self, image: RgbImage, box: Box) -> tuple[np.ndarray, float]:
        """The 468-point mesh of the face in ``box``: on the box's ROI, then, when that
        face is tilted or the mesh unsure, again on the ROI the first mesh gives,
        upright by its eyes (as MediaPipe does when it tracks)."""
        rgb = as_rgb_image(image)
        x0, y0, x1, y1 = box
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise FaceAnalysisError(f"face box is too small: {box}")
        center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        side = max(x1 - x0, y1 - y0) * ROI_SCALE
        pts, score = self.mesh_batch(rgb, [self._roi(center, side, math.radians(self._eye_roll(image, box)))])
        if self.refine and (abs(_roll(pts[0])) > REFINE_ROLL or score[0] < 0.5):
            pts, score = self.mesh_batch(rgb, [self._refined_roi(pts[0])])
        return pts[0], float(score[0])

    def _eye_roll(self, image: RgbImage, box: Box) -> float:
        """The in-plane angle of the face in ``box`` from the detector's eye keypoints
        (the mesh wants an upright crop). A box the detector did not give (a hand-drawn
        one) is detected again inside its own surroundings for them; 0 when none."""
        eyes = self._eyes.get(id(image))
        if eyes is None:
            x0, y0, x1, y1 = box
            pad = 0.5 * max(x1 - x0, y1 - y0)
            rgb = as_rgb_image(image)
            rx0, ry0 = int(max(0, x0 - pad)), int(max(0, y0 - pad))
            rx1, ry1 = int(min(rgb.shape[1], x1 + pad)), int(min(rgb.shape[0], y1 + pad))
            if rx1 - rx0 >= 8 and ry1 - ry0 >= 8:
                sub = np.ascontiguousarray(rgb[ry0:ry1, rx0:rx1])
                self.detect_batch([sub])
                eyes = [((b[0] + rx0, b[1] + ry0, b[2] + rx0, b[3] + ry0), r + (rx0, ry0), left + (rx0, ry0))
                        for b, r, left in self._eyes.pop(id(sub), [])]
            else:
                eyes = []
        best = max(eyes, key=lambda e: _iou(e[0], box), default=None)
        if best is None or _iou(best[0], box) < 0.3:
            return 0.0
        (rx, ry), (lx, ly) = best[1], best[2]
        return math.degrees(math.atan2(ly - ry, lx - rx))

    @staticmethod
    def _refined_roi(points: np.ndarray) -> np.ndarray:
        angle = math.radians(_roll(points))
        lo, hi = points[:, :2].min(0), points[:, :2].max(0)
        center = (lo + hi) / 2
        side = max(hi - lo) * ROI_SCALE
        return MediapipeBackend._roi(center, side, angle)

    def landmarks_visibility(self, image: RgbImage, box: Box) -> tuple[Landmarks, npt.NDArray[np.float32]]:
        """68 points (frame pixels) and each one's visibility 0..1.

        Upright near-frontal faces (|yaw| under ``frontal_yaw``, |roll| under
        :data:`REFINE_ROLL`) take dlib's shape predictor,
        trained on iBUG itself and more precise there, placed in a box derived from the
        mesh; turned faces keep the mesh's points, which hold up to full profile.
        """
        lm, vis, _presence = self.fit(image, box)
        return lm, vis

    def fit(self, image: RgbImage, box: Box) -> tuple[Landmarks, npt.NDArray[np.float32], float]:
        """:meth:`landmarks_visibility` and the mesh's face-presence score 0..1 (how sure
        it is that ``box`` holds a face: what "Track this face" stops on)."""
        rgb = as_rgb_image(image)
        hog = self._hog_box_for(image, box) if self.frontal_yaw > 0 else None
        if hog is not None:
            # HOG (a frontal detector) saw this face: dlib's points in its own box, and
            # when they say upright and frontal, the mesh is not needed (a third of the
            # frame's time): visibility comes from the generic 3D face at that pose.
            from engine.faces.dlib_backend import DlibBackend

            lm = DlibBackend().landmarks(rgb, hog)
            pose = estimate_pose(lm)
            if abs(pose.yaw) < self.frontal_yaw and abs(pose.roll) < REFINE_ROLL:
                return lm, visibility_from_pose(pose), 1.0
        pts, presence = self.mesh(rgb, box)
        lm, vis = mesh_to_68(pts)
        pose = estimate_pose(lm)
        # dlib's predictor starts from an upright mean face: only upright frontal faces.
        if self.frontal_yaw > 0 and abs(pose.yaw) < self.frontal_yaw and abs(pose.roll) < REFINE_ROLL:
            hog = self._hog_box_for(image, box)
            if hog is not None:
                from engine.faces.dlib_backend import DlibBackend

                lm = DlibBackend().landmarks(rgb, hog)
            else:
                lm = dlib_refit(rgb, lm)
        return lm, vis, presence


    def landmarks(self, image: RgbImage, box: Box) -> Landmarks:
        """The 68 landmarks of the face in ``box`` (from the face mesh)."""
        return self.landmarks_visibility(image, box)[0]


#: dlib's HOG box relative to the bounds of its own 68 points (x0, y0, x1, y1 offsets in
#: units of the bounds' width/height), medians over the stills and sample clips.
_HOG_OFFSETS: Final = (-0.06, -0.11, 0.085, -0.073)


def _hog_box(lm: Landmarks) -> Box:
    """The box dlib's predictor (trained on HOG boxes) expects for a face with these points."""
    lo, hi = lm.min(axis=0), lm.max(axis=0)
    w, h = hi - lo
    a, b, c, d = _HOG_OFFSETS
    return (float(lo[0] + a * w), float(lo[1] + b * h), float(hi[0] + c * w), float(hi[1] + d * h))


def dlib_refit(rgb: RgbImage, lm: Landmarks) -> Landmarks:
    """dlib's 68 points for a face whose points are roughly ``lm`` and that HOG did not
    box: the predictor (trained on HOG boxes) runs in the HOG-like box of ``lm``, then
    once more in the box of its own answer."""
    from engine.faces.dlib_backend import DlibBackend

    backend = DlibBackend()
    for _ in range(2):
        lm = backend.landmarks(rgb, _hog_box(lm))
    return lm


@functools.cache
def _model_normals() -> npt.NDArray[np.float64]:
    """Outward surface normals of the generic 3D face (``engine.faces.pose``) at its 68
    points, from the plane through each point's six nearest model points."""
    from engine.faces.pose import FACE_MODEL_3D

    model = np.asarray(FACE_MODEL_3D, dtype=np.float64)
    normals = np.zeros((68, 3))
    for k in range(68):
        near = np.argsort(np.linalg.norm(model - model[k], axis=1))[:7]
        nb = model[near] - model[near].mean(axis=0)
        n = np.linalg.svd(nb, full_matrices=False)[2][-1]
        normals[k] = n if n[2] <= 0 else -n  # every point of a frontal face faces the camera
    return normals


def visibility_from_pose(pose: Any) -> npt.NDArray[np.float32]:
    """Per-point visibility of a face whose 68 points came without a mesh: the generic
    face's normals turned by ``pose`` against the view direction (as :func:`mesh_to_68`)."""
    from engine.faces.pose import rotation_from_pose

    turned = _model_normals() @ rotation_from_pose(pose).T
    return _visibility(turned)


def _visibility(normals: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """0..1 from unit normals (camera z away from the viewer): 1 facing the camera, 0.5
    edge-on (the silhouette, still seen), 0 turned away (hidden behind the face)."""
    z = normals[:, 2] / np.maximum(np.linalg.norm(normals, axis=1), 1e-9)
    return np.clip(0.5 - 2.0 * z, 0.0, 1.0).astype(np.float32)


def mesh_to_68(points: np.ndarray) -> tuple[Landmarks, npt.NDArray[np.float32]]:
    """The 68 iBUG points of a 468-point mesh and their visibility (see the module doc)."""
    lm = points[MESH_TO_68, :2].astype(np.float32)
    normals = np.zeros((68, 3))
    centroid = points.mean(axis=0)
    for k, v in enumerate(MESH_TO_68):
        nb = points[mesh_neighbours()[v]] - points[v]
        # The normal of the best plane through the neighbours (smallest singular vector).
        _u, _s, vt = np.linalg.svd(nb - nb.mean(0), full_matrices=False)
        n = vt[-1]
        if np.dot(n, points[v] - centroid) < 0:
            n = -n
        normals[k] = n
    # MediaPipe's z grows away from the camera: a point faces us when its normal's z < 0.
    return lm, _visibility(normals)
