"""A render with a person filter (``--person``) is no slower than without (issue 14).

A dst clip with one GRID speaker (75 frames, 360x288) is extracted by the real job; a
tiny swap model with untrained weights (fast-64's shape: speed does not depend on
training) renders the whole clip to PNG frames through the real ``render`` job, with
``persons=[the speaker]`` and without: the same faces are swapped either way, so the
difference is the filter's own cost (the merge targets lookup and a test per face).
Runs alternate (filter, none, filter, ...) and the medians of the loop's frames/s are
compared. A second line shows a two-person clip (the GRID speakers side by side), where
the filter also skips the other person's faces (informational).

Target: median time with the filter <= 1.05 x without. Run:
``.venv/bin/python benchmarks/render_person_filter.py [--repeat N]`` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _common import ROOT, report

import av
import numpy as np
import torch

from engine.media import iter_frames
from engine.project.clips import add_clips
from engine.project.store import ProjectStore
from engine.swap.config import get_preset

sys.path.insert(0, str(ROOT / "benchmarks"))
from render_speed import add_model, run_job  # noqa: E402

CLIP = ROOT / "resources" / "sample" / "lbax4n.mpg"
OTHER = ROOT / "resources" / "sample" / "bbaf2n.mpg"


def compose_two_person_clip(left: Path, right: Path, out: Path, frames: int) -> Path:
    """``left`` and ``right`` side by side (as the e2e test makes its two-person clip)."""
    a = [img for _, img in iter_frames(left, stop=frames, threaded=False)]
    b = [img for _, img in iter_frames(right, stop=frames, threaded=False)]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = a[0].shape[1] * 2, a[0].shape[0], "yuv420p"
        stream.options = {"crf": "12", "preset": "ultrafast"}
        for x, y in zip(a, b, strict=True):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(np.hstack([x, y])),
                                                                   format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out


def render_seconds(root: Path, clip: str, model: int, out: Path, persons: list[int] | None) -> float:
    params = {"clip": clip, "model": model, "device": "cpu", "format": "png", "out": str(out), "threads": 1}
    if persons:
        params["persons"] = persons
    job, _ = run_job(root, "render", params)
    data = job.result["data"]  # type: ignore[index]
    return float(data["frames"]) / float(data["frames_per_s"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        pair = compose_two_person_clip(OTHER, CLIP, tmp_path / "pair.mp4", frames=75)
        store = ProjectStore.create(tmp_path / "Bench")
        root = store.root
        try:
            add_clips(store, [CLIP, pair], "dst")
        finally:
            store.close()
        run_job(root, "extract", {})
        model = add_model(root, get_preset("fast-64").model)
        with ProjectStore.open(root, readonly=True) as store:
            solo = store.find_clip("lbax4n")
            person = store.faces(clip_id=solo.id)[0].person_id
            two = store.find_clip("pair")
            left = next(f.person_id for f in store.faces(clip_id=two.id) if f.box[2] < 360)
        assert person is not None and left is not None
        render_seconds(root, "lbax4n", model, tmp_path / "warm", None)  # warm-up
        with_f, without = [], []
        for k in range(args.repeat):
            with_f.append(render_seconds(root, "lbax4n", model, tmp_path / f"f{k}", [person]))
            without.append(render_seconds(root, "lbax4n", model, tmp_path / f"n{k}", None))
        pair_f = render_seconds(root, "pair", model, tmp_path / "pf", [left])
        pair_n = render_seconds(root, "pair", model, tmp_path / "pn", None)
    ratio = statistics.median(with_f) / statistics.median(without)
    ok = report("render with --person / without (same faces swapped)", ratio, "x", "<= 1.05")
    print(f"  with: {', '.join(f'{s:.2f}' for s in with_f)} s; without: {', '.join(f'{s:.2f}' for s in without)} s "
          "(75 frames, 360x288, fast-64 shape, 1 torch thread)")
    print(f"  two-person clip, one person swapped: {pair_f:.2f} s; both swapped: {pair_n:.2f} s (informational)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
