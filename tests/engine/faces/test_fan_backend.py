"""The FAN backend loads weights from the torch hub cache only, and never downloads."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from engine.faces.backends import get_backend
from engine.faces.errors import BackendUnavailable
from engine.faces.fan_backend import FanBackend, fan_weights_url, torch_checkpoint_dir

torch = pytest.importorskip("torch")
pytest.importorskip("face_alignment")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    import face_alignment.utils

    monkeypatch.setattr(face_alignment.utils, "download_url_to_file", refuse)


@pytest.fixture
def torch_home(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_missing_fan_weights_say_which_file_goes_where(torch_home, no_network):
    with pytest.raises(BackendUnavailable) as info:
        get_backend("fan")
    message = str(info.value)
    file_name = fan_weights_url().rsplit("/", 1)[-1]
    assert file_name == "2DFAN4-11f355bf06.pth.tar"
    assert file_name in message
    assert str(torch_home / "hub" / "checkpoints") in message
    assert "never downloads" in message
    assert not (torch_home / "hub" / "checkpoints" / file_name).exists()


def test_fan_backend_plumbing_with_random_weights(torch_home, no_network):
    from face_alignment.models import FAN

    folder = torch_checkpoint_dir()
    assert folder == torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(FAN(4).state_dict(), folder / fan_weights_url().rsplit("/", 1)[-1])

    backend = get_backend("fan", flip_test=True)
    assert isinstance(backend, FanBackend)
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    lm = backend.landmarks(image, (100.0, 60.0, 220.0, 180.0))
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    assert np.isfinite(lm).all()
    # Heatmap peaks anywhere in the 256 crop map to within the crop's frame footprint.
    side = 200.0 * 240.0 / 195.0
    assert (np.abs(lm - [160.0, 120.0 - 0.12 * 120]) <= side / 2 + 2).all()


def test_broken_weight_file_is_reported(torch_home, no_network):
    folder = torch_checkpoint_dir()
    folder.mkdir(parents=True)
    (folder / fan_weights_url().rsplit("/", 1)[-1]).write_bytes(b"not a checkpoint")
    backend = get_backend("fan")
    with pytest.raises(BackendUnavailable, match="not a usable"):
        backend.landmarks(np.zeros((100, 100, 3), np.uint8), (20.0, 20.0, 80.0, 80.0))


def test_fan_heatmap_decoding_maps_back_to_the_frame(torch_home, no_network):
    """With a stand-in network whose heatmaps peak at known cells, the backend's crop
    and decoding geometry put each point where that cell is in the frame."""
    folder = torch_checkpoint_dir()
    folder.mkdir(parents=True)
    (folder / fan_weights_url().rsplit("/", 1)[-1]).write_bytes(b"unused")
    backend = FanBackend(flip_test=False)
    rng = np.random.default_rng(1)
    cells = rng.integers(2, 62, (68, 2))

    class FakeNet(torch.nn.Module):
        def forward(self, x):
            maps = torch.zeros(x.shape[0], 68, 64, 64)
            for i, (cx, cy) in enumerate(cells):
                maps[:, i, cy, cx] = 1.0
            return [maps]

    backend._net = FakeNet()
    box = (50.0, 40.0, 150.0, 160.0)
    lm = backend.landmarks(np.zeros((200, 200, 3), np.uint8), box)
    side = 200.0 * (100.0 + 120.0) / 195.0
    centre = np.array([100.0, 100.0 - 0.12 * 120.0])
    expected = centre + ((cells + 0.5) * 4.0 - 0.5 - 127.5) * side / 256.0
    np.testing.assert_allclose(lm, expected, atol=1e-3)
