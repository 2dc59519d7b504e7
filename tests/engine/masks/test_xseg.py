"""XSeg end to end on the GRID clips: train (the real job), held-out IoU, apply, re-apply,
pause/resume and cancel of training, the fallback rule."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch

from engine.jobs.queue import JobQueue
from engine.jobs.worker import Worker
from engine.masks import repo
from engine.masks.crops import CropReader
from engine.masks.raster import iou, rasterize
from engine.masks.resolve import best_mask
from engine.masks.xseg_apply import XSegPredictor
from engine.masks.xseg_net import XSegConfig, build
from engine.project.store import ProjectStore
from engine.swap import checkpoint as ckpt_io

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.masks.shapes import LabelMask
    from engine.project.models import Face, Job

    RunJob = Callable[[Path, str, dict[str, Any]], Job]


def test_trained_model_predicts_hull_and_forehead_on_held_out_frames(
    trained_xseg: Any, hull_forehead_label: Callable[[Face], LabelMask]
) -> None:
    with ProjectStore.open(trained_xseg.root, readonly=True) as store:
        model = store.model(trained_xseg.model_id)
        predictor = XSegPredictor.load(store, model, device="cpu")
        faces = store.faces(ids=trained_xseg.held_out)
        assert len(faces) == 60 and not set(trained_xseg.held_out) & set(trained_xseg.keyframes)
        with CropReader(store, model.face_type, model.resolution) as reader:
            read = list(reader.read(faces))
        preds = predictor.predict(np.stack([crop for _, crop in read]))
        ious = [iou(pred, rasterize(hull_forehead_label(face), repo.crop_matrix(face, model.face_type,
                                                                                  model.resolution), model.resolution))
                for (face, _), pred in zip(read, preds, strict=True)]
    mean = float(np.mean(ious))
    print(f"\nXSeg 128 px width 8, 6 keyframes, {trained_xseg.params['iterations']} iterations: trained in "
          f"{trained_xseg.train_seconds:.1f} s (job), held-out IoU mean {mean:.3f}, min {min(ious):.3f}")
    assert mean >= 0.85
    assert model.iteration == trained_xseg.params["iterations"]


def test_training_reports_metrics_previews_and_checkpoint(trained_xseg: Any) -> None:
    root = trained_xseg.root
    with sqlite3.connect(root / "project.db") as conn:
        names = {r[0] for r in conn.execute("SELECT DISTINCT name FROM job_metrics WHERE job_id = ?",
                                            (trained_xseg.job.id,))}
        row = conn.execute("SELECT kind, arch, resolution, face_type, path FROM models WHERE id = ?",
                           (trained_xseg.model_id,)).fetchone()
    assert {"loss", "bce", "dice", "ms_per_iter", "iou_train"} <= names
    assert row[:4] == ("xseg", "unet-v1", 128, "whole")
    assert trained_xseg.job.preview_path and (root / trained_xseg.job.preview_path).is_file()
    latest = ckpt_io.find_latest(root / row[4])
    assert latest is not None
    ckpt = ckpt_io.load(latest)
    assert ckpt.state["iteration"] == trained_xseg.params["iterations"]
    assert ckpt.state["config"] == XSegConfig(resolution=128, width=8).to_dict()
    # The optimizer file is plain tensors: torch.load(weights_only=True) accepted it above.
    assert ckpt.optimizer is not None and "state" in ckpt.optimizer


def test_apply_stores_one_mask_per_face_and_keeps_labels(trained_xseg: Any, tmp_path: Path, run_job: RunJob) -> None:
    root = trained_xseg.copy(tmp_path)
    with sqlite3.connect(root / "project.db") as conn:
        labels_before = conn.execute("SELECT * FROM masks WHERE kind = 'label' ORDER BY id").fetchall()
    job = run_job(root, "apply_xseg", {"device": "cpu", "threads": 1})
    assert job.state == "done", job.error_text
    with ProjectStore.open(root) as store:
        n_faces = len(store.faces(include_excluded=False))
        rows = store.query("SELECT face_id, count(*) AS n, min(updated_at) AS t FROM masks "
                           "WHERE kind = 'predicted' AND model_id = ? GROUP BY face_id", (trained_xseg.model_id,))
        assert len(rows) == n_faces and all(r["n"] == 1 for r in rows)
        assert sorted(job.result["changes"]["masks"]) == sorted(
            r[0] for r in store.query("SELECT id FROM masks WHERE kind = 'predicted'"))
        first_t = max(r["t"] for r in rows)
        pred = repo.get_prediction(store, trained_xseg.held_out[0], trained_xseg.model_id)
        assert pred is not None and pred.mask.shape == (128, 128) and pred.face_type == "whole"
        # A keyframe's label wins over its prediction; other faces use the prediction.
        key = store.face(trained_xseg.keyframes[0])
        assert best_mask(store, key).source == "label"
        other = store.face(trained_xseg.held_out[0])
        got = best_mask(store, other, size=256)
        assert got.source == "predicted" and got.model_id == trained_xseg.model_id and got.mask.shape == (256, 256)
    with sqlite3.connect(root / "project.db") as conn:
        assert conn.execute("SELECT * FROM masks WHERE kind = 'label' ORDER BY id").fetchall() == labels_before

    again = run_job(root, "apply_xseg", {"clips": ["bbaf2n"], "skip_keyframes": True, "threads": 1})
    assert again.state == "done", again.error_text
    with ProjectStore.open(root) as store:
        rows = store.query("SELECT face_id, count(*) AS n, max(updated_at) AS t FROM masks "
                           "WHERE kind = 'predicted' GROUP BY face_id")
        assert len(rows) == n_faces and all(r["n"] == 1 for r in rows)  # replaced, not added
        clip = store.find_clip("bbaf2n")
        renewed = {r["face_id"] for r in rows if r["t"] > first_t}
        expected = {f.id for f in store.faces(clip_id=clip.id, include_excluded=False)} - set(trained_xseg.keyframes)
        assert renewed == expected


def _run_in_thread(root: Path, job_id: int) -> tuple[threading.Thread, list[Worker]]:
    holder: list[Worker] = []

    def go() -> None:
        w = Worker(root, only_job=job_id, log_to_stderr=False)
        holder.append(w)
        w.run()

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, holder


def _wait_for_step(root: Path, job_id: int, step: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(root / "project.db") as conn:
            got = conn.execute("SELECT max(step) FROM job_metrics WHERE job_id = ? AND name = 'loss'",
                               (job_id,)).fetchone()[0]
        if got is not None and got >= step:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach step {step}")


def test_training_pauses_resumes_to_the_same_end_and_cancels(trained_xseg: Any, tmp_path: Path) -> None:
    root = trained_xseg.copy(tmp_path)
    params = {"model": trained_xseg.model_id, "iterations": 400, "eval_every": 1000, "preview_every": 1000,
              "save_every": 1000, "device": "cpu", "threads": 1}
    with ProjectStore.open(root) as store:
        queue = JobQueue(store)
        job = queue.enqueue("train_xseg", params)
        thread, _ = _run_in_thread(root, job.id)
        _wait_for_step(root, job.id, trained_xseg.params["iterations"] + 3)
        queue.pause(job.id)
        thread.join(60)
        paused = queue.job(job.id)
        assert paused.state == "paused", paused.error_text
        target = trained_xseg.params["iterations"] + 400
        assert paused.checkpoint == {"model_id": trained_xseg.model_id, "target": target}
        latest = ckpt_io.find_latest(root / store.model(trained_xseg.model_id).path)
        at_pause = ckpt_io.read_state(latest)["iteration"]
        assert trained_xseg.params["iterations"] + 3 <= at_pause < trained_xseg.params["iterations"] + 400
        assert store.model(trained_xseg.model_id).iteration == at_pause

        # Resumed, it continues from the saved iteration; cancelled, it stops for good.
        queue.resume(job.id)
        thread, _ = _run_in_thread(root, job.id)
        _wait_for_step(root, job.id, at_pause + 2)
        with sqlite3.connect(root / "project.db") as conn:
            first_after = conn.execute("SELECT min(step) FROM job_metrics WHERE job_id = ? AND name = 'loss' "
                                       "AND step > ?", (job.id, at_pause)).fetchone()[0]
        assert first_after == at_pause + 1
        queue.cancel(job.id)
        thread.join(60)
        assert queue.job(job.id).state == "cancelled"


def test_training_without_keyframes_fails_with_a_clear_message(grid_copy: Path, run_job: RunJob) -> None:
    job = run_job(grid_copy, "train_xseg", {"resolution": 128, "width": 4, "iterations": 1, "device": "cpu"})
    assert job.state == "failed"
    assert "no keyframes" in (job.error_text or "")


def test_apply_without_a_model_fails_with_a_clear_message(grid_copy: Path, run_job: RunJob) -> None:
    job = run_job(grid_copy, "apply_xseg", {})
    assert job.state == "failed"
    assert "no XSeg model" in (job.error_text or "")


@pytest.mark.parametrize("resolution", [128, 256])
def test_network_shapes_and_depth(resolution: int) -> None:
    cfg = XSegConfig(resolution=resolution, width=8)
    net = build(cfg, seed=1)
    out = net(torch.rand(2, 3, resolution, resolution))
    assert out.shape == (2, 1, resolution, resolution)
    assert cfg.depth == (4 if resolution == 128 else 5)
    again = build(cfg, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True))


def test_a_non_finite_loss_rolls_back_with_half_the_learning_rate() -> None:
    from engine.masks.xseg_data import Samples
    from engine.masks.xseg_trainer import TrainOptions, XSegTrainer

    n, res = 4, 128
    gen = torch.Generator().manual_seed(0)
    masks = torch.zeros(n, 1, res, res, dtype=torch.uint8)
    masks[:, :, 32:96, 32:96] = 255
    samples = Samples(tuple(range(n)), torch.randint(0, 255, (n, 3, res, res), dtype=torch.uint8, generator=gen),
                      masks, torch.ones(n))
    trainer = XSegTrainer(XSegConfig(resolution=res, width=4), samples, options=TrainOptions(batch_size=2))
    trainer.step()
    trainer.remember_good()
    good = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    with torch.no_grad():
        trainer.net.head.weight.fill_(float("nan"))
    out = trainer.step()
    assert out.get("rolled_back") == 1.0 and trainer.iteration == 1 and trainer.lr_scale == 0.5
    assert all(torch.equal(v, good[k]) for k, v in trainer.net.state_dict().items())
    assert np.isfinite(trainer.step()["loss"]) and trainer.iteration == 2


def test_apply_pauses_and_resumes_without_redoing_faces(trained_xseg: Any, tmp_path: Path) -> None:
    root = trained_xseg.copy(tmp_path)
    with ProjectStore.open(root) as store:
        queue = JobQueue(store)
        job = queue.enqueue("apply_xseg", {"batch_size": 8, "threads": 1})
        thread, _ = _run_in_thread(root, job.id)
        deadline = time.monotonic() + 30
        while queue.job(job.id).state != "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        queue.pause(job.id)
        thread.join(60)
        paused = queue.job(job.id)
        assert paused.state == "paused", paused.state
        first = {r[0]: r[1] for r in store.query("SELECT face_id, updated_at FROM masks WHERE kind = 'predicted'")}
        assert 0 < len(first) < 300 and paused.checkpoint == {"model_id": trained_xseg.model_id, "done": len(first)}
        queue.resume(job.id)
        thread, _ = _run_in_thread(root, job.id)
        thread.join(60)
        done = queue.job(job.id)
        assert done.state == "done", done.error_text
        after = {r[0]: r[1] for r in store.query("SELECT face_id, updated_at FROM masks WHERE kind = 'predicted'")}
        assert len(after) == 300 and all(after[i] == t for i, t in first.items())  # none redone
        assert done.result is not None and done.result["data"]["faces"] == 300
