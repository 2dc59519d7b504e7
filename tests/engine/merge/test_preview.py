"""The preview engine with the session's trained model: slider moves reuse the model's
output, mask sources (hull, learned, XSeg, keyframe labels) work as documented, excluded
faces pass through, and rct fixes DeepFaceLab's masked statistics."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.merge.color import lab_to_rgb, rct, rgb_to_lab
from engine.merge.settings import MergeSettings
from engine.project.store import ProjectStore


def test_slider_moves_reuse_the_model_output(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first = engine.merge_frame("lbax4n", 12, MergeSettings())
    assert first.faces == 1 and set(first.timings) == {"decode", "predict", "masks", "merge", "total"}
    calls: list[int] = []
    real = engine.predictor.predict
    monkeypatch.setattr(engine.predictor, "predict", lambda items: (calls.append(len(items)), real(items))[1])
    for s in (MergeSettings(erode=2.0), MergeSettings(blur=15.0, color="lct"), MergeSettings(face_scale=5.0, opacity=0.7),
              MergeSettings(sharpen="box", sharpen_amount=40.0, color="mkl"), MergeSettings(mask=("hull", "learned_dst"))):
        pv = engine.merge_frame("lbax4n", 12, s)
        assert pv.faces == 1 and pv.timings["predict"] < 1.0
    assert calls == []
    engine.merge_frame("lbax4n", 12, MergeSettings(smooth_alignment=0.8))  # a new crop: one model call
    assert calls == [1]
    engine.merge_frame("lbax4n", 40, MergeSettings(smooth_mask=2))  # the face and its 4 track neighbours
    assert calls[1:] == [5]


def test_rct_takes_statistics_inside_the_mask_where_deepfacelab_counts_the_outside(engine: Any) -> None:
    """rct moves the swapped face's mean L*a*b* colour inside the mask onto the dst face's.

    DeepFaceLab's formula zeroes the pixels outside the mask and still counts them. Its
    error is small when the swapped face's and the dst face's contrast relative to their
    brightness agree (about 1 unit here on GRID as filmed), and grows when they do not:
    under harder light on the dst face (darker, more contrast) it misses by several units
    while masked statistics stay on target.
    """
    pv = engine.merge_frame("lbax4n", 30, MergeSettings(mask=("hull",), color="rct"))
    prepared = pv.merge.faces[0].prepared
    inside = prepared.mask.core
    assert 0.3 < inside.mean() < 0.8

    def mean_lab(img: np.ndarray) -> np.ndarray:
        as_saved = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8).astype(np.float32) / 255.0
        return rgb_to_lab(as_saved)[inside].mean(axis=0)

    dst, swapped = prepared.layer.dst, prepared.layer.swapped
    assert np.linalg.norm(mean_lab(swapped) - mean_lab(dst)) > 5  # there was something to fix
    assert np.linalg.norm(mean_lab(prepared.face) - mean_lab(dst)) < 2  # the merge's own rct

    def dfl_rct(face: np.ndarray, target: np.ndarray, m: np.ndarray) -> np.ndarray:
        fl, tl = rgb_to_lab(face * m[..., None]), rgb_to_lab(target * m[..., None])  # zeros outside, counted
        f, t = fl.reshape(-1, 3), tl.reshape(-1, 3)
        out = (rgb_to_lab(face) - f.mean(0)) * (t.std(0) / f.std(0)) + t.mean(0)
        out[..., 0] = np.clip(out[..., 0], 0, 100)
        out[..., 1:] = np.clip(out[..., 1:], -127, 127)
        return np.clip(lab_to_rgb(out.astype(np.float32)), 0, 1)

    m = inside.astype(np.float32)
    mu = dst[inside].mean(axis=0)
    hard_light = np.clip((dst - mu) * 1.8 + mu * 0.6, 0, 1).astype(np.float32)
    ours = np.linalg.norm(mean_lab(rct(swapped, hard_light, m)) - mean_lab(hard_light))
    theirs = np.linalg.norm(mean_lab(dfl_rct(swapped, hard_light, m)) - mean_lab(hard_light))
    assert ours < 2 < theirs, (ours, theirs)


def _xseg_model(root: Path) -> int:
    """An (untrained) XSeg model in the project: enough to run the live XSeg modes."""
    from engine.masks import repo
    from engine.masks.xseg_net import XSegConfig, build
    from engine.swap import checkpoint

    config = XSegConfig(resolution=128, face_type="whole", width=8)
    with ProjectStore.open(root) as store:
        model, _ = repo.create_model(store, name="tiny", arch="unet-v1", face_type=config.face_type,
                                     resolution=config.resolution, config=config.to_dict())
    checkpoint.save(root / "models" / str(model.id), weights=build(config, seed=0).state_dict(),
                    state={"iteration": 1, "config": config.to_dict(), "kind": "xseg"})
    return model.id


def test_mask_sources_xseg_and_labels(merge_project: Path, tmp_path: Path) -> None:
    from engine.masks.hull import hull_label
    from engine.masks.repo import set_label
    from engine.merge.preview import MergeEngine

    root = tmp_path / merge_project.name
    shutil.copytree(merge_project, root, ignore=shutil.ignore_patterns("renders", "previews", "logs"))
    xseg_id = _xseg_model(root)
    with ProjectStore.open(root) as store, MergeEngine(store, device="cpu") as eng:
        face = eng.predictor.faces_by_frame(store.find_clip("lbax4n").id)[8][0]
        for mask in (("xseg_dst",), ("xseg_src",), ("hull", "xseg_dst", "learned_src")):
            pv = eng.merge_frame("lbax4n", 8, MergeSettings(mask=mask, xseg_model=xseg_id, color="none", blur=0))
            assert pv.faces == 1 and pv.alpha.shape == (288, 360)
        hull = eng.merge_frame("lbax4n", 8, MergeSettings(mask=("hull",), color="none", blur=0)).alpha
        both = eng.merge_frame("lbax4n", 8, MergeSettings(mask=("hull", "xseg_dst"), xseg_model=xseg_id,
                                                          color="none", blur=0)).alpha
        assert (both <= hull + 1e-6).all()  # a product never grows
        # A keyframe label wins over XSeg: draw the hull as the face's label.
        set_label(store, face.id, hull_label(face.landmarks))
        eng.forget()
        labelled = eng.merge_frame("lbax4n", 8, MergeSettings(mask=("xseg_dst",), xseg_model=xseg_id,
                                                              color="none", blur=0)).alpha
        assert np.abs(labelled - hull).mean() < 0.01


def test_not_swapped_faces_pass_through(merge_project: Path, tmp_path: Path, job_runner: Any) -> None:
    import cv2

    run, _ = job_runner
    root = tmp_path / merge_project.name
    shutil.copytree(merge_project, root, ignore=shutil.ignore_patterns("renders", "previews", "logs"))
    with ProjectStore.open(root) as store:
        clip = store.find_clip("lbax4n")
        gone = [f.id for f in store.faces(clip_id=clip.id) if 3 <= f.frame < 6]
        store.set_swap_excluded(gone, True)
        # Left out of training only: still swapped.
        store.set_excluded([f.id for f in store.faces(clip_id=clip.id) if f.frame == 6], True)
    folder = tmp_path / "frames"
    job = run(root, "render", {"clip": "lbax4n", "format": "png", "out": str(folder), "start": 2, "stop": 7,
                               "device": "cpu", "settings": MergeSettings(mask=("hull",)).to_json()})
    assert job.state == "done", job.error_text
    import av

    with av.open(str(clip.path)) as c:
        source = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    for n in range(2, 7):
        image = cv2.cvtColor(cv2.imread(str(folder / f"frame_{n:06d}.png")), cv2.COLOR_BGR2RGB)
        assert np.array_equal(image, source[n]) == (3 <= n < 6)
