"""Shared fixtures. Tests run offline and headless on real components (STYLE.md, Tests)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "sample"
STILLS = ROOT / "tests" / "data" / "stills"
ARTIFACTS = ROOT / "artifacts"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--headed", action="store_true", help="show Qt windows instead of offscreen rendering")


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--headed"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    # Nothing a test does may touch the user's real data or settings.
    isolated = Path(os.environ.get("PYTEST_FACESMITH_HOME", "")) if os.environ.get("PYTEST_FACESMITH_HOME") else None
    if isolated is None:
        import tempfile

        isolated = Path(tempfile.mkdtemp(prefix="facesmith-test-home-"))
    os.environ["XDG_DATA_HOME"] = str(isolated / "data")
    os.environ["XDG_CONFIG_HOME"] = str(isolated / "config")
    os.environ["FACESMITH_DEMO_DIR"] = str(isolated / "demo")
    # Tests never download: torch hub and face-alignment look here and find nothing.
    os.environ["TORCH_HOME"] = str(isolated / "torch")
    os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="session")
def sample_clips() -> dict[str, Path]:
    """The four GRID clips (3 s, 360x288, 25 fps, 75 frames, MPEG-1 + MP2 audio)."""
    clips = {p.stem: p for p in sorted(SAMPLES.glob("*.mpg"))}
    assert len(clips) == 4, f"sample clips missing from {SAMPLES}"
    return clips


@pytest.fixture
def clip_copy(tmp_path: Path, sample_clips: dict[str, Path]):
    """Copy a sample clip into tmp_path (for tests that move or damage files)."""

    def make(stem: str = "bbaf2n", name: str | None = None) -> Path:
        dest = tmp_path / "media" / (name or f"{stem}.mpg")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample_clips[stem], dest)
        return dest

    return make


@pytest.fixture
def project(tmp_path: Path):
    """A new, empty project in tmp_path (closed after the test)."""
    from engine.project.store import ProjectStore

    store = ProjectStore.create(tmp_path / "Test")
    yield store
    store.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
