"""The face grid's Qt-free parts: FaceTable, sort_order, filter_mask, selection rules, GridGeometry."""

from __future__ import annotations

import numpy as np
import pytest

from widgets.face_grid.geometry import SPACING, GridGeometry
from widgets.face_grid.model import FaceFilter, FaceTable, describe_face, filter_mask, similarity_distance, sort_order
from widgets.face_grid.selection import click_mask, move_target, range_mask

NAN = np.nan


def _table(**kw) -> FaceTable:
    """Six faces, deliberately not in (clip, frame) order."""
    cols = dict(
        clip_id=[2, 1, 1, 2, 1, 1],
        frame=[5, 9, 3, 1, 3, 0],
        role=["dst", "src", "src", "dst", "src", "src"],
        person_id=[1, -1, 0, 1, 2, 0],
        excluded=[False, True, False, False, True, False],
        has_mask=[True, False, False, True, False, False],
        sharpness=[0.5, NAN, 0.9, 0.1, 0.5, 0.7],
        yaw=[10, -30, NAN, 0, 45, -5],
        pitch=[0, 5, 0, -10, 0, 2],
    )
    cols.update(kw)
    return FaceTable.build([60, 10, 30, 50, 20, 40], **cols)


def _ids(t: FaceTable, rows: np.ndarray) -> list[int]:
    return t.id[rows].tolist()


