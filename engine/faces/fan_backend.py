"""FAN backend: face_alignment's 2D-FAN landmarks, from weights already on disk.

FAN (Bulat & Tzimiropoulos 2017, the ``face-alignment`` package) places landmarks more
accurately than dlib on turned, tilted and badly lit faces, at ~50x the cost. Its weights
are not in any package; ``face_alignment`` fetches them from the author's site into the
torch hub cache on first use. We never let it: this module builds the network class
itself, checks that the weight file is already in ``$TORCH_HOME/hub/checkpoints/``
(``torch.hub.get_dir()``) and loads it with ``torch.load(weights_only=True)``. None of
face_alignment's download paths (``load_file_from_url``, its detectors) is called, so a
missing file is a :class:`BackendUnavailable` naming the exact file and folder, never a
hang on the network.

Detection is not FAN's job (face_alignment's detectors need more downloaded weights), so
this backend delegates :meth:`FanBackend.detect` to a detector backend, HOG by default.

The crop geometry follows face_alignment's training convention: centre = box centre
moved up by 12 % of the box height, crop side = 200 * (w + h) / 195 frame pixels,
resampled to 256x256; heatmaps are 64x64 and decoded to the argmax with the usual
quarter-pixel step toward the higher neighbour.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlparse

import cv2
import numpy as np

from engine.faces.backends import Box, Detection, FaceBackend, Landmarks, RgbImage, as_rgb_image
from engine.faces.errors import BackendUnavailable
from engine.faces.shape68 import MIRROR_INDEX

if TYPE_CHECKING:
    import torch

#: The weight file face_alignment 1.5.0 would download for 2D landmarks ("2DFAN-4"),
#: used when face_alignment is not importable to say what is missing.
FAN_2D_URL: Final = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar"
FAN_NETWORK: Final = "2DFAN-4"
CROP_SIZE: Final = 256
HEATMAP_SIZE: Final = 64
_CENTER_Y_OFFSET: Final = 0.12
_REFERENCE_SCALE: Final = 195.0
_SCALE_FACTOR: Final = 200.0


#: The modules FAN needs beyond the app's own, with their pip names: face_alignment, and
#: numba, which face_alignment (1.5) imports as soon as any part of it is imported. The
#: bundled app leaves both out (numba and llvmlite are ~170 MB of it).
FAN_MODULES: Final = {"face_alignment": "face-alignment", "numba": "numba"}


def missing_fan_modules() -> list[str]:
    """The pip names of :data:`FAN_MODULES` this installation cannot import (found, not imported)."""
    return [pip for module, pip in FAN_MODULES.items() if importlib.util.find_spec(module) is None]


def check_fan_installed(missing: list[str] | None = None) -> None:
    """Raise :class:`BackendUnavailable` naming the packages FAN needs and this installation
    lacks (``missing``: what an import said is missing; default: look them up)."""
    missing = missing_fan_modules() if missing is None else missing
    if not missing:
        return
    names = " and ".join(missing)
    where = ("this bundled app leaves FAN out; run Facesmith from a source install (make setup) to use it"
             if getattr(sys, "frozen", False) else "install it (make setup)")
    raise BackendUnavailable(
        "fan",
        f"it needs the package{'s' if len(missing) > 1 else ''} {names}, which this installation does not have: "
        f"{where}. To extract without it, choose the mediapipe backend (the default) or dlib.",
    )


def fan_weights_url() -> str:
    """The URL the installed face_alignment lists for the 2D-FAN weights."""
    try:
        from face_alignment.api import models_urls
    except ImportError:
        return FAN_2D_URL
    return str(models_urls.get(FAN_NETWORK, FAN_2D_URL))


def torch_checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` as torch resolves it right now."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def fan_weights_path(weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the 2D-FAN weight file must be; raises :class:`BackendUnavailable` if absent."""
    url = fan_weights_url()
    folder = Path(weights_dir) if weights_dir is not None else torch_checkpoint_dir()
    path = folder / Path(urlparse(url).path).name
    if not path.is_file():
        raise BackendUnavailable(
            "fan",
            f"its weight file is missing.\n"
            f"  Put {path.name} in {folder}/\n"
            f"  (download it on a machine with network access from {url}; the folder is "
            f"$TORCH_HOME/hub/checkpoints, by default ~/.cache/torch/hub/checkpoints).\n"
            f"  Facesmith never downloads it; to extract without it, choose the dlib backend.",
        )
    return path


