"""MergeSettings: a typed, versioned JSON value with clear refusals, stored per clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.merge.settings import VERSION, MergeSettings, MergeSettingsError, load_clip_settings, save_clip_settings
from engine.project.store import ProjectStore


def test_json_round_trip_keeps_every_value_and_the_version() -> None:
    s = MergeSettings(mask=("hull", "xseg_dst"), xseg_model=3, erode=1.25, blur=7.5, face_scale=-4, offset_x=1.5,
                      offset_y=-2, color="mkl", seamless=True, sharpen="gaussian", sharpen_amount=-30, opacity=0.8,
                      smooth_alignment=0.5, smooth_mask=2)
    data = json.loads(s.dumps())
    assert data["version"] == VERSION and data["mask"] == ["hull", "xseg_dst"]
    assert MergeSettings.from_json(data) == s
    assert MergeSettings.loads(s.dumps()) == s
    assert MergeSettings.from_json({}) == MergeSettings()  # missing keys take defaults
    assert isinstance(MergeSettings(erode=2).erode, float)


@pytest.mark.parametrize(("data", "words"), [
    ({"erode": 80}, "erode"),
    ({"blur": -1}, "blur"),
    ({"opacity": 1.5}, "opacity"),
    ({"color": "hist"}, "color"),
    ({"mask": []}, "mask"),
    ({"mask": ["hull", "hull"]}, "mask"),
    ({"mask": ["learned"]}, "mask"),
    ({"smooth_mask": 1.5}, "smooth_mask"),
    ({"seamless": "yes"}, "seamless"),
    ({"erode": True}, "erode"),
    ({"eroed": 2}, "unknown merge setting(s) eroed"),
    ({"version": VERSION + 1}, "newer Facesmith"),
    ({"xseg_model": "3"}, "xseg_model"),
])
def test_bad_values_are_refused_with_their_name(data: dict, words: str) -> None:
    with pytest.raises(MergeSettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        MergeSettings.from_json(data)


def test_not_json_and_not_an_object_are_refused() -> None:
    with pytest.raises(MergeSettingsError, match="not valid JSON"):
        MergeSettings.loads("{erode: 2")
    with pytest.raises(MergeSettingsError, match="JSON object"):
        MergeSettings.loads("[1, 2]")


def test_per_clip_settings_live_in_the_project(project: ProjectStore, sample_clips: dict[str, Path]) -> None:
    from engine.errors import ProjectError
    from engine.project.clips import add_clips

    (clip,), _ = add_clips(project, [sample_clips["lbax4n"]], "dst")
    assert load_clip_settings(project, clip.id) == MergeSettings()
    s = MergeSettings(color="idt", erode=3)
    save_clip_settings(project, clip.id, s)
    assert load_clip_settings(project, clip.id) == s
    assert json.loads(project.meta(f"merge_settings:{clip.id}"))["color"] == "idt"
    with pytest.raises(ProjectError):
        save_clip_settings(project, 999, s)