def test_build_converts_and_defaults() -> None:
    t = FaceTable.build([3, 1, 2], role="src")
    assert len(t) == 3 and t.id.dtype == np.int64 and t.role.tolist() == [0, 0, 0]
    assert t.person_id.tolist() == [-1, -1, -1] and not t.excluded.any() and np.isnan(t.sharpness).all()
    assert t.sharpness.dtype == np.float32 and t.excluded.dtype == np.bool_
    assert _table().role.tolist() == [1, 0, 0, 1, 0, 0]
    assert len(FaceTable.empty()) == 0
    with pytest.raises(ValueError, match="unique"):
        FaceTable.build([1, 2, 1])
    with pytest.raises(ValueError, match="role"):
        FaceTable.build([1, 2], role=["src", "bad"])
    with pytest.raises(ValueError, match="role"):
        FaceTable.build([1, 2], role=np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        FaceTable.build([1, 2], frame=[1, 2, 3])
    with pytest.raises(ValueError, match="embedding"):
        FaceTable.build([1, 2], embedding=np.zeros((3, 4)))


def test_rows_of_and_frame_order() -> None:
    t = _table()
    assert t.rows_of([20, 60, 99, 10]).tolist() == [4, 0, -1, 1]
    assert FaceTable.empty().rows_of([1]).tolist() == [-1]
    # clip 1 first, then by frame, then by id on equal frames (ids 20 and 30 share frame 3).
    assert _ids(t, t.frame_order) == [40, 20, 30, 10, 50, 60]
    ordered = FaceTable.build([1, 2, 3], clip_id=[1, 1, 2], frame=[0, 5, 0])
    assert ordered.frame_order.tolist() == [0, 1, 2]  # already in store order: no sort
    assert not ordered.frame_order.flags.writeable


def test_sort_keys_put_unknown_last_and_break_ties_by_frame() -> None:
    t = _table()
    assert _ids(t, sort_order(t, "frame")) == [40, 20, 30, 10, 50, 60]
    assert _ids(t, sort_order(t, "frame", reverse=True)) == [60, 50, 10, 30, 20, 40]
    # sharpest first; 20 and 60 tie at 0.5 and keep the frame order; 10 (NaN) last.
    assert _ids(t, sort_order(t, "sharpness")) == [30, 40, 20, 60, 50, 10]
    assert _ids(t, sort_order(t, "sharpness", reverse=True)) == [50, 20, 60, 40, 30, 10]
    assert _ids(t, sort_order(t, "yaw")) == [10, 40, 50, 60, 20, 30]
    assert _ids(t, sort_order(t, "yaw", reverse=True))[-1] == 30
    assert _ids(t, sort_order(t, "pitch")) == [50, 20, 30, 60, 40, 10]
    assert _ids(t, sort_order(t, "person")) == [40, 30, 50, 60, 20, 10]
    with pytest.raises(ValueError, match="unknown sort key"):
        sort_order(t, "colour")


def test_similarity_by_embedding_with_missing_rows_last() -> None:
    emb = np.array([[0, 0], [5, 5], [1, 0], [NAN, NAN], [0, 2], [0.5, 0]], np.float32)
    t = _table(embedding=emb)
    order = sort_order(t, "similarity", reference_id=60)
    assert _ids(t, order) == [60, 40, 30, 20, 10, 50]
    d = similarity_distance(t, 60)
    assert d[0] == 0 and np.isclose(d[1], np.sqrt(50)) and np.isnan(d[3])
    with pytest.raises(ValueError, match="reference"):
        sort_order(t, "similarity")
    with pytest.raises(KeyError):
        sort_order(t, "similarity", reference_id=999)


def test_similarity_falls_back_to_pose_distance() -> None:
    t = _table()  # no embeddings: distance in (yaw, pitch)
    assert _ids(t, sort_order(t, "similarity", reference_id=50)) == [50, 40, 60, 10, 20, 30]
    # a reference face without an embedding uses the pose fallback too
    emb = np.zeros((6, 2), np.float32)
    emb[3] = NAN
    t2 = _table(embedding=emb)
    assert _ids(t2, sort_order(t2, "similarity", reference_id=50)) == [50, 40, 60, 10, 20, 30]


def test_filter_mask() -> None:
    t = _table()
    assert filter_mask(t).all()
    assert t.id[filter_mask(t, role="dst")].tolist() == [60, 50]
    assert t.id[filter_mask(t, role=0, excluded=False)].tolist() == [30, 40]
    assert t.id[filter_mask(t, excluded=True)].tolist() == [10, 20]
    assert t.id[filter_mask(t, has_mask=True)].tolist() == [60, 50]
    assert t.id[filter_mask(t, has_mask=False, clip_ids=[1])].tolist() == [10, 30, 20, 40]
    assert t.id[filter_mask(t, person_ids=[-1, 2])].tolist() == [10, 20]
    assert not filter_mask(t, clip_ids=[]).any()


def test_with_flags_copies_only_changed_columns() -> None:
    t = _table()
    _ = t.frame_order
    u = t.with_flags([10, 30, 999], excluded=np.array([False, True, True]))
    assert t.excluded.tolist() == [False, True, False, False, True, False]  # the original is untouched
    assert u.excluded.tolist() == [False, False, True, False, True, False]
    assert u.has_mask is t.has_mask and u.frame_order is t.frame_order
    assert t.with_flags([60], has_mask=False).has_mask[0] == np.False_
    assert t.with_flags([60]) is t


def test_face_filter_normalises() -> None:
    f = FaceFilter(role=1, clip_ids=np.array([3, 4]))
    assert f.role == "dst" and f.clip_ids == (3, 4) and not f.is_identity
    assert FaceFilter().is_identity
    assert set(FaceFilter().as_kwargs()) == {"role", "clip_ids", "person_ids", "excluded", "has_mask"}


def test_grid_geometry_round_trips() -> None:
    g = GridGeometry(count=23, tile=50, width=300)
    assert g.cell == 60 and g.columns == 4 and g.rows == 6
    assert g.content_height == 6 * 60 + SPACING
    for position in range(23):
        x, y = g.tile_origin(position)
        assert g.position_at(x, y) == position
        assert g.position_at(x + 49, y + 49) == position
        assert g.position_at(x + 52, y) == -1  # the gap between tiles
    last_x, last_y = g.tile_origin(23)  # past the last tile
    assert g.position_at(last_x, last_y) == -1
    assert g.position_range(0, 100) == (0, 8)
    x0, y0 = g.tile_origin(5)
    x1, y1 = g.tile_origin(10)
    assert g.positions_in_rect(x0 + 10, y0 + 10, x1 + 5, y1 + 5).tolist() == [5, 6, 9, 10]
    assert g.positions_in_rect(0, 0, 1, 1).tolist() == []
    assert g.scroll_to_show(0, 0, 100) == 0
    _, y20 = g.tile_origin(20)
    assert g.scroll_to_show(20, 0, 100) == y20 + 50 // 2 - 50  # far away: centred
    assert g.scroll_to_show(4, 0, 100) == 120 + SPACING - 100  # just below: minimal move


def test_click_rules() -> None:
    order = np.array([4, 2, 0, 1, 3])  # display position -> row
    none = np.zeros(5, np.bool_)
    sel, moves = click_mask(none, order, 1, -1, ctrl=False, shift=False)
    assert np.flatnonzero(sel).tolist() == [2] and moves
    sel2, moves = click_mask(sel, order, 3, 1, ctrl=True, shift=False)  # ctrl adds
    assert np.flatnonzero(sel2).tolist() == [1, 2] and moves
    sel3, _ = click_mask(sel2, order, 3, 1, ctrl=True, shift=False)  # ctrl again removes
    assert np.flatnonzero(sel3).tolist() == [2]
    rng, moves = click_mask(sel2, order, 4, 2, ctrl=False, shift=True)  # positions 2..4 replace
    assert sorted(order[2:5].tolist()) == np.flatnonzero(rng).tolist() and not moves
    add, _ = click_mask(np.eye(5, dtype=bool)[4], order, 2, 3, ctrl=True, shift=True)  # ctrl+shift adds
    assert np.flatnonzero(add).tolist() == [0, 1, 4]
    plain, _ = click_mask(none, order, 0, -1, ctrl=False, shift=True)  # no anchor: a plain click
    assert np.flatnonzero(plain).tolist() == [4]
    assert np.flatnonzero(range_mask(5, order, 3, 1)).tolist() == [0, 1, 2]


def test_move_targets() -> None:
    kw = dict(columns=4, page_rows=2, first_visible=8)
    assert move_target("right", 5, 10, **kw) == 6
    assert move_target("down", 5, 10, **kw) == 9
    assert move_target("down", 7, 10, **kw) == 9  # clamped to the last face
    assert move_target("page_up", 9, 10, **kw) == 1
    assert move_target("left", 0, 10, **kw) == 0
    assert move_target("home", 5, 10, **kw) == 0 and move_target("end", 5, 10, **kw) == 9
    assert move_target("up", -1, 10, **kw) == 8  # no current face: start at the first visible
    assert move_target("up", -1, 0, **kw) == -1


def test_describe_face() -> None:
    t = _table()
    text = describe_face(t, 1)
    assert "face 10 · src clip 1 · frame 9" in text and "sharpness —" in text and "not trained" in text
    assert "no person" in text and "person 1" in describe_face(t, 0) and "has a mask" in describe_face(t, 0)


def test_sort_by_face_size_biggest_first_unknown_last() -> None:
    from widgets.face_grid.model import FaceTable, sort_order

    table = FaceTable.build([1, 2, 3, 4], size=[50.0, np.nan, 200.0, 120.0])
    assert [int(table.id[r]) for r in sort_order(table, "size")] == [3, 4, 1, 2]
