"""The disk-backed face store: packing once, a device cache smaller than the set that still
samples every face, the same training as the in-memory set, pretraining on a face folder
then "start from pretrained" into another project, and GAN state through a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from helpers import ROOT, run_cli

from engine.project.store import ProjectStore
from engine.swap import checkpoint, facestore
from engine.swap.config import ModelConfig, SwapConfigError, get_preset
from engine.swap.dataset import Sampler
from engine.swap.trainer import Trainer


def _pack_of(fs: Any, path: Path) -> facestore.Pack:
    """A pack holding a synthetic :class:`FaceSet`'s records."""
    n = len(fs)
    recs = ((i, torch.cat([fs.images[i], fs.masks[i]]).numpy()) for i in range(n))
    return facestore.write_pack(path, n, fs.images.shape[-1], recs, face_ids=fs.face_ids, yaw=fs.yaw.tolist())


def test_a_small_cache_samples_every_face_of_the_whole_set(tmp_path: Path, make_face_set: Any) -> None:
    fs = make_face_set(40, 64, 1)
    pack = _pack_of(fs, tmp_path / "a.faces")
    assert facestore.open_pack(pack.path) is not None
    stored = facestore.StoredFaces(pack, "cpu", budget=10 * pack.record_bytes, max_batch=4)
    assert not stored.resident and stored.capacity == 10 and stored.device_bytes == 10 * pack.record_bytes
    sampler = Sampler(stored.yaw, seed=5)
    seen: set[int] = set()
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):  # two epochs of batches of 4
        idx = sampler.draw(4, gen)
        images, masks = stored.gather(idx)
        assert torch.equal(images, fs.images[idx]) and torch.equal(masks, fs.masks[idx])  # the right records
        seen.update(idx.tolist())
    assert seen == set(range(40))  # uniform over the whole set, not over what is cached
    assert stored.reads >= 40
    # Pose-uniform sampling draws from every yaw bin, through the same cache.
    yaw_sampler = Sampler(stored.yaw, seed=5, uniform_yaw=True, bins=8)
    idx = yaw_sampler.draw(64, gen)
    assert torch.equal(stored.gather(idx)[0], fs.images[idx])
    # Too small a budget is refused with the sizes named.
    with pytest.raises(SwapConfigError, match="face cache budget"):
        facestore.StoredFaces(pack, "cpu", budget=3 * pack.record_bytes, max_batch=4)


def test_training_from_the_store_equals_training_in_memory(tmp_path: Path, make_face_set: Any) -> None:
    p = get_preset("fast-64")
    tiny = ModelConfig("df", "ud", 64, "full", ae_dims=32, e_dims=8, d_dims=8, d_mask_dims=8)
    cfg = p.train.updated({"batch_size": 4})
    src, dst = make_face_set(24, 64, 1), make_face_set(24, 64, 2)
    s_pack, d_pack = _pack_of(src, tmp_path / "s.faces"), _pack_of(dst, tmp_path / "d.faces")
    budget = 9 * s_pack.record_bytes  # a third of each set
    a = Trainer(tiny, cfg, src, dst, seed=4)
    b = Trainer(tiny, cfg, facestore.StoredFaces(s_pack, "cpu", budget=budget, max_batch=4),
                facestore.StoredFaces(d_pack, "cpu", budget=budget, max_batch=4), seed=4)
    for _ in range(3):
        la, lb = a.step(), b.step()
        assert float(la.src) == pytest.approx(float(lb.src), rel=1e-5)
        assert float(la.dst) == pytest.approx(float(lb.dst), rel=1e-5)


def test_project_faces_are_packed_once_and_repacked_after_a_mask_edit(project_copy: Path) -> None:
    from engine.swap.dataset import load_face_set, select_faces

    with ProjectStore.open(project_copy) as store:
        faces = select_faces(store, "dst")[:12]
        pack = facestore.pack_project_faces(store, faces, face_type="full", resolution=64)
        mtime = pack.path.stat().st_mtime_ns
        again = facestore.pack_project_faces(store, faces, face_type="full", resolution=64)
        assert again.path == pack.path and again.path.stat().st_mtime_ns >= mtime
        ref = load_face_set(store, faces, face_type="full", resolution=64)
        stored = facestore.StoredFaces(pack, "cpu", budget=1 << 30)
        idx = torch.arange(len(faces))
        assert stored.resident and torch.equal(stored.gather(idx)[0], ref.images)
        assert torch.equal(stored.gather(idx)[1], ref.masks)  # the same crops and masks as before
        with store.transaction() as c:  # a label mask on one face changes its record: a new pack
            c.execute("INSERT INTO masks (face_id, kind, shapes, updated_at) VALUES (?, 'label', '[]', ?)",
                      (faces[0].id, time.time()))
        assert facestore.project_key(store, faces, "full", 64) != pack.path.stem


def _face_folder(folder: Path, make_face_set: Any, n: int = 10) -> Path:
    folder.mkdir()
    fs = make_face_set(n, 96, 9)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), fs.images[i].permute(1, 2, 0).numpy()[:, :, ::-1].copy())
    return folder


