"""The best-faces picker (DFL "final"): exact count, every occupied pose bin, sharpest first."""

from __future__ import annotations

import numpy as np
import pytest

from engine.curation.best_faces import excluded_by_pick, pick_best, yaw_bins


def _faces(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(10, 10 + n))
    yaw = np.r_[rng.normal(0, 10, n - 40), rng.uniform(-80, 80, 40)]  # many frontal, a few everywhere
    pitch = rng.normal(0, 12, n)
    sharp = rng.lognormal(3, 0.5, n)
    return ids, yaw, pitch, sharp


@pytest.mark.parametrize("target", [150, 400, 1000, 2999])
def test_keeps_the_target_count_with_every_occupied_yaw_bin(target: int) -> None:
    ids, yaw, pitch, sharp = _faces(3000)
    kept = pick_best(ids, yaw, pitch, sharp, target)
    assert len(kept) == target and len(np.unique(kept)) == target
    assert set(kept) <= set(ids)
    occupied = set(yaw_bins(yaw))
    assert len(occupied) <= 150
    pos = {f: i for i, f in enumerate(ids)}
    assert set(yaw_bins(yaw[[pos[f] for f in kept]])) == occupied


def test_sharpest_of_a_bin_is_kept_first() -> None:
    ids = np.array([1, 2, 3, 4, 5, 6])
    yaw = np.array([0.1, 0.2, 0.3, 40.0, 40.1, 40.2])  # two yaw bins
    pitch = np.zeros(6)
    sharp = np.array([1.0, 9.0, 5.0, 3.0, 7.0, np.nan])
    # Round 1: the sharpest of each bin (2 and 5); round 2: the next (3 and 4).
    np.testing.assert_array_equal(np.sort(pick_best(ids, yaw, pitch, sharp, 2)), [2, 5])
    np.testing.assert_array_equal(np.sort(pick_best(ids, yaw, pitch, sharp, 4)), [2, 3, 4, 5])
    # Unknown sharpness goes last.
    assert pick_best(ids, yaw, pitch, sharp, 6)[-1] == 6
    np.testing.assert_array_equal(excluded_by_pick(ids, pick_best(ids, yaw, pitch, sharp, 4)), [1, 6])


def test_pitch_cells_take_turns_within_a_yaw_bin() -> None:
    # One yaw bin; three faces looking down (sharp), one looking up (blurry).
    ids = np.array([1, 2, 3, 4])
    pitch = np.array([-40.0, -41.0, -42.0, 40.0])
    sharp = np.array([9.0, 8.0, 7.0, 1.0])
    kept = pick_best(ids, np.zeros(4), pitch, sharp, 2, pitch_bins=4)
    np.testing.assert_array_equal(np.sort(kept), [1, 4])  # one from each pitch cell


def test_edge_cases() -> None:
    ids, yaw, pitch, sharp = _faces(100)
    assert len(pick_best(ids, yaw, pitch, sharp, 0)) == 0
    assert len(pick_best(ids, yaw, pitch, sharp, 500)) == 100
    yaw_nan = yaw.copy()
    yaw_nan[:5] = np.nan  # unknown yaw: a bin of its own, still represented
    kept = pick_best(ids, yaw_nan, pitch, sharp, 60)
    assert set(ids[:5]) & set(kept)
    with pytest.raises(ValueError, match="length"):
        pick_best(ids, yaw[:5], pitch, sharp, 3)
    with pytest.raises(ValueError, match="unique"):
        pick_best(np.zeros(100), yaw, pitch, sharp, 3)
