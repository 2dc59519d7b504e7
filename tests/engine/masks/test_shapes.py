"""Label masks as values: JSON round trip, validation, transforms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.masks.shapes import FORMAT_VERSION, LabelMask, MaskError, Shape

SQUARE = [[10.0, 10.0], [50.0, 10.0], [50.0, 50.0], [10.0, 50.0]]


def _mask() -> LabelMask:
    return LabelMask((
        Shape("include", "polygon", SQUARE),
        Shape("exclude", "stroke", [[20.0, 20.0], [40.5, 30.25]], radius=3.5),
        Shape("include", "stroke", [[30.0, 30.0]], radius=1.0),
    ))


def test_json_round_trip_keeps_order_kinds_points_and_radii() -> None:
    mask = _mask()
    text = mask.to_json()
    data = json.loads(text)
    assert data["version"] == FORMAT_VERSION
    assert [s["kind"] for s in data["shapes"]] == ["include", "exclude", "include"]
    back = LabelMask.from_json(text)
    assert back == mask
    assert back.shapes[1].radius == 3.5 and back.point_count == 7
    assert back.bounds() == (10.0, 10.0, 50.0, 50.0)


def test_shapes_are_immutable_values() -> None:
    mask = _mask()
    with pytest.raises(ValueError):
        mask.shapes[0].points[0, 0] = 99.0
    edited = mask.without(1).with_shape(Shape("exclude", "polygon", SQUARE))
    assert len(mask) == 3 and len(edited) == 3 and edited.shapes[-1].kind == "exclude"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 1, "shapes": [{"kind": "add", "type": "polygon", "points": SQUARE}]}, "kind must be"),
        ({"version": 1, "shapes": [{"kind": "include", "type": "blob", "points": SQUARE}]}, "type must be"),
        ({"version": 1, "shapes": [{"kind": "include", "type": "polygon", "points": SQUARE[:2]}]}, "at least 3"),
        ({"version": 1, "shapes": [{"kind": "include", "type": "stroke", "points": SQUARE}]}, "radius > 0"),
        ({"version": 1, "shapes": [{"kind": "include", "type": "polygon", "points": [[0, 0], [1, "x"], [2, 2]]}]},
         "numbers"),
        ({"version": 1, "shapes": [{"kind": "include", "type": "polygon", "points": [[0, 0], [1, float("nan")],
                                                                                   [2, 2]]}]}, "finite"),
        ({"version": 1, "shapes": [{"kind": "include", "type": "polygon", "points": SQUARE, "colour": 1}]},
         "unknown field"),
        ({"version": 1, "shapes": [{"kind": "include", "type": "polygon"}]}, "missing 'points'"),
        ({"shapes": []}, "version"),
        ({"version": FORMAT_VERSION + 1, "shapes": []}, "newer"),
        ({"version": 1, "shapes": "no"}, "must be a list"),
        ([], "JSON object"),
    ],
)
def test_bad_json_is_refused_with_a_message_naming_the_problem(data: object, message: str) -> None:
    with pytest.raises(MaskError, match=message):
        LabelMask.from_dict(data)  # type: ignore[arg-type]


def test_not_json_is_refused() -> None:
    with pytest.raises(MaskError, match="not valid JSON"):
        LabelMask.from_json("{nope")


def test_transform_moves_points_and_scales_stroke_radii() -> None:
    angle = np.deg2rad(30.0)
    k = 2.0
    matrix = np.array([[k * np.cos(angle), -k * np.sin(angle), 5.0], [k * np.sin(angle), k * np.cos(angle), -3.0]])
    moved = _mask().transformed(matrix)
    assert moved.shapes[1].radius == pytest.approx(7.0)
    assert np.allclose(moved.shapes[0].points[0], matrix[:, :2] @ [10.0, 10.0] + matrix[:, 2], atol=1e-3)
    assert moved.shapes[0].radius == 0.0
