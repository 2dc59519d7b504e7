"""Clip import, bad input (each refused with the file named and the project unchanged), relink."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from engine.errors import ClipError
from engine.project.clips import add_clips, relink, relink_missing
from engine.project.store import ProjectStore


def _snapshot(store: ProjectStore) -> tuple:
    return tuple(tuple(r) for r in store.query("SELECT * FROM clips ORDER BY id"))


def test_add_two_grid_clips(project: ProjectStore, sample_clips: dict[str, Path]) -> None:
    clips, cs = add_clips(project, [sample_clips["bbaf2n"], sample_clips["lbax4n"]], "src")
    assert [c.name for c in clips] == ["bbaf2n", "lbax4n"]
    c = clips[0]
    assert (c.width, c.height, c.fps, c.frame_count, c.role) == (360, 288, Fraction(25), 75, "src")
    assert c.duration_s == pytest.approx(3.0, abs=0.05)
    assert c.audio_streams == 1 and c.audio_codec == "mp2" and c.codec == "mpeg1video"
    assert c.fingerprint.startswith("v1:") and c.size_bytes == sample_clips["bbaf2n"].stat().st_size
    assert cs.label == "Add 2 clips"


@pytest.fixture
def bad_files(tmp_path: Path, sample_clips: dict[str, Path]) -> dict[str, Path]:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "notes.mp4").write_text("this is a text file, not a video\n" * 20)
    (d / "empty.mp4").write_bytes(b"")
    data = sample_clips["sbwe5n"].read_bytes()
    (d / "half.mpg").write_bytes(data[: len(data) // 2])
    (d / "folder.mp4").mkdir()
    return {p.stem: p for p in d.iterdir()} | {"missing": d / "gone.mp4"}


@pytest.mark.parametrize(
    "key, message",
    [
        ("notes", "not a video"),
        ("empty", "empty file"),
        ("half", "truncated"),
        ("folder", "is an empty folder"),  # a folder is an image source now; this one is empty
        ("missing", "file not found"),
    ],
)
def test_bad_clip_is_refused_and_nothing_changes(
    project: ProjectStore, sample_clips: dict[str, Path], bad_files: dict[str, Path], key: str, message: str
) -> None:
    add_clips(project, [sample_clips["bbaf2n"]], "dst")
    before = _snapshot(project)
    # A good file before the bad one in the same batch: all or nothing.
    with pytest.raises(ClipError) as info:
        add_clips(project, [sample_clips["lbax4n"], bad_files[key]], "dst")
    text = str(info.value)
    assert bad_files[key].name in text and message in text
    assert _snapshot(project) == before


def test_same_clip_twice_is_refused(project: ProjectStore, sample_clips: dict[str, Path], clip_copy) -> None:
    add_clips(project, [sample_clips["bbaf2n"]], "src")
    before = _snapshot(project)
    with pytest.raises(ClipError, match="already in the project as clip 'bbaf2n'"):
        add_clips(project, [sample_clips["bbaf2n"]], "dst")
    copy = clip_copy("bbaf2n", "renamed.mpg")
    with pytest.raises(ClipError, match=r"renamed.mpg: same content as clip 'bbaf2n'"):
        add_clips(project, [copy], "dst")
    with pytest.raises(ClipError, match="given twice"):
        add_clips(project, [sample_clips["lbax4n"], sample_clips["lbax4n"]], "dst")
    assert _snapshot(project) == before


def test_unknown_role_is_refused(project: ProjectStore, sample_clips: dict[str, Path]) -> None:
    with pytest.raises(ClipError, match="unknown role 'target'"):
        add_clips(project, [sample_clips["bbaf2n"]], "target")


def test_moved_clip_is_reported_missing_and_relinked(project: ProjectStore, clip_copy, tmp_path: Path) -> None:
    path = clip_copy("lbax4n")
    (clip,), _ = add_clips(project, [path], "dst")
    moved = tmp_path / "elsewhere" / "deep" / "lbax4n_moved.mpg"
    moved.parent.mkdir(parents=True)
    shutil.move(path, moved)
    assert project.clip(clip.id).missing
    results, cs = relink_missing(project, tmp_path / "elsewhere")
    assert [r.new_path for r in results] == [moved.resolve()]
    assert not project.clip(clip.id).missing and cs.touches("clips")


def test_relink_to_other_content_is_refused(project: ProjectStore, clip_copy, sample_clips: dict[str, Path]) -> None:
    (clip,), _ = add_clips(project, [clip_copy("lbax4n")], "dst")
    before = _snapshot(project)
    with pytest.raises(ClipError, match="different content"):
        relink(project, clip, sample_clips["sbwe5n"])
    assert _snapshot(project) == before
    # Forced: a same-sized, same-length clip is accepted (a re-encode of the footage).
    result, _ = relink(project, clip, sample_clips["sbwe5n"], force=True)
    assert result.new_path == sample_clips["sbwe5n"].resolve()
