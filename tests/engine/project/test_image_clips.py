"""Image clips: folders, sequence patterns and stills as clips; their frames; bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from engine.errors import ClipError
from engine.media.images import apply_orientation, natural_key, probe_image, read_image
from engine.project.clips import add_sources, relink, relink_missing
from engine.project.images import clip_frames, open_reader
from engine.project.store import ProjectStore

STILLS = Path(__file__).resolve().parents[2] / "data" / "stills"


def _snapshot(store: ProjectStore) -> tuple:
    return (tuple(tuple(r) for r in store.query("SELECT * FROM clips ORDER BY id")),
            tuple(tuple(r) for r in store.query("SELECT * FROM clip_images ORDER BY clip_id, frame")))


def _photo(path: Path, size: tuple[int, int], colour: tuple[int, int, int], orientation: int = 1) -> Path:
    rng = np.random.default_rng(sum(colour) + size[0])
    pixels = (rng.integers(0, 60, (size[1], size[0], 3)) + np.array(colour) * 0.7).clip(0, 255).astype(np.uint8)
    pixels[: size[1] // 4, : size[0] // 4] = 255  # a corner marker: shows the orientation
    image = Image.fromarray(pixels)
    kw = {}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    fmt = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF"}[path.suffix]
    image.save(path, fmt, **kw)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "photos"
    d.mkdir()
    _photo(d / "img10.jpg", (64, 48), (200, 40, 40))
    _photo(d / "img2.png", (40, 60), (40, 200, 40))
    _photo(d / "img1.webp", (50, 50), (40, 40, 200))
    _photo(d / "IMG3.bmp", (30, 20), (90, 90, 90))
    _photo(d / "img4.tif", (36, 24), (10, 120, 160))
    (d / "notes.txt").write_text("not a photo")
    return d


def test_folder_is_one_clip_in_natural_order(project: ProjectStore, folder: Path) -> None:
    result = add_sources(project, [folder], "src")
    (clip,) = result.clips
    assert clip.kind == "images" and clip.name == "photos" and clip.frame_count == 5 and result.skipped == []
    assert (clip.width, clip.height) == (64, 60)  # the largest image's
    rows = project.query("SELECT frame, path, width, height FROM clip_images WHERE clip_id = ? ORDER BY frame",
                         (clip.id,))
    assert [Path(r["path"]).name for r in rows] == ["img1.webp", "img2.png", "IMG3.bmp", "img4.tif", "img10.jpg"]
    assert [(r["width"], r["height"]) for r in rows] == [(50, 50), (40, 60), (30, 20), (36, 24), (64, 48)]
    # Each frame decodes at its own size, by random access and in order.
    with open_reader(project, clip) as reader:
        assert reader.frame_count == 5 and reader.read(4).shape == (48, 64, 3) and reader.read(1).shape == (60, 40, 3)
    assert [img.shape[:2] for _, img in clip_frames(project, clip, step=2)] == [(50, 50), (20, 30), (48, 64)]
    assert not clip.missing


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    for orientation in range(1, 9):
        path = _photo(tmp_path / f"o{orientation}.png", (40, 24), (120, 60, 30), orientation)
        info = probe_image(path)
        expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        assert info.orientation == orientation and (info.width, info.height) == expected.shape[1::-1]
        assert np.array_equal(read_image(path, info.orientation), expected), orientation
    assert np.array_equal(apply_orientation(np.arange(6).reshape(2, 3, 1), 1), np.arange(6).reshape(2, 3, 1))


def test_natural_key() -> None:
    names = ["f10.png", "f2.png", "F1.png", "f1b.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f1b.png", "f2.png", "f10.png"]


def test_pattern_and_single_still(project: ProjectStore, tmp_path: Path) -> None:
    seq = tmp_path / "seq"
    seq.mkdir()
    for n in (9, 10, 11):
        _photo(seq / f"shot_{n:04d}.png", (32, 32), (n * 10, 50, 50))
    _photo(seq / "shot_12.png", (32, 32), (1, 2, 3))  # not four digits: not part of the sequence
    result = add_sources(project, [seq / "shot_%04d.png", STILLS / "takeo.ppm"], "src")
    pattern, still = result.clips
    assert pattern.name == "shot" and pattern.frame_count == 3 and not pattern.missing
    rows = project.query("SELECT path FROM clip_images WHERE clip_id = ? ORDER BY frame", (pattern.id,))
    assert [Path(r[0]).name for r in rows] == ["shot_0009.png", "shot_0010.png", "shot_0011.png"]
    assert still.frame_count == 1 and (still.width, still.height) == (150, 225)
    with open_reader(project, still) as reader:
        assert reader.read(0).shape == (225, 150, 3)


def test_a_folder_with_unreadable_files_imports_the_rest(project: ProjectStore, folder: Path) -> None:
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    good = (folder / "img10.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(good[: len(good) // 2])
    result = add_sources(project, [folder], "src")
    assert result.clips[0].frame_count == 5
    assert sorted(p.name for p, _ in result.skipped) == ["broken.jpg", "cut.jpg"]
    assert any("truncated" in why for p, why in result.skipped if p.name == "cut.jpg")


@pytest.mark.parametrize("case, message", [
    ("empty", "is an empty folder"),
    ("text only", "holds no images"),
    ("undecodable", "not an image"),
    ("cut", "truncated"),
    ("pattern", "the pattern matches no file"),
    ("all bad", "none of its 2 images can be read"),
])
def test_bad_image_sources_are_refused_and_nothing_changes(project: ProjectStore, folder: Path, tmp_path: Path,
                                                            case: str, message: str) -> None:
    add_sources(project, [folder], "src")
    before = _snapshot(project)
    bad = tmp_path / case.replace(" ", "_")
    if case in ("empty", "text only", "all bad"):
        bad.mkdir()
        if case == "text only":
            (bad / "readme.txt").write_text("hello")
            (bad / "data.csv").write_text("1,2")
        if case == "all bad":
            (bad / "a.jpg").write_bytes(b"nope")
            (bad / "b.png").write_bytes(b"nope either")
    elif case == "undecodable":
        bad = tmp_path / "photo.jpg"
        bad.write_bytes(b"GIF89a not a jpeg at all" * 10)
    elif case == "cut":
        data = (folder / "img10.jpg").read_bytes()
        bad = tmp_path / "cut.jpg"
        bad.write_bytes(data[: len(data) // 2])
    else:
        bad = tmp_path / "frames" / "f_%05d.png"
        bad.parent.mkdir()
    # A good source first in the same batch: all or nothing.
    good = tmp_path / "good.png"
    _photo(good, (20, 20), (5, 5, 5))
    with pytest.raises(ClipError) as info:
        add_sources(project, [good, bad], "src")
    assert str(bad) in str(info.value) and message in str(info.value)
    assert _snapshot(project) == before


def test_relink_by_content(project: ProjectStore, folder: Path, tmp_path: Path) -> None:
    (clip,) = add_sources(project, [folder], "src").clips
    moved = tmp_path / "elsewhere" / "photos"
    moved.parent.mkdir()
    shutil.move(str(folder), str(moved))
    assert project.clip(clip.id).missing
    results, _ = relink_missing(project, tmp_path / "elsewhere")
    assert [r.new_path for r in results] == [moved.resolve()]
    assert not project.clip(clip.id).missing
    with open_reader(project, project.clip(clip.id)) as reader:
        assert reader.read(4).shape == (48, 64, 3)
    # Other content is refused, naming the folder.
    other = tmp_path / "other"
    other.mkdir()
    for k in range(5):
        _photo(other / f"x{k}.png", (20, 20), (k, k, k))
    with pytest.raises(ClipError, match="different content"):
        relink(project, project.clip(clip.id), other)


def test_undo_and_redo_of_an_image_clip_add(project: ProjectStore, folder: Path) -> None:
    result = add_sources(project, [folder], "src")
    (clip,) = result.clips
    project.apply(result.changes.inverse())  # undo: the clip and (cascade) its images go
    assert project.clips() == [] and project.scalar("SELECT count(*) FROM clip_images") == 0
    project.apply(result.changes)  # redo: the clip row is back; its images are listed again
    with open_reader(project, project.clip(clip.id)) as reader:
        assert reader.frame_count == 5 and reader.read(4).shape == (48, 64, 3)
    assert project.scalar("SELECT count(*) FROM clip_images WHERE clip_id = ?", (clip.id,)) == 5


def test_probe_clips_notices_a_changed_photo(tmp_path: Path, folder: Path) -> None:
    from tests.conftest import run_job

    with ProjectStore.create(tmp_path / "Probe") as store:
        add_sources(store, [folder], "src")
        root = store.root
    job = run_job(root, "probe_clips", {})
    assert job.state == "done" and job.result["data"]["problems"] == []
    _photo(folder / "img2.png", (40, 60), (41, 200, 40))  # edited in place
    job = run_job(root, "probe_clips", {})
    assert job.result["data"]["problems"] == [f"photos: its images changed since they were added ({folder})"]
