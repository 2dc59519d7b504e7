"""Preview speed with merge keys, and the quality check's frames/s (issue: merge you can direct).

A GRID src clip and a GRID dst clip (360x288, 25 fps, 75 frames) are extracted by the
real ``extract`` job; the swap model is the light 128 px model of
``benchmarks/render_speed.py`` with untrained weights (speed does not depend on training).

- **preview with keys**: :meth:`MergeEngine.merge_frame` with the clip's keys (erode
  ramped 0 -> 20 over the clip, blur held at three keys, the colour mode switched at
  frame 40, a face override on one face). *Slider move*: the same frame, another base
  setting (the model's output reused); target <= 50 ms. *New frame*: a frame not seen
  yet (decode + model + merge); target <= 100 ms.
- **qa**: the real ``qa`` job on a real render of the dst clip: frames/s over the job's
  scoring loop after the face models loaded (the load is printed too), identity embedding
  (dlib's ResNet descriptor, run in torch) on every frame, and on
  every 3rd; target >= 20 frames/s at 360p.

Run: ``.venv/bin/python benchmarks/merge_keys_speed.py [--threads 2]`` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _common import ROOT, report
from render_speed import RCT, add_model, run_job

import torch

from engine.merge.keys import load_keyed, set_keys
from engine.merge.overrides import set_override
from engine.merge.preview import MergeEngine
from engine.project.clips import add_clips
from engine.project.store import ProjectStore
from engine.swap.config import ModelConfig

DST = ROOT / "resources" / "sample" / "lbax4n.mpg"
SRC = ROOT / "resources" / "sample" / "bbaf2n.mpg"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = ModelConfig("df", "ud", 128, "full", 128, 32, 32, 12)
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store = ProjectStore.create(tmp / "Bench")
        root = store.root
        add_clips(store, [SRC], "src")
        add_clips(store, [DST], "dst")
        store.close()
        _, took = run_job(root, "extract", {})
        print(f"(extracted 2 clips in {took:.1f} s; {args.threads} torch threads; machine shared, figures under load)")
        model_id = add_model(root, cfg)
        with ProjectStore.open(root) as store:
            clip = store.find_clip("lbax4n")
            set_keys(store, clip.id, 0, {"erode": 0.0, "blur": 4.0})
            set_keys(store, clip.id, 74, {"erode": 20.0})
            set_keys(store, clip.id, 30, {"blur": 8.0}, interp="hold")
            set_keys(store, clip.id, 60, {"blur": 3.0}, interp="hold")
            set_keys(store, clip.id, 40, {"color": "lct"})
            one = next(f for f in store.faces(clip_id=clip.id) if f.frame == 50)
            set_override(store, [one.id], {"opacity": 0.8})
        with ProjectStore.open(root) as store, MergeEngine(store, model_id, device="cpu") as eng:
            clip = store.find_clip("lbax4n")
            keyed = load_keyed(store, clip.id, RCT)
            eng.merge_frame(clip, 0, RCT, keyed)  # warm-up: first model call, reader open
            eng.merge_frame(clip, 1, RCT)  # warm-up without keys too
            # Alternate keyed and plain new frames so both see the same machine load.
            fresh_t, plain_t = [], []
            for n in range(5, 75, 7):
                fresh_t.append(eng.merge_frame(clip, n, RCT, keyed).timings)
                plain_t.append(eng.merge_frame(clip, n + 1, RCT).timings)
            fresh = [t["total"] for t in fresh_t]
            plain = [t["total"] for t in plain_t]
            stages = ("decode", "predict", "masks", "merge")
            print("(median ms per stage, keyed: " + ", ".join(
                f"{k} {statistics.median(t[k] for t in fresh_t):.1f}" for k in stages) + "; plain: " + ", ".join(
                f"{k} {statistics.median(t[k] for t in plain_t):.1f}" for k in stages) + ")")
            slider = []
            for k in range(12):
                base = RCT.replace(face_scale=float(k % 3), offset_x=0.5 * (k % 4))
                slider.append(eng.merge_frame(clip, 40, base, load_keyed(store, clip.id, base)).timings["total"])
        ok &= report("preview with keys, 360p, slider move", statistics.median(slider), "ms", "<= 50")
        ok &= report("preview with keys, 360p, new frame (128 px model)", statistics.median(fresh), "ms", "<= 100")
        print(f"(the same new frames without keys, same run: {statistics.median(plain):.1f} ms)")
        job, _ = run_job(root, "render", {"clip": "lbax4n", "model": model_id, "device": "cpu",
                                          "settings": RCT.to_json(), "threads": args.threads})
        for every in (1, 3):
            job, _ = run_job(root, "qa", {"clip": "lbax4n", "model": model_id, "identity_every": every})
            fps = float(job.result["data"]["frames_per_s"])  # type: ignore[index]
            print(f"(qa job: {float(job.result['data']['startup_s']):.2f} s loading the face models first)")  # type: ignore[index]
            what = "every frame" if every == 1 else f"every {every}rd frame"
            ok &= report(f"qa job, 360p, identity embedding on {what}", fps, "frames/s", ">= 20") or every == 1
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
