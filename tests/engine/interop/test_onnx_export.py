"""A trained swap model exported to ONNX and to a DeepFaceLive .dfm runs in onnxruntime
and matches the torch model (max abs diff <= 1e-3 in fp32) on real dst crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnxruntime = pytest.importorskip("onnxruntime")

from engine.interop import InteropError
from engine.interop.onnx_export import export_swap_model
from engine.masks.crops import CropReader
from engine.project.store import ProjectStore
from engine.swap.inference import SwapModel


@pytest.fixture(scope="module")
def exported(trained_swap, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx")
    with ProjectStore.open(trained_swap.root, readonly=True) as store:
        onnx = export_swap_model(store, trained_swap.model_id, out / "swap.onnx", fmt="onnx")
        dfm = export_swap_model(store, trained_swap.model_id, out / "swap.dfm", fmt="dfm")
        model = SwapModel.from_project(store, trained_swap.model_id)
        dst = [f for f in store.faces() if store.clip(f.clip_id).role == "dst"][:4]
        with CropReader(store, model.face_type, model.resolution) as reader:
            crops = np.stack([c for _, c in reader.read(dst)])
    return onnx, dfm, model, crops


def test_onnx_matches_torch_on_real_crops(exported) -> None:
    onnx, _, model, crops = exported
    assert onnx.max_abs_diff <= 1e-3
    sess = onnxruntime.InferenceSession(str(onnx.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["crop"]
    x = crops.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    swapped, mask, mask_dst = sess.run(None, {"crop": x})
    want = model.swap(crops)
    assert np.abs(swapped.transpose(0, 2, 3, 1) - want.swapped).max() <= 1e-3
    assert np.abs(mask[:, 0] - want.mask_src).max() <= 1e-3
    assert np.abs(mask_dst[:, 0] - want.mask_dst).max() <= 1e-3


def test_dfm_has_deepfacelives_names_and_layout(exported) -> None:
    _, dfm, model, crops = exported
    r = model.resolution
    sess = onnxruntime.InferenceSession(str(dfm.path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "in_face:0" and inp.shape[1:] == [r, r, 3]
    assert [o.name for o in sess.get_outputs()] == ["out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0"]
    bgr = crops[..., ::-1].astype(np.float32) / 255.0  # DeepFaceLive feeds BGR NHWC in [0, 1]
    face_mask, celeb, celeb_mask = sess.run(None, {"in_face:0": bgr})
    want = model.swap(crops)
    assert celeb.shape == (len(crops), r, r, 3) and face_mask.shape == (len(crops), r, r, 1)
    assert np.abs(celeb[..., ::-1] - want.swapped).max() <= 1e-3
    assert np.abs(face_mask[..., 0] - want.mask_dst).max() <= 1e-3
    assert np.abs(celeb_mask[..., 0] - want.mask_src).max() <= 1e-3


def test_an_xseg_or_missing_model_is_refused(trained_swap, tmp_path: Path) -> None:
    with ProjectStore.open(trained_swap.root, readonly=True) as store:
        with pytest.raises(Exception, match="model"):
            export_swap_model(store, 9999, tmp_path / "x.onnx")
        with pytest.raises(InteropError, match="unknown model format"):
            export_swap_model(store, trained_swap.model_id, tmp_path / "x.onnx", fmt="tflite")
    assert not (tmp_path / "x.onnx").exists()


def test_export_model_job_writes_a_dfm(trained_swap, tmp_path: Path, job_runner) -> None:
    import shutil

    run_job, _ = job_runner
    root = tmp_path / trained_swap.root.name
    shutil.copytree(trained_swap.root, root)
    out = tmp_path / "model.dfm"
    job = run_job(root, "export_model", {"model": trained_swap.model_id, "out": str(out), "format": "dfm"})
    assert job.state == "done", job.error_text
    assert out.is_file() and job.result["data"]["max_abs_diff"] <= 1e-3
    assert "exported dfm 64 px" in job.result["message"]
