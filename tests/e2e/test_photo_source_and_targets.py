"""A folder of photos as the src, and a merge that swaps one person of a two-person clip.

The whole path on real components: the repo's test stills (tests/data/stills) are added
as one src image clip, a dst clip with two GRID speakers side by side is composed here,
both are extracted by the real job, a tiny model trains a few iterations, and renders to
PNG frames show that ``--person`` swaps that person only: every pixel outside the chosen
person's face boxes equals the source frame, while a render of every face changes the
other person's box too (so the check can fail).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.media import iter_frames
from engine.project.clips import add_sources
from engine.project.store import ProjectStore
from tests.conftest import run_job

STILLS = Path(__file__).resolve().parents[1] / "data" / "stills"
FRAMES = 12


def compose_two_person_clip(left: Path, right: Path, out: Path, frames: int = FRAMES) -> Path:
    """``left`` and ``right`` side by side, ``frames`` frames, lossless-ish H.264 at 25 fps."""
    a = [img for _, img in iter_frames(left, stop=frames, threaded=False)]
    b = [img for _, img in iter_frames(right, stop=frames, threaded=False)]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = a[0].shape[1] * 2, a[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "ultrafast"}
        for x, y in zip(a, b, strict=True):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.hstack([x, y])), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out


@pytest.fixture(scope="module")
def photo_project(tmp_path_factory: pytest.TempPathFactory, sample_clips: dict[str, Path]) -> dict:
    import torch

    base = tmp_path_factory.mktemp("photos")
    photos = base / "interview stills"
    photos.mkdir()
    for p in sorted(STILLS.iterdir()):
        if p.suffix.lower() in (".jpg", ".ppm"):
            shutil.copyfile(p, photos / p.name)
    stage = compose_two_person_clip(sample_clips["bbaf2n"], sample_clips["lbax4n"], base / "stage.mp4")
    store = ProjectStore.create(base / "Photos")
    root = store.root
    try:
        src = add_sources(store, [photos], "src")
        dst = add_sources(store, [stage], "dst")
        assert src.skipped == [] and src.clips[0].kind == "images" and src.clips[0].frame_count == 7
        assert dst.clips[0].width == 720
    finally:
        store.close()
    job = run_job(root, "extract", {})
    assert job.state == "done", job.error_text
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        job = run_job(root, "train_swap", {"preset": "fast-64", "iterations": 4, "seed": 1, "metric_every": 1,
                                           "preview_every": 0, "batch_size": 4})
    finally:
        torch.set_num_threads(before)
    assert job.state == "done", job.error_text
    return {"root": root, "model": int(job.result["data"]["model_id"]), "stage": stage}


def _persons_by_side(store: ProjectStore, clip_id: int) -> dict[str, int]:
    faces = store.faces(clip_id=clip_id)
    sides: dict[str, set[int]] = {"left": set(), "right": set()}
    for f in faces:
        sides["left" if (f.box[0] + f.box[2]) / 2 < 360 else "right"].add(f.person_id)
    assert all(len(s) == 1 for s in sides.values()) and sides["left"] != sides["right"], sides
    return {k: next(iter(v)) for k, v in sides.items()}


def _render(root: Path, model: int, out: Path, **extra) -> list[np.ndarray]:
    job = run_job(root, "render", {"clip": "stage", "model": model, "format": "png", "out": str(out),
                                   "device": "cpu", "threads": 1, **extra})
    assert job.state == "done", job.error_text
    files = sorted(out.glob("*.png"))
    assert len(files) == FRAMES
    return [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]


def test_photo_folder_trains_and_one_person_is_swapped(photo_project: dict, tmp_path: Path) -> None:
    root, model = photo_project["root"], photo_project["model"]
    with ProjectStore.open(root, readonly=True) as store:
        photos = store.find_clip("interview stills")
        assert photos.kind == "images"
        # Faces were found on the photos, each photo a frame, each face its own track.
        src_faces = store.faces(clip_id=photos.id)
        assert len({f.frame for f in src_faces}) >= 5
        assert len({f.track_id for f in src_faces}) == len(src_faces)
        stage = store.find_clip("stage")
        sides = _persons_by_side(store, stage.id)
        boxes = {side: [f for f in store.faces(clip_id=stage.id) if f.person_id == pid] for side, pid in sides.items()}
    source = [img for _, img in iter_frames(photo_project["stage"], threaded=False)]

    only_left = _render(root, model, tmp_path / "left", persons=[sides["left"]])
    every_face = _render(root, model, tmp_path / "all")

    def outside(side: str, frame: int, shape: tuple[int, ...]) -> np.ndarray:
        keep = np.ones(shape[:2], bool)
        for f in boxes[side]:
            if f.frame == frame:
                x0, y0, x1, y1 = f.box
                w, h = x1 - x0, y1 - y0  # the merged patch reaches a little past the box
                keep[max(0, int(y0 - h)):int(y1 + h) + 1, max(0, int(x0 - w)):int(x1 + w) + 1] = False
        return keep

    changed_left = changed_right_all = 0
    for k in range(FRAMES):
        keep = outside("left", k, source[k].shape)
        diff = np.abs(only_left[k].astype(int) - source[k].astype(int)).max(axis=2)
        assert diff[keep].max() == 0, f"frame {k}: pixels outside the swapped person's box changed"
        changed_left += int((diff[~keep] > 8).sum())
        right = ~outside("right", k, source[k].shape)
        changed_right_all += int((np.abs(every_face[k].astype(int) - source[k].astype(int)).max(axis=2)[right]
                                  > 8).sum())
    assert changed_left > 0, "the chosen person was not swapped"
    assert changed_right_all > 0, "a render of every face leaves the right person: the check above proves nothing"


def test_render_refuses_a_person_not_in_the_clip(photo_project: dict, capsys) -> None:
    from engine.cli import main

    root = photo_project["root"]
    with ProjectStore.open(root, readonly=True) as store:
        photo_person = store.faces(clip_id=store.find_clip("interview stills").id)[0].person_id
        jobs = store.scalar("SELECT count(*) FROM jobs")
    code = main(["render", str(root), "--clip", "stage", "--person", str(photo_person), "--queue-only"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"person {photo_person}" in err and "has no faces in clip 'stage'" in err
    with ProjectStore.open(root, readonly=True) as store:
        assert store.scalar("SELECT count(*) FROM jobs") == jobs
        stage_person = store.faces(clip_id=store.find_clip("stage").id)[0].person_id
    # A person of the clip is queued as the render's persons.
    assert main(["render", str(root), "--clip", "stage", "--person", str(stage_person), "--queue-only"]) == 0
    with ProjectStore.open(root) as store:
        row = store.query("SELECT id, params FROM jobs ORDER BY id DESC LIMIT 1")[0]
        assert json.loads(row[1])["persons"] == [stage_person]
        store.connection.execute("DELETE FROM jobs WHERE id = ?", (row[0],))
        store.connection.commit()


def test_an_image_clip_renders_to_frames_of_their_own_size(photo_project: dict, tmp_path: Path, capsys) -> None:
    from engine.cli import main

    root, model = photo_project["root"], photo_project["model"]
    # A video needs one size: refused up front, naming the clip, nothing queued.
    code = main(["render", str(root), "--clip", "interview stills", "--queue-only"])
    err = capsys.readouterr().err
    assert code != 0 and "interview stills" in err and "render it with --format png" in err
    out = tmp_path / "photos_out"
    job = run_job(root, "render", {"clip": "interview stills", "model": model, "format": "png", "out": str(out),
                                   "device": "cpu", "threads": 1})
    assert job.state == "done", job.error_text
    with ProjectStore.open(root, readonly=True) as store:
        clip = store.find_clip("interview stills")
        sizes = [(r[0], r[1]) for r in store.query(
            "SELECT width, height FROM clip_images WHERE clip_id = ? ORDER BY frame", (clip.id,))]
    files = sorted(out.glob("*.png"))
    assert [cv2.imread(str(f)).shape[1::-1] for f in files] == sizes