def test_pretrain_on_a_face_folder_then_start_from_pretrained(tmp_path: Path, extracted_project: Any,
                                                              make_face_set: Any, job_runner: Any) -> None:
    run, _ = job_runner
    from engine.swap.pretrained import start_from_pretrained

    folder = _face_folder(tmp_path / "aligned", make_face_set)
    pre = extracted_project.copy(tmp_path / "pre")
    job = run(pre, "train_swap", {"preset": "fast-64", "iterations": 3, "pretrain": True, "pretrain_faces": str(folder),
                                  "preview_every": 0, "seed": 2})
    assert job.state == "done", job.error_text
    pre_ckpt = checkpoint.load(checkpoint.find_latest(pre / "models" / "1"))
    assert pre_ckpt.state["train_config"]["pretrain"] is True and pre_ckpt.state["iteration"] == 3
    target = extracted_project.copy(tmp_path / "target")
    with ProjectStore.open(target) as store:
        reset = start_from_pretrained(store, pre / "models" / "1", keep_decoders=False, seed=5)
        kept = start_from_pretrained(store, pre / "models" / "1", keep_decoders=True, seed=5)
    for model_id, decoders_kept in ((reset, False), (kept, True)):
        w = checkpoint.load(checkpoint.find_latest(target / "models" / str(model_id))).weights
        for k, v in pre_ckpt.weights.items():
            same = torch.equal(w[k], v)
            if k.startswith(("encoder.", "inter.")):
                assert same, k
            elif k.startswith("decoder_") and k.endswith("weight"):
                assert same == decoders_kept, k
    # Continue the new model on the project's own faces: no pretraining reset, iterations from 0.
    job = run(target, "train_swap", {"model": reset, "iterations": 2, "preview_every": 0})
    assert job.state == "done", job.error_text
    st = checkpoint.read_state(checkpoint.find_latest(target / "models" / str(reset)))
    assert st["iteration"] == 2 and st["train_config"]["pretrain"] is False
    with ProjectStore.open(target, readonly=True) as store:
        kinds = [r[0] for r in store.query("SELECT kind FROM job_events WHERE job_id = ?", (job.id,))]
    assert "pretrain" not in kinds  # the kept inter layers were not reset
    # The same from the command line, with an SAEHD option by its DeepFaceLab name.
    done = run_cli("train", str(target), "--from-pretrained", str(pre / "models" / "1"), "--keep-decoders",
                   "--iterations", "1", "--preview-every", "0", "--set", "random_jpeg=y", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "encoder and inter kept, decoders kept" in done.stdout
    bad = run_cli("train", str(target), "--from-pretrained", str(folder), "--quiet")
    assert bad.returncode != 0 and "no complete swap-model checkpoint" in bad.stderr
    with ProjectStore.open(target, readonly=True) as store:
        newest = max(m.id for m in store.models("swap"))
    st = checkpoint.read_state(checkpoint.find_latest(target / "models" / str(newest)))
    assert st["iteration"] == 1 and st["train_config"]["random_jpeg"] is True
    # A folder that is not a model is refused, and nothing is added.
    with ProjectStore.open(target) as store:
        before = len(store.models("swap"))
        with pytest.raises(checkpoint.CheckpointError, match="no complete swap-model checkpoint"):
            start_from_pretrained(store, folder)
        assert len(store.models("swap")) == before


def test_a_bad_pretraining_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SwapConfigError, match="does not exist"):
        facestore.pack_folder(tmp_path / "nope", tmp_path, resolution=64)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SwapConfigError, match="broken.jpg: not a readable image"):
        facestore.pack_folder(tmp_path / "f", tmp_path, resolution=64)
    assert not list((tmp_path / facestore.FOLDER).glob("*.faces")) if (tmp_path / facestore.FOLDER).exists() else True


@pytest.mark.slow
def test_gan_state_survives_a_kill_and_resume(extracted_copy: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    with ProjectStore.open(extracted_copy) as store:
        from engine.jobs.queue import JobQueue

        job = JobQueue(store).enqueue("train_swap", {"preset": "fast-64", "iterations": 400, "seed": 3,
                                                      "preview_every": 0, "checkpoint_every_s": 0.3,
                                                      "train": {"gan_power": 0.2, "gan_dims": 8}})
    cmd = [sys.executable, "-m", "engine", "worker", "--project", str(extracted_copy), "--exit-when-idle"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    folder = extracted_copy / "models" / "1"
    deadline = time.monotonic() + 180
    while True:
        latest = checkpoint.find_latest(folder) if folder.exists() else None
        if latest is not None and checkpoint.read_state(latest)["iteration"] >= 3:
            break
        assert proc.poll() is None and time.monotonic() < deadline, "training did not get going"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = checkpoint.load(checkpoint.find_latest(folder))
    gan = {k: v for k, v in saved.weights.items() if k.startswith("gan_d.")}
    assert gan and "gan_d" in saved.optimizers["discriminators"]
    # Resume in this process for a few steps: the discriminator continues from the saved state.
    from engine.swap.request import TrainRequest
    from engine.swap.session import Session

    with ProjectStore.open(extracted_copy) as store:
        session = Session(None, store, TrainRequest(model=1, iterations=saved.state["iteration"] + 1), 1)
        t = session.trainer
        assert t.iteration == saved.state["iteration"]
        restored = t.adversaries.weights()
        assert all(torch.equal(restored[k], v) for k, v in gan.items())
        steps = t.adversaries.optimizers["gan_d"].state_dict()["state"]
        assert steps and float(next(iter(steps.values()))["step"]) >= 3  # moments restored, not restarted
        session.run()
    after = checkpoint.load(checkpoint.find_latest(folder))
    assert after.state["iteration"] == saved.state["iteration"] + 1
    assert any(not torch.equal(after.weights[k], v) for k, v in gan.items())  # and kept learning
    assert np.isfinite(after.state["loss_history"]["src"][-1])
    with ProjectStore.open(extracted_copy, readonly=True) as store:
        rows = store.query("SELECT value FROM job_metrics WHERE job_id = ? AND name = 'gan_d_loss'", (job.id,))
    assert rows and all(np.isfinite(r[0]) for r in rows)  # the worker logged the discriminator's loss
