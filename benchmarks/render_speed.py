"""Merge and render speed, and the jitter of pasted faces (issue: merge and render).

Measured on a GRID dst clip (360x288, 25 fps, 75 frames) and on the same clip scaled up
to 1280x720 (bicubic to 900x720, centred on black), both extracted by the real
``extract`` job first. The swap model is a 128 px model with untrained weights (speed
does not depend on training): by default a light one, df-ud 128 px full face, ae 128,
e 32, d 32 (13.8 M parameters); ``--arch``/``--dims`` choose another (DeepFaceLab's
SAEHD default shape is ``--arch liae-ud --dims 256,64,64,22``, 82 M parameters, about
ten times the work per face). The model runs in bfloat16 on CPUs with native bfloat16
(``--precision fp32`` shows the others).

- **preview**: :meth:`MergeEngine.merge_frame` on one 360p frame with rct. *New frame*:
  decode + model + merge (a frame the preview has not seen, the timeline scrubbed);
  *slider*: the same frame with another setting (the model's output is reused). Target
  <= 100 ms for a new frame.
- **render**: the real ``render`` job, whole clip to H.264 MP4 (CRF 18, preset medium)
  with rct, audio copied: frames / seconds from the first decoded frame to the finished
  file (decode, predict, merge, encode and the final remux with the audio included).
  Loading the model and starting the job (about a second, once per render) are shown
  apart, with the frames/s over the job's whole wall time. Targets >= 15 frames/s at
  360p, >= 5 frames/s at 720p.
- **jitter**: the mean frame-to-frame motion of the pasted face's landmarks relative to
  the dst face's, in pixels (:func:`engine.merge.stability.relative_motion`). The pasted
  face's landmarks are the mean face's landmarks placed through the paste transform
  (where a model that draws aligned faces puts eyes, nose and mouth). Relative to what?
  To the dst face's *true* motion, which a filmed clip does not have, so a clip with a
  known motion is made: frame 20 of the GRID clip moved along a smooth path (shift
  +-14 px, roll +-4 deg, scale +-4 %, 75 frames, H.264 CRF 10) and extracted by the
  real detector (its noise is real). The reference for the pasted points is the same
  points moved exactly along the known path (each frame's pasted points moved back onto
  the still, averaged, moved along the path): 0 means the face sits still on the head.
  Reported without smoothing and with ``smooth_alignment`` 0.5 and 1.0, next to the
  detector's own landmark noise on the same measure. On the real GRID clips there is no
  truth; there the figure is the wobble of the pasted landmarks (mean length of their
  second difference over time, px/frame^2), which smooth motion barely has and jitter
  has a lot of.

Run: ``.venv/bin/python benchmarks/render_speed.py [--threads N]`` (about 2-3 minutes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from _common import ROOT, report

import av
import cv2
import numpy as np
import torch

from engine.jobs.queue import JobQueue
from engine.jobs.worker import Worker
from engine.merge.preview import MergeEngine
from engine.merge.settings import MergeSettings
from engine.merge.stability import pasted_landmarks, placements, relative_motion
from engine.project.clips import add_clips
from engine.project.models import Job
from engine.project.store import ProjectStore
from engine.swap import checkpoint
from engine.swap.archs import build_model
from engine.swap.config import ModelConfig, TrainConfig

CLIP = ROOT / "resources" / "sample" / "lbax4n.mpg"
OTHER = ROOT / "resources" / "sample" / "sbwe5n.mpg"
RCT = MergeSettings(mask=("learned_src", "learned_dst"), color="rct")


def run_job(root: Path, kind: str, params: dict[str, object]) -> tuple[Job, float]:
    with ProjectStore.open(root) as store:
        job = JobQueue(store).enqueue(kind, params)
    worker = Worker(root, only_job=job.id, log_to_stderr=False)
    t = time.perf_counter()
    worker.run()
    took = time.perf_counter() - t
    assert worker.last_job is not None and worker.last_job.state == "done", worker.last_job
    return worker.last_job, took


def write_video(path: Path, frames: list[np.ndarray], fps: Fraction, crf: int, audio_from: Path | None = None) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "medium"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        src = av.open(str(audio_from)) if audio_from else None
        aout = out.add_stream_from_template(src.streams.audio[0]) if src else None
        for n, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = n
            vf.time_base = Fraction(1) / fps
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if src is not None:
            for p in src.demux(src.streams.audio[0]):
                if p.dts is not None:
                    p.stream = aout
                    out.mux(p)
            src.close()


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def make_720p(tmp: Path) -> Path:
    out = tmp / "lbax4n_720p.mp4"
    frames = []
    for img in decode(CLIP):
        big = cv2.resize(img, (900, 720), interpolation=cv2.INTER_CUBIC)
        canvas = np.zeros((720, 1280, 3), np.uint8)
        canvas[:, 190:1090] = big
        frames.append(canvas)
    write_video(out, frames, Fraction(25), 16, audio_from=CLIP)
    return out


def make_moving(tmp: Path) -> tuple[Path, list[np.ndarray]]:
    """The known-motion clip and its frame -> frame transforms (2x3, from the still)."""
    still = decode(CLIP)[20]
    h, w = still.shape[:2]
    frames, mats = [], []
    for t in range(75):
        a = 2 * np.pi * t / 75
        angle, scale = 4.0 * np.sin(a), 1.0 + 0.04 * np.sin(2 * a)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[0, 2] += 14.0 * np.sin(a)
        m[1, 2] += 8.0 * np.sin(2 * a + 1.0)
        frames.append(cv2.warpAffine(still, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101))
        mats.append(m)
    path = tmp / "moving.mp4"
    write_video(path, frames, Fraction(25), 10)
    return path, mats


def add_model(root: Path, cfg: ModelConfig) -> int:
    """A swap model row with untrained weights (speed does not depend on training)."""
    torch.manual_seed(0)
    net = build_model(cfg)
    now = time.time()
    with ProjectStore.open(root) as store, store.transaction() as c:
        cur = c.execute("INSERT INTO models (kind, name, arch, face_type, resolution, config, iteration, path, "
                        "created_at, updated_at) VALUES ('swap', 'bench', ?, ?, ?, ?, 0, '', ?, ?)",
                        (cfg.arch_string, cfg.face_type, cfg.resolution,
                         json.dumps({"model": cfg.to_json(), "train": TrainConfig().to_json()}), now, now))
        model_id = int(cur.lastrowid)
        c.execute("UPDATE models SET path = ? WHERE id = ?", (f"models/{model_id}/", model_id))
    checkpoint.save(root / "models" / str(model_id), weights=net.state_dict(),
                    state={"kind": "swap", "model_config": cfg.to_json(), "train_config": TrainConfig().to_json(),
                           "iteration": 0})
    return model_id


def preview_ms(root: Path, model_id: int, precision: str) -> tuple[float, float]:
    """(median ms for a new frame, median ms for a slider move) at 360p."""
    with ProjectStore.open(root) as store, MergeEngine(store, model_id, device="cpu", precision=precision) as eng:
        eng.merge_frame("lbax4n", 0, RCT)  # warm-up: first model call, reader open
        fresh = []
        for n in range(5, 75, 7):
            fresh.append(eng.merge_frame("lbax4n", n, RCT).timings["total"])
        slider = []
        for k in range(12):
            s = RCT.replace(erode=0.5 * (k % 4), blur=4.0 + k, face_scale=float(k % 3))
            slider.append(eng.merge_frame("lbax4n", 40, s).timings["total"])
    return statistics.median(fresh), statistics.median(slider)


def render_fps(root: Path, clip: str, model_id: int, threads: int, precision: str) -> tuple[float, float, float]:
    """(frames/s from first frame to finished file, frames/s over the job's wall time,
    seconds outside the render loop)."""
    job, took = run_job(root, "render", {"clip": clip, "model": model_id, "device": "cpu", "format": "mp4",
                                         "settings": RCT.to_json(), "threads": threads, "precision": precision})
    data = job.result["data"]  # type: ignore[index]
    frames = int(data["frames"])
    loop = frames / float(data["frames_per_s"])
    return float(data["frames_per_s"]), frames / took, took - loop


def true_jitter(root: Path, mats: list[np.ndarray], model_cfg: ModelConfig) -> dict[str, float]:
    with ProjectStore.open(root, readonly=True) as store:
        faces = [f for f in store.faces(clip_id=store.find_clip("moving").id, include_excluded=False)]
    faces.sort(key=lambda f: f.frame)
    by_frame = {f.frame: f for f in faces}
    frames = sorted(by_frame)
    inv = {t: cv2.invertAffineTransform(mats[t]) for t in frames}
    # The still's landmarks: every detection moved back to the still, averaged (noise cancels).
    back = [np.asarray(by_frame[t].landmarks, np.float64) @ inv[t][:, :2].T + inv[t][:, 2] for t in frames]
    still = np.mean(back, axis=0)
    truth = np.stack([still @ mats[t][:, :2].T + mats[t][:, 2] for t in frames])
    out = {"detector": relative_motion(np.stack([np.asarray(by_frame[t].landmarks, np.float64) for t in frames]),
                                       truth)}
    for strength in (0.0, 0.5, 1.0):
        places = placements(faces, model_cfg.face_type, model_cfg.resolution, strength)
        pasted = np.stack([pasted_landmarks(places[by_frame[t].id].matrix, model_cfg.face_type, model_cfg.resolution)
                           for t in frames])
        # Where the same points would be if they moved exactly with the head: moved back
        # to the still, averaged, and moved along the known path.
        home = np.mean([p @ inv[t][:, :2].T + inv[t][:, 2] for p, t in zip(pasted, frames, strict=True)], axis=0)
        ideal = np.stack([home @ mats[t][:, :2].T + mats[t][:, 2] for t in frames])
        out[str(strength)] = relative_motion(pasted, ideal)
    return out


def wobble(root: Path, clips: list[str], model_cfg: ModelConfig) -> dict[str, float]:
    out: dict[str, list[float]] = {"0.0": [], "0.5": [], "1.0": []}
    with ProjectStore.open(root, readonly=True) as store:
        for name in clips:
            faces = store.faces(clip_id=store.find_clip(name).id, include_excluded=False)
            for strength in (0.0, 0.5, 1.0):
                places = placements(faces, model_cfg.face_type, model_cfg.resolution, strength)
                p = np.stack([pasted_landmarks(places[f.id].matrix, model_cfg.face_type, model_cfg.resolution)
                              for f in sorted(faces, key=lambda f: f.frame)])
                out[str(strength)].append(float(np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=2).mean()))
    return {k: float(np.mean(v)) for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    parser.add_argument("--arch", default="df-ud", help="the 128 px model's layout (default df-ud)")
    parser.add_argument("--dims", default="128,32,32,12", help="ae,e,d,mask dims (default 128,32,32,12)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="model arithmetic (auto: bfloat16 on CPUs that have it natively)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    arch, _, opts = args.arch.partition("-")
    ae, e, d, dm = (int(x) for x in args.dims.split(","))
    cfg = ModelConfig(arch, opts, 128, "full", ae, e, d, dm)  # type: ignore[arg-type]
    params = sum(p.numel() for p in build_model(cfg).parameters()) / 1e6
    from engine.masks.xseg_apply import bf16_ok

    bf16 = args.precision == "bf16" or (args.precision == "auto" and bf16_ok(torch.device("cpu")))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads (the render uses one less); model "
          f"{cfg.arch_string} 128 px, ae {ae} e {e} d {d} mask {dm}: {params:.1f} M parameters (untrained), "
          f"{'bfloat16' if bf16 else 'float32'}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store = ProjectStore.create(tmp / "Bench")
        root = store.root
        big = make_720p(tmp)
        moving, mats = make_moving(tmp)
        add_clips(store, [CLIP, OTHER, big, moving], "dst")
        store.close()
        _, took = run_job(root, "extract", {})
        print(f"(extracted 4 clips in {took:.1f} s)")
        model_id = add_model(root, cfg)

        fresh, slider = preview_ms(root, model_id, args.precision)
        ok &= report("preview, one 360p frame, new frame (decode + 128 px model + merge, rct)", fresh, "ms", "<= 100")
        report("preview, one 360p frame, slider move (merge only, rct)", slider, "ms", "<= 100")

        for clip, target in (("lbax4n", 15), ("lbax4n_720p", 5)):
            fps, wall, outside = render_fps(root, clip, model_id, args.threads, args.precision)
            label = "360p (360x288)" if clip == "lbax4n" else "720p (1280x720)"
            ok &= report(f"render {label} to H.264 MP4 with rct, 75 frames, decode to finished file", fps,
                         "frames/s", f">= {target}")
            print(f"    (model load and job start {outside:.2f} s; over the job's whole wall time {wall:.1f} frames/s)")

        jit = true_jitter(root, mats, cfg)
        print(f"jitter on the known-motion clip: detector landmarks {jit['detector']:.3f} px per frame relative "
              "to the truth")
        report("jitter of the pasted face, no smoothing", jit["0.0"], "px/frame", "<= 1e9")
        ok &= report("jitter of the pasted face, smooth_alignment 0.5", jit["0.5"], "px/frame", f"<= {jit['0.0']:.6f}")
        report("jitter of the pasted face, smooth_alignment 1.0", jit["1.0"], "px/frame", f"<= {jit['0.0']:.6f}")
        wob = wobble(root, ["lbax4n", "sbwe5n"], cfg)
        print(f"wobble of the pasted face on the GRID clips (px/frame^2): none {wob['0.0']:.3f}, "
              f"0.5 {wob['0.5']:.3f}, 1.0 {wob['1.0']:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