def _load_network(path: Path, device: str) -> torch.nn.Module:
    import torch

    try:
        from face_alignment.models import FAN
    except ImportError as exc:
        module = (exc.name or "face_alignment").split(".")[0]
        check_fan_installed([FAN_MODULES.get(module, module)])
        raise  # not reached: check_fan_installed raises for a non-empty list
    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        state = {str(k).removeprefix("module."): v for k, v in state.items()}
        net = FAN(4)
        net.load_state_dict(state)
    except Exception as exc:  # a truncated or foreign file: say which one
        raise BackendUnavailable("fan", f"{path} is not a usable {FAN_NETWORK} weight file: {exc}") from exc
    return net.to(device).eval()


class FanBackend:
    """2D-FAN landmarks from local weights; detection delegated (HOG by default).

    Parameters
    ----------
    device:
        torch device for the network ("cpu", "cuda", ...).
    flip_test:
        Also run the mirrored crop and average the heatmaps (face_alignment's default;
        steadier points, twice the cost).
    detector:
        Backend used by :meth:`detect`; default ``DlibBackend(max_detect_side=...)``.
    weights_dir:
        Folder holding the weight file instead of the torch hub cache.
    """

    name = "fan"

    def __init__(
        self,
        *,
        device: str = "cpu",
        flip_test: bool = True,
        detector: FaceBackend | None = None,
        max_detect_side: int | None = None,
        weights_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        # Fail now, at selection time, with the message about the missing package or file.
        check_fan_installed()
        self.weights_path = fan_weights_path(weights_dir)
        self.device = device
        self.flip_test = flip_test
        if detector is None:
            from engine.faces.dlib_backend import DlibBackend

            detector = DlibBackend(max_detect_side=max_detect_side)
        self.detector = detector
        self._net: torch.nn.Module | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_net"] = None  # reloaded lazily in the receiving process
        return state

    def load(self) -> None:
        """Load the network now (otherwise the first :meth:`landmarks` call does)."""
        if self._net is None:
            self._net = _load_network(self.weights_path, self.device)

    def detect(self, image: RgbImage) -> list[Detection]:
        return self.detector.detect(image)

    def landmarks(self, image: RgbImage, box: Box) -> Landmarks:
        import torch

        self.load()
        assert self._net is not None
        rgb = as_rgb_image(image)
        x0, y0, x1, y1 = (float(v) for v in box)
        cx = (x0 + x1) / 2.0
        cy = (y0 + y1) / 2.0 - (y1 - y0) * _CENTER_Y_OFFSET
        side = _SCALE_FACTOR * ((x1 - x0) + (y1 - y0)) / _REFERENCE_SCALE
        k = CROP_SIZE / side
        # frame -> crop, pixel centres on integers: the box centre lands on 127.5.
        centre = (CROP_SIZE - 1) / 2.0
        to_crop = np.array([[k, 0.0, centre - k * cx], [0.0, k, centre - k * cy]])
        crop = cv2.warpAffine(
            rgb, to_crop, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        batch = torch.from_numpy(crop).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        if self.flip_test:
            batch = torch.cat([batch, batch.flip(-1)])
        with torch.inference_mode():
            out = self._net(batch.to(self.device))
            heat = (out[-1] if isinstance(out, (list, tuple)) else out).float().cpu().numpy()
        maps = heat[0]
        if self.flip_test:
            maps = maps + heat[1][list(MIRROR_INDEX), :, ::-1]
        pts = _decode_heatmaps(maps)  # heatmap cell units, cell i spans [i, i + 1)
        crop_pts = pts * (CROP_SIZE / HEATMAP_SIZE) - 0.5
        frame_pts = (crop_pts - centre) / k + np.array([cx, cy])
        return frame_pts.astype(np.float32)


def _decode_heatmaps(maps: np.ndarray) -> np.ndarray:
    """Peak of each ``(68, H, W)`` heatmap as continuous coordinates (cell centre +
    a quarter cell toward the higher neighbour), ``(68, 2)`` float64."""
    count, h, w = maps.shape
    flat = maps.reshape(count, h * w).argmax(axis=1)
    iy, ix = np.divmod(flat, w)
    out = np.stack([ix, iy], axis=1).astype(np.float64) + 0.5
    inner = (ix > 0) & (ix < w - 1) & (iy > 0) & (iy < h - 1)
    idx = np.nonzero(inner)[0]
    dx = maps[idx, iy[idx], ix[idx] + 1] - maps[idx, iy[idx], ix[idx] - 1]
    dy = maps[idx, iy[idx] + 1, ix[idx]] - maps[idx, iy[idx] - 1, ix[idx]]
    out[idx, 0] += 0.25 * np.sign(dx)
    out[idx, 1] += 0.25 * np.sign(dy)
    return out
