"""Coverage: bins, gaps, score, gap faces and CSV on a project whose answer is known by hand."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from engine.curation.coverage import (
    CSV_HEADER,
    PLANES,
    combined_score,
    compute_coverage,
    coverage_by_person_pair,
    gaps_to_csv,
)


def _block(rng: np.random.Generator, n: int, yaw: float, pitch: float = 0.0, spread: float = 4.0) -> np.ndarray:
    return np.column_stack((rng.uniform(yaw - spread, yaw + spread, n), rng.uniform(pitch - spread, pitch + spread, n)))


@pytest.fixture
def frontal_src_turned_dst():
    """src: 200 frontal faces. dst: 100 at yaw +30, 50 at yaw -30, 80 frontal, 3 at yaw 60."""
    rng = np.random.default_rng(7)
    src = _block(rng, 200, 0.0)
    dst = np.vstack([_block(rng, 100, 30.0), _block(rng, 50, -30.0), _block(rng, 80, 0.0), _block(rng, 3, 60.0)])
    return src, dst, np.arange(1000, 1200), np.arange(1, 234)


def test_turned_dst_bins_are_gaps_and_the_score_is_the_hand_count(frontal_src_turned_dst) -> None:
    src, dst, sid, did = frontal_src_turned_dst
    cov = compute_coverage(src, dst, bin_deg=10, min_dst=5, min_src=5, src_ids=sid, dst_ids=did)
    # Bins are centred on multiples of 10°: yaw -95..95 and pitch -95..95 in 19 bins each.
    assert cov.shape == (19, 19)
    assert cov.x_edges[0] == -95 and cov.x_edges[-1] == 95
    assert cov.src_counts.sum() == 200 and cov.dst_counts.sum() == 233
    # The two 30° bins are the gaps, largest first; the 3 faces at 60° are too few to be one.
    assert [(g.x_range, g.y_range, g.dst_count, g.src_count) for g in cov.gaps] == [
        ((25.0, 35.0), (-5.0, 5.0), 100, 0),
        ((-35.0, -25.0), (-5.0, 5.0), 50, 0),
    ]
    # Hand count: only the 80 frontal dst faces sit in a bin with >= 5 src faces.
    assert cov.covered_dst == 80 and cov.total_dst == 233
    assert cov.score == pytest.approx(80 / 233)
    assert cov.describe_bin(cov.gaps[0]) == "yaw 25..35°, pitch -5..5°"


def test_thresholds_change_what_is_a_gap(frontal_src_turned_dst) -> None:
    src, dst, _, _ = frontal_src_turned_dst
    assert len(compute_coverage(src, dst, min_dst=3).gaps) == 3  # now the 60° bin too
    assert len(compute_coverage(src, dst, min_dst=60).gaps) == 1
    # Demanding more src faces than the frontal bin holds uncovers everything.
    strict = compute_coverage(src, dst, min_src=201)
    assert strict.score == 0.0 and strict.gaps[0].src_count == 0
    wide = compute_coverage(src, dst, bin_deg=80)  # -40..40 holds every face but the 60° ones
    assert wide.score == pytest.approx(230 / 233)


def test_gap_ids_are_exactly_its_dst_faces_and_the_nearest_src(frontal_src_turned_dst) -> None:
    src, dst, sid, did = frontal_src_turned_dst
    cov = compute_coverage(src, dst, src_ids=sid, dst_ids=did)
    gap = cov.gaps[0]
    np.testing.assert_array_equal(cov.dst_ids_in_gap(gap), np.arange(1, 101))
    assert len(cov.src_ids_in_gap(gap)) == 0
    near = cov.nearest_src_ids(gap, 7)
    # By hand: the src faces with the smallest distance (in bins) to the bin centre (30, 0).
    d = ((src[:, 0] - 30) / 10) ** 2 + (src[:, 1] / 10) ** 2
    np.testing.assert_array_equal(near, sid[np.argsort(d)[:7]])
    assert len(cov.nearest_src_ids(gap)) == cov.min_src
    np.testing.assert_array_equal(cov.gap_face_ids(gap, 7), np.union1d(np.arange(1, 101), near))
    assert cov.gap_at(31.0, 2.0) == gap and cov.gap_at(0.0, 0.0) is None and cov.gap_at(500.0, 0.0) is None
    assert cov.bin_at(-95.0, -95.0) == (0, 0) and cov.bin_at(95.0, 0.0) is None


def test_unknown_positions_are_not_counted_and_outliers_clip_to_the_edge() -> None:
    src = np.array([[0.0, 0.0]] * 5 + [[np.nan, 0.0]])
    dst = np.array([[0.0, 1.0], [np.nan, np.nan], [200.0, 0.0]])
    cov = compute_coverage(src, dst, min_dst=1, min_src=5)
    assert cov.src_counts.sum() == 5 and cov.total_dst == 2
    assert cov.dst_counts[-1, 9] == 1  # yaw 200 clipped into the 90° bin
    assert cov.score == 0.5
    np.testing.assert_array_equal(cov.covered_dst_mask(), [True, False, False])
    assert math.isnan(compute_coverage(src, np.empty((0, 2))).score)


def test_expression_planes_use_their_own_bins() -> None:
    src = np.array([[0.02, 0.30]] * 6)  # mouth closed, eyes open
    dst = np.array([[0.02, 0.29]] * 4 + [[0.5, 0.30]] * 6)  # and six with the mouth wide open
    cov = compute_coverage(src, dst, plane="expression")
    assert cov.axes == ("mouth_open", "eyes_open") and cov.bin_size == PLANES["expression"].bin_size
    assert cov.score == pytest.approx(0.4)
    (gap,) = cov.gaps
    assert gap.x_range == pytest.approx((0.45, 0.55)) and gap.dst_count == 6
    smile = compute_coverage(src[:, :1].repeat(2, 1) * [1, 0] + [0, 0.9], dst[:, :1].repeat(2, 1) * [1, 0] + [0, 0.9],
                             plane="smile")
    assert smile.axes == ("mouth_open", "smile") and smile.score == pytest.approx(0.4)


def test_person_pairs_and_combined_score() -> None:
    rng = np.random.default_rng(3)
    src = np.vstack([_block(rng, 20, 0.0), _block(rng, 20, 30.0)])
    src_person = np.r_[np.full(20, 1), np.full(20, 2)]
    dst = np.vstack([_block(rng, 10, 0.0), _block(rng, 10, 30.0)])
    dst_person = np.r_[np.full(10, 7), np.full(10, -1)]  # the second half is unassigned
    pairs = coverage_by_person_pair(src, dst, src_person=src_person, dst_person=dst_person, dst_ids=np.arange(20))
    assert set(pairs) == {(1, 7), (2, 7)}
    assert pairs[1, 7].score == 1.0 and pairs[2, 7].score == 0.0
    assert pairs[1, 7].total_dst == 10

    pose = compute_coverage(src, dst, dst_ids=np.arange(20))  # all 20 covered
    expr_dst = np.array([[0.0, 0.3]] * 15 + [[0.6, 0.3]] * 5)
    expr = compute_coverage(np.array([[0.0, 0.3]] * 10), expr_dst, plane="expression", dst_ids=np.arange(20))
    assert pose.score == 1.0 and expr.score == 0.75
    assert combined_score([pose, expr]) == 0.75
    assert math.isnan(combined_score([]))


def test_gaps_csv_round_trips(frontal_src_turned_dst) -> None:
    src, dst, _, _ = frontal_src_turned_dst
    cov = compute_coverage(src, dst)
    rows = list(csv.reader(io.StringIO(gaps_to_csv(cov))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1:] == [["pose", "yaw", "25", "35", "pitch", "-5", "5", "100", "0"],
                        ["pose", "yaw", "-35", "-25", "pitch", "-5", "5", "50", "0"]]
    both = gaps_to_csv([cov, compute_coverage(src, dst, min_dst=3)])
    assert len(both.splitlines()) == 1 + 2 + 3


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        compute_coverage(np.zeros((3, 3)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="at least 1"):
        compute_coverage(np.zeros((1, 2)), np.zeros((1, 2)), min_src=0)
    with pytest.raises(ValueError, match="positive"):
        compute_coverage(np.zeros((1, 2)), np.zeros((1, 2)), bin_deg=0)
    with pytest.raises(ValueError, match="ids"):
        compute_coverage(np.zeros((2, 2)), np.zeros((1, 2)), src_ids=[1])
