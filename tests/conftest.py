"""Shared fixtures. Tests run offline and headless on real components (STYLE.md, Tests)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


# --- extraction (issue: extraction) ---------------------------------------------------
#: The roles of the GRID clips in the extracted session project: two speakers to put in,
#: two pieces of footage to change.
EXTRACTED_ROLES = {"bbaf2n": "src", "id2_vcd_swwp2s": "src", "lbax4n": "dst", "sbwe5n": "dst"}


class ExtractedProject:
    """The session's extracted project (see :func:`extracted_project`).

    Attributes
    ----------
    root : the project folder; open it with ``ProjectStore.open(root)`` (read only, please:
        tests that change it work on :meth:`copy`).
    job : the finished ``extract`` job (its ``result`` holds message and data).
    clips : clip name -> clip id.
    """

    def __init__(self, root: Path, job: object, clips: dict[str, int]) -> None:
        self.root = root
        self.job = job
        self.clips = clips

    def copy(self, dest: Path) -> Path:
        """A private copy of the project folder (the database and the crops) at ``dest``."""
        target = dest / self.root.name
        shutil.copytree(self.root, target)
        return target


@pytest.fixture(scope="session")
def extracted_project(tmp_path_factory: pytest.TempPathFactory, sample_clips: dict[str, Path]) -> ExtractedProject:
    """A project with the four GRID clips (``EXTRACTED_ROLES``), extracted once per session
    by the real ``extract`` job (default parameters) through the real worker."""
    from engine.jobs.queue import JobQueue
    from engine.jobs.worker import Worker
    from engine.project.clips import add_clips
    from engine.project.store import ProjectStore

    store = ProjectStore.create(tmp_path_factory.mktemp("extracted") / "Grid")
    root = store.root
    try:
        for role in ("src", "dst"):
            add_clips(store, [sample_clips[n] for n, r in EXTRACTED_ROLES.items() if r == role], role)
        clips = {c.name: c.id for c in store.clips()}
        job = JobQueue(store).enqueue("extract", {})
    finally:
        store.close()
    worker = Worker(root, only_job=job.id, log_to_stderr=False)
    worker.run()
    done = worker.last_job
    assert done is not None and done.state == "done", done and (done.state, done.error_text)
    return ExtractedProject(root, done, clips)


@pytest.fixture
def extracted_copy(tmp_path: Path, extracted_project: ExtractedProject) -> Path:
    """A private, changeable copy of :func:`extracted_project`'s folder."""
    return extracted_project.copy(tmp_path)


# --- swap training (issue: swap training), shared with the merge tests ----------------
#: Iterations of the session's trained model (the "loss drops" measurement).
TRAIN_ITERATIONS = 200
TRAIN_PARAMS: dict[str, Any] = {"preset": "fast-64", "iterations": TRAIN_ITERATIONS, "seed": 1,
                                "metric_every": 10, "preview_every": 100}


def run_job(root: Path, kind: str, params: dict[str, Any]) -> Any:
    """Queue a job and run it to its end with the real in-process worker."""
    from engine.jobs.queue import JobQueue
    from engine.jobs.worker import Worker
    from engine.project.store import ProjectStore

    with ProjectStore.open(root) as store:
        job = JobQueue(store).enqueue(kind, params)
    worker = Worker(root, only_job=job.id, log_to_stderr=False)
    worker.run()
    assert worker.last_job is not None
    return worker.last_job


def metric_series(root: Path, job_id: int, name: str) -> list[tuple[int, float]]:
    from engine.project.store import ProjectStore

    with ProjectStore.open(root, readonly=True) as store:
        rows = store.query("SELECT step, value FROM job_metrics WHERE job_id = ? AND name = ? ORDER BY step, t",
                           (job_id, name))
    return [(int(r[0]), float(r[1])) for r in rows]


@dataclass
class TrainedSwap:
    """The session's trained tiny model: project folder, model id, the finished job."""

    root: Path
    model_id: int
    job: Any
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.root / "models" / str(self.model_id)


@pytest.fixture(scope="session")
def swap_project(tmp_path_factory: pytest.TempPathFactory, extracted_project: ExtractedProject) -> Path:
    """A private copy of the extracted GRID project (2 src + 2 dst speakers) for swap tests."""
    return extracted_project.copy(tmp_path_factory.mktemp("swap"))


@pytest.fixture(scope="session")
def trained_swap(swap_project: Path) -> TrainedSwap:
    """fast-64 (df-ud, 64 px) trained for ``TRAIN_ITERATIONS`` by the real job and worker,
    on one torch thread whoever asks first (two cores shared with other test runs: two
    OpenMP threads fighting a busy neighbour stall at every barrier). Used read-only by
    the swap tests and the merge tests (renders write their own files only)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        job = run_job(swap_project, "train_swap", TRAIN_PARAMS)
    finally:
        torch.set_num_threads(before)
    assert job.state == "done", (job.state, job.error_text)
    return TrainedSwap(swap_project, int(job.result["data"]["model_id"]), job, dict(TRAIN_PARAMS))


@pytest.fixture(scope="session")
def job_runner() -> Any:
    """:func:`run_job` and :func:`metric_series` for the tests."""
    return run_job, metric_series
