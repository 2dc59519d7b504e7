"""Merge keys and face overrides in a real project file: interpolation, hold keys, enums,
overrides winning, undo, bad input refused with nothing stored, and keys surviving a
reopen and a later migration."""

from __future__ import annotations

import importlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.merge.keys import KeyedSettings, MergeKeyError, clip_keys, delete_keys, load_keyed, move_keys, set_keys
from engine.merge.overrides import clear_override, clip_overrides, dont_swap, set_override
from engine.merge.settings import MergeSettings
from engine.project.clips import add_clips
from engine.project.models import NewFace
from engine.project.store import ProjectStore


schema = importlib.import_module("projects_schema.migrate")


@pytest.fixture
def keyed_project(project: ProjectStore, sample_clips: dict[str, Path]) -> ProjectStore:
    add_clips(project, [sample_clips["lbax4n"]], "dst")
    return project


def _clip(store: ProjectStore) -> int:
    return store.clips()[0].id


def test_linear_keys_interpolate_and_hold_keys_hold(keyed_project: ProjectStore) -> None:
    store, clip = keyed_project, _clip(keyed_project)
    set_keys(store, clip, 10, {"erode": 0})
    set_keys(store, clip, 30, {"erode": 20})
    set_keys(store, clip, 10, {"opacity": 1.0}, interp="hold")
    set_keys(store, clip, 30, {"opacity": 0.5})
    keyed = load_keyed(store, clip)
    assert keyed.at(20).erode == pytest.approx(10.0)
    assert keyed.at(15).erode == pytest.approx(5.0)
    assert keyed.at(0).erode == 0.0 and keyed.at(74).erode == 20.0  # before the first, after the last
    assert keyed.at(29).opacity == 1.0 and keyed.at(30).opacity == 0.5  # hold until the next key
    assert keyed.at(20).blur == MergeSettings().blur  # unkeyed settings are the clip's


def test_enum_keys_hold_and_mask_sources_are_collected(keyed_project: ProjectStore) -> None:
    store, clip = keyed_project, _clip(keyed_project)
    set_keys(store, clip, 0, {"color": "rct", "mask": ["learned_dst"]})
    set_keys(store, clip, 40, {"color": "mkl", "mask": ["hull", "learned_dst"]})
    keyed = load_keyed(store, clip)
    assert [keyed.at(f).color for f in (0, 39, 40, 70)] == ["rct", "rct", "mkl", "mkl"]
    assert keyed.at(39).mask == ("learned_dst",) and keyed.at(40).mask == ("hull", "learned_dst")
    assert {k.interp for k in clip_keys(store, clip)} == {"hold"}  # enums always hold
    assert set(keyed.mask_sources()) >= {"hull", "learned_dst"}
    record = keyed.provenance()
    assert record["keyframed"]["color"] == [[0, "rct", "hold"], [40, "mkl", "hold"]]


def test_bad_keys_are_refused_naming_the_setting_and_range_and_nothing_is_stored(keyed_project: ProjectStore) -> None:
    store, clip = keyed_project, _clip(keyed_project)
    cases = [
        (75, {"erode": 1}, r"erode at frame 75: outside clip 'lbax4n' \(frames 0\.\.74\)"),
        (-1, {"blur": 1}, r"blur at frame -1: outside clip"),
        (5, {"erode": 80}, r"erode at frame 5: must be a number in -50\.\.50"),
        (5, {"opacity": 2}, r"opacity at frame 5: must be a number in 0\.\.1"),
        (5, {"color": "sepia"}, r"color at frame 5: must be one of none, rct, lct, mkl, idt, sot"),
        (5, {"mask": ["hull", "bogus"]}, r"mask at frame 5: must be mask sources of"),
        (5, {"smooth_mask": 2}, r"smooth_mask.*not a keyable merge setting"),
        (5, {"erode": 1, "colour": "rct"}, r"'colour' is not a keyable"),  # one bad: none stored
    ]
    for frame, values, message in cases:
        with pytest.raises(MergeKeyError, match=message):
            set_keys(store, clip, frame, values)
    assert clip_keys(store, clip) == []
    with pytest.raises(MergeKeyError, match="erode at frame 75: outside clip"):
        set_keys(store, clip, 1, {"erode": 3}) and move_keys(store, clip, 1, 75)
    assert [(k.frame, k.value) for k in clip_keys(store, clip)] == [(1, 3.0)]


def test_key_edits_are_undoable_and_move(keyed_project: ProjectStore) -> None:
    store, clip = keyed_project, _clip(keyed_project)
    first = set_keys(store, clip, 10, {"erode": 4, "blur": 2})
    change = set_keys(store, clip, 10, {"erode": 6})
    assert [k.value for k in clip_keys(store, clip) if k.setting == "erode"] == [6.0]
    store.apply(change.inverse())
    assert [k.value for k in clip_keys(store, clip) if k.setting == "erode"] == [4.0]
    moved = move_keys(store, clip, 10, 12, ["erode"])
    assert {(k.setting, k.frame) for k in clip_keys(store, clip)} == {("erode", 12), ("blur", 10)}
    store.apply(moved.inverse())
    gone = delete_keys(store, clip, 10)
    assert clip_keys(store, clip) == []
    store.apply(gone.inverse())
    store.apply(first.inverse())
    assert clip_keys(store, clip) == []


