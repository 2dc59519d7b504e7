"""Per-stage cost of face analysis on one CPU core, at 360p (GRID clips) and 720p.

Decodes the four GRID sample clips (360x288) and times each stage of the per-frame
pipeline on every frame: detect, landmarks, align+crop (256 px whole face), pose,
sharpness, expression and the identity embedding. The same is measured on the frames
scaled to 1280x720 (x2.5, pillarboxed). Prints ``name_ms: value`` lines (mean per frame)
and checks them against the extraction budget:

- target >= 25 frames/s at 360p and >= 8 frames/s at 720p with 2 worker processes on
  2 cores, embeddings only on a sample of each track (one face in ``EMBED_EVERY``),
- so per frame on one core: <= 70 ms at 360p, <= 220 ms at 720p (a little headroom left
  for decoding and writing crops).

Run: ``.venv/bin/python benchmarks/faces_stage_speed.py`` (exit status 1 if over budget).
"""

from __future__ import annotations

import os

# One core, one thread per library: the figures are per worker process.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

REPO: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from engine.faces.analyze import FaceAnalyzer  # noqa: E402
from engine.faces.align import alignment_matrix, crop_face, transform_points  # noqa: E402
from engine.faces.expression import expression  # noqa: E402
from engine.faces.pose import estimate_pose  # noqa: E402
from engine.faces.quality import sharpness  # noqa: E402

CLIPS: Final = ("bbaf2n.mpg", "id2_vcd_swwp2s.mpg", "lbax4n.mpg", "sbwe5n.mpg")
EMBED_EVERY: Final = 8
BUDGET_MS: Final = {"360p": 70.0, "720p": 220.0}
T = TypeVar("T")


def pin_to_one_core() -> None:
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def decode(name: str) -> list[np.ndarray]:
    with av.open(str(REPO / "resources" / "sample" / name)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def to_720p(frame: np.ndarray) -> np.ndarray:
    """Scale to 720 px high and pillarbox to 1280x720 (keeps the face's aspect)."""
    h, w = frame.shape[:2]
    width = round(w * 720 / h)
    big = cv2.resize(np.ascontiguousarray(frame), (width, 720), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((720, 1280, 3), 96, np.uint8)
    x0 = (1280 - width) // 2
    canvas[:, x0 : x0 + width] = big
    return canvas


def timed(times: dict[str, list[float]], name: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = fn()
    times.setdefault(name, []).append((time.perf_counter() - start) * 1000.0)
    return result


def run(label: str, frames: list[np.ndarray], analyzer: FaceAnalyzer) -> bool:
    backend = analyzer.backend
    times: dict[str, list[float]] = {}
    faces = 0
    for frame in frames:
        # The pipeline's own first step: a C-contiguous copy (PyAV pads its rows).
        img = timed(times, "prepare", lambda: np.ascontiguousarray(frame))
        found = timed(times, "detect", lambda: backend.detect(img))
        for det in found[:1]:
            faces += 1
            lm = timed(times, "landmarks", lambda: backend.landmarks(img, det.box))
            m = timed(times, "align", lambda: alignment_matrix(lm, "whole", 256))
            crop = timed(times, "crop", lambda: crop_face(img, m, 256))
            timed(times, "pose", lambda: estimate_pose(lm))
            timed(times, "sharpness", lambda: sharpness(crop, transform_points(lm, m)))
            timed(times, "expression", lambda: expression(lm))
            timed(times, "embedding", lambda: analyzer.embed(img, lm))
    n = len(frames)
    mean = {k: sum(v) / n for k, v in times.items()}  # per frame, faces or not
    print(f"== {label}: {n} frames {frames[0].shape[1]}x{frames[0].shape[0]}, {faces} faces")
    stages = ("prepare", "detect", "landmarks", "align", "crop", "pose", "sharpness", "expression", "embedding")
    for name in stages:
        print(f"{name}_ms: {mean.get(name, 0.0):.2f}")
    print(f"detect_median_ms: {statistics.median(times['detect']):.2f}")
    per_frame = sum(v for k, v in mean.items() if k != "embedding")
    sampled = per_frame + mean.get("embedding", 0.0) / EMBED_EVERY
    budget = BUDGET_MS[label]
    print(f"total_without_embedding_ms: {per_frame:.2f}")
    print(f"total_with_embedding_every_face_ms: {per_frame + mean.get('embedding', 0.0):.2f}")
    print(f"total_with_embedding_1_in_{EMBED_EVERY}_ms: {sampled:.2f}  (budget {budget:.0f})")
    print(f"single_core_fps: {1000.0 / sampled:.1f}")
    print(f"two_process_fps_estimate: {2000.0 / sampled:.1f}")
    return sampled <= budget


def main() -> int:
    pin_to_one_core()
    clips = {name: decode(name) for name in CLIPS}
    frames_360 = [f for frames in clips.values() for f in frames]
    frames_720 = [to_720p(f) for frames in clips.values() for f in frames[::3]]

    analyzer = FaceAnalyzer("dlib", "whole", 256)  # defaults: max_detect_side=960
    analyzer.load(with_embedding=True)
    analyzer.analyze(np.ascontiguousarray(frames_360[0]), with_embedding=True)  # warm up

    ok = run("360p", frames_360, analyzer)
    ok = run("720p", frames_720, analyzer) and ok

    full = FaceAnalyzer("dlib", "whole", 256, max_detect_side=None).backend
    detect_full = []
    for frame in frames_720[:40]:
        start = time.perf_counter()
        full.detect(frame)
        detect_full.append((time.perf_counter() - start) * 1000.0)
    print("== 720p detection at full size (max_detect_side=None) for comparison")
    print(f"detect_full_size_ms: {statistics.mean(detect_full):.2f}")
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
