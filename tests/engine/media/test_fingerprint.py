"""fingerprint(): same content gives the same value anywhere; changed content does not."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from engine.errors import MediaError
from engine.media import fingerprint

MIB = 1 << 20


def _big_file(path: Path, size: int) -> Path:
    """A sparse file of ``size`` bytes with a few non-zero marks (cheap on disk)."""
    with path.open("wb") as file:
        file.truncate(size)
        for offset in (0, size // 3, size // 2, size - 10):
            file.seek(offset)
            file.write(b"mark")
    return path


def _rewrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as file:
        file.seek(offset)
        file.write(data)


def test_format_is_version_size_and_sha256(grid_clip: Path) -> None:
    value = fingerprint(grid_clip)
    size = grid_clip.stat().st_size
    assert re.fullmatch(rf"v1:{size}:[0-9a-f]{{64}}", value)


def test_small_file_is_hashed_whole(grid_clip: Path) -> None:
    size = grid_clip.stat().st_size
    expected = hashlib.sha256(f"{size}\n".encode() + grid_clip.read_bytes()).hexdigest()
    assert fingerprint(grid_clip) == f"v1:{size}:{expected}"


def test_same_content_elsewhere_matches(tmp_path: Path, grid_clip: Path) -> None:
    moved = tmp_path / "elsewhere" / "renamed.mpg"
    moved.parent.mkdir()
    shutil.copyfile(grid_clip, moved)
    assert fingerprint(moved) == fingerprint(grid_clip)


def test_any_change_to_a_small_file_shows(tmp_path: Path, grid_clip: Path) -> None:
    copy = tmp_path / "clip.mpg"
    shutil.copyfile(grid_clip, copy)
    before = fingerprint(copy)
    _rewrite(copy, copy.stat().st_size // 3, b"\x00\x01\x02")
    assert fingerprint(copy) != before


def test_big_file_changes_in_sampled_regions_show(tmp_path: Path) -> None:
    path = _big_file(tmp_path / "big.bin", 64 * MIB)
    original = fingerprint(path)
    for offset in (10, 32 * MIB, 64 * MIB - 100):  # start, middle, end samples
        with path.open("rb") as file:
            file.seek(offset)
            saved = file.read(7)
        _rewrite(path, offset, b"changed")
        assert fingerprint(path) != original
        _rewrite(path, offset, saved)
        assert fingerprint(path) == original


def test_big_file_size_change_shows(tmp_path: Path) -> None:
    path = _big_file(tmp_path / "big.bin", 16 * MIB)
    before = fingerprint(path)
    with path.open("ab") as file:
        file.write(b"\x00")
    assert fingerprint(path) != before


def test_a_change_outside_the_samples_is_not_seen(tmp_path: Path) -> None:
    """The documented trade-off: three 1 MiB samples, not the whole file."""
    path = _big_file(tmp_path / "big.bin", 64 * MIB)
    before = fingerprint(path)
    _rewrite(path, 10 * MIB, b"unsampled")
    assert fingerprint(path) == before


def test_multi_gigabyte_file_is_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.bin"
    try:
        _big_file(path, 4 * 1024 * MIB)
    except OSError:
        pytest.skip("file system cannot hold a sparse 4 GiB file")
    started = time.perf_counter()
    value = fingerprint(path)
    elapsed = time.perf_counter() - started
    assert value.startswith(f"v1:{4 * 1024 * MIB}:")
    assert elapsed < 0.5, f"fingerprint of a 4 GiB file took {elapsed:.2f} s"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        fingerprint(tmp_path / "gone.mpg")
    assert caught.value.problem == "file not found"


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        fingerprint(tmp_path)
    assert caught.value.problem == "is a directory, not a video file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.mpg"
    path.write_bytes(b"data")
    path.chmod(0)
    with pytest.raises(MediaError) as caught:
        fingerprint(path)
    assert caught.value.problem == "cannot be read (permission denied)"