def _faces(store: ProjectStore, clip: int, frames: list[int]) -> list[int]:
    import numpy as np

    lm = np.tile(np.array([[100.0, 100.0]], np.float32), (68, 1)) + np.arange(68, dtype=np.float32)[:, None]
    store.add_faces([NewFace(clip_id=clip, frame=f, idx=0, box=(90.0, 90.0, 180.0, 180.0), score=1.0, landmarks=lm,
                             face_type="whole", crop_size=256, alignment=np.eye(2, 3)) for f in frames])
    return [f.id for f in store.faces(clip_id=clip)]


def test_face_overrides_win_over_keys_and_dont_swap_marks_not_swapped(keyed_project: ProjectStore) -> None:
    store, clip = keyed_project, _clip(keyed_project)
    a, b = _faces(store, clip, [20, 21])
    set_keys(store, clip, 10, {"erode": 0})
    set_keys(store, clip, 30, {"erode": 20})
    set_override(store, [a], {"erode": -5, "color": "none"})
    keyed = load_keyed(store, clip)
    assert keyed.for_face(a, 20).erode == -5.0 and keyed.for_face(a, 20).color == "none"
    assert keyed.for_face(b, 21).erode == pytest.approx(11.0)  # no override: the key's value
    with pytest.raises(MergeKeyError, match="blur: must be a number in 0..50"):
        set_override(store, [b], {"blur": -1})
    assert clip_overrides(store, clip) == {a: {"color": "none", "erode": -5.0}}
    cs = clear_override(store, [a], ["color"])
    assert clip_overrides(store, clip) == {a: {"erode": -5.0}}
    store.apply(cs.inverse())
    assert clip_overrides(store, clip)[a]["color"] == "none"
    dont_swap(store, [b])
    assert store.face(b).swap_excluded and not store.face(a).swap_excluded


def test_keys_survive_a_reopen_and_a_later_migration(keyed_project: ProjectStore, tmp_path: Path) -> None:
    store, clip = keyed_project, _clip(keyed_project)
    set_keys(store, clip, 10, {"erode": 0})
    set_keys(store, clip, 30, {"erode": 20}, interp="hold")
    root = store.root
    store.close()
    with ProjectStore.open(root) as again:
        assert [(k.frame, k.value, k.interp) for k in clip_keys(again, clip)] == [(10, 0.0, "linear"),
                                                                                 (30, 20.0, "hold")]
    # A future migration (one more numbered file) keeps the keys and their meaning.
    folder = tmp_path / "schema"
    folder.mkdir()
    for number, path in schema.migrations():
        shutil.copy(path, folder / path.name)
    later = schema.LATEST_VERSION + 1
    (folder / f"{later:04d}_later.sql").write_text("ALTER TABLE clips ADD COLUMN later_note TEXT;\n")
    db = root / "project.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        result = schema.migrate(conn, db, target=later, folder=folder)
        assert (result.from_version, result.to_version) == (schema.LATEST_VERSION, later)
        rows = conn.execute("SELECT frame, setting, value, interp FROM merge_keys ORDER BY frame").fetchall()
    finally:
        conn.close()
    assert [tuple(r) for r in rows] == [(10, "erode", "0.0", "linear"), (30, "erode", "20.0", "hold")]


def test_static_settings_are_not_keyed() -> None:
    keyed = KeyedSettings(MergeSettings(erode=3.0))
    assert keyed.static and keyed.at(12) == MergeSettings(erode=3.0) and keyed.provenance() == {}


def test_cli_key_keys_unkey(keyed_project: ProjectStore, capsys: Any) -> None:
    from engine.cli import main

    root = str(keyed_project.root)
    keyed_project.close()
    assert main(["merge", "key", root, "--clip", "lbax4n", "--frame", "10", "erode=0", "color=mkl"]) == 0
    assert main(["merge", "key", root, "--clip", "lbax4n", "--frame", "30", "erode=20", "--hold"]) == 0
    assert main(["merge", "key", root, "--clip", "lbax4n", "--frame", "90", "erode=2"]) == 1
    assert "erode at frame 90: outside clip 'lbax4n' (frames 0..74)" in capsys.readouterr().err
    assert main(["merge", "key", root, "--clip", "lbax4n", "--frame", "5", "color=sepia"]) == 1
    assert "color at frame 5: must be one of none, rct" in capsys.readouterr().err
    assert main(["merge", "keys", root, "--clip", "lbax4n"]) == 0
    listing = capsys.readouterr().out
    assert "erode" in listing and "mkl" in listing and "hold" in listing
    assert main(["merge", "unkey", root, "color", "--clip", "lbax4n", "--frame", "10"]) == 0
    with ProjectStore.open(root, readonly=True) as store:
        assert {(k.frame, k.setting) for k in clip_keys(store, store.clips()[0].id)} == {(10, "erode"), (30, "erode")}


def test_cli_qa_without_a_render_is_refused(keyed_project: ProjectStore, capsys: Any) -> None:
    from engine.cli import main

    root = str(keyed_project.root)
    keyed_project.close()
    assert main(["qa", root, "--clip", "lbax4n"]) == 1
    assert "clip 'lbax4n' has no rendered video or PNG frames to check; render it first" in capsys.readouterr().err
    with ProjectStore.open(root, readonly=True) as store:
        assert store.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'qa'") == 0  # nothing queued
