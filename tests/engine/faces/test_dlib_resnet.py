"""dlib's face-descriptor network run in torch: the same numbers as dlib, read from dlib's file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.faces.dlib_backend import FACE_RECOGNITION_FILE, _import_dlib, _model_file, _recognition_model
from engine.faces.dlib_resnet import DlibResNet
from engine.faces.errors import BackendUnavailable


@pytest.fixture(scope="module")
def net() -> DlibResNet:
    return DlibResNet(Path(_model_file(FACE_RECOGNITION_FILE)))


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg", "two_people.jpg", "grace_hopper_512x512.jpg",
                                  "einstein.jpg"])
def test_the_torch_network_gives_dlibs_descriptor(net, dlib_backend, still, name):
    """Every face of real photos (frontal, greyscale, two in one picture): equal to
    dlib's own ``compute_face_descriptor`` to float rounding."""
    dlib = _import_dlib()
    img = still(name)
    faces = dlib_backend.detect(img)
    assert faces, name
    for face in faces:
        lm = dlib_backend.landmarks(img, face.box)
        rect = dlib.rectangle(*(int(v) for v in face.box))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in lm])
        ref = np.asarray(_recognition_model().compute_face_descriptor(img, shape, 0, 0.25))
        chip = np.asarray(dlib.get_face_chip(img, shape, size=150, padding=0.25))
        got = net(torch.from_numpy(chip[None].copy()))[0].numpy()
        assert np.abs(got - ref).max() < 1e-4, (name, np.abs(got - ref).max())


def test_a_batch_equals_one_face_at_a_time(net, still, dlib_backend):
    img = still("two_people.jpg")
    dlib = _import_dlib()
    chips = []
    for face in dlib_backend.detect(img):
        lm = dlib_backend.landmarks(img, face.box)
        shape = dlib.full_object_detection(dlib.rectangle(*(int(v) for v in face.box)),
                                           [dlib.point(int(round(x)), int(round(y))) for x, y in lm])
        chips.append(np.asarray(dlib.get_face_chip(img, shape, size=150, padding=0.25)))
    batch = net(torch.from_numpy(np.stack(chips)))
    single = torch.cat([net(torch.from_numpy(c[None].copy())) for c in chips])
    assert torch.allclose(batch, single, atol=1e-5)


def test_a_file_that_is_not_the_network_is_named(tmp_path):
    bad = tmp_path / FACE_RECOGNITION_FILE
    bad.write_bytes(b"\x01\x01" + b"not a network" * 100)
    with pytest.raises(BackendUnavailable, match=str(bad)) as info:
        DlibResNet(bad)
    assert "face-recognition-models" in str(info.value)
    with pytest.raises(BackendUnavailable, match="cannot read"):
        DlibResNet(tmp_path / "missing.dat")
