"""Re-derive engine.faces.mesh68.MESH_TO_68 from dlib's 68 points on the repo's stills.

For each iBUG point the mesh vertex with the smallest mean distance (in units of the
face's outer-eye-corner distance) is printed, with the mean residual: run it after any
change of the mesh model and compare with the table in ``engine/faces/mesh68.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.faces.dlib_backend import DlibBackend  # noqa: E402
from engine.faces.mediapipe_backend import MediapipeBackend  # noqa: E402

STILLS = ["takeo.ppm", "einstein.jpg", "obama.jpg", "obama2.jpg", "biden.jpg", "grace_hopper_512x512.jpg",
          "two_people.jpg"]


def main() -> None:
    dl, mp = DlibBackend(), MediapipeBackend()
    costs = []
    for name in STILLS:
        img = cv2.cvtColor(cv2.imread(str(ROOT / "tests/data/stills" / name)), cv2.COLOR_BGR2RGB)
        for det in dl.detect(img):
            ref = dl.landmarks(img, det.box)
            pts, _ = mp.mesh(img, det.box)
            unit = np.linalg.norm(ref[36] - ref[45])
            d = np.linalg.norm(ref[:, None, :] - pts[None, :, :2], axis=2) / unit
            costs.append(d)
    mean = np.mean(costs, axis=0)
    mapping = mean.argmin(axis=1)
    print(f"faces: {len(costs)}")
    print("MESH_TO_68 = [" + ", ".join(str(int(v)) for v in mapping) + "]")
    print(f"mean residual: {mean.min(axis=1).mean():.4f} eye-corner distances")


if __name__ == "__main__":
    main()
