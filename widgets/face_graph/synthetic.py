"""Synthetic faces for the demo and the benchmark: a plausible src and dst distribution.

src footage is mostly frontal with closed mouths (an interview); the dst footage turns
further, above all to one side, and talks, so the coverage layer has real gaps to show.
"""

from __future__ import annotations

import numpy as np

from widgets.face_graph.model import ROLE_DST, ROLE_SRC, GraphPoints


def synthetic_points(n: int = 100_000, *, seed: int = 0) -> GraphPoints:
    """``n`` faces, half src and half dst, ids ``1..n``."""
    rng = np.random.default_rng(seed)
    role = np.where(np.arange(n) % 2 == 0, ROLE_SRC, ROLE_DST).astype(np.int8)
    src = role == ROLE_SRC
    turned = rng.random(n) < 0.3
    yaw = np.where(src, rng.normal(0.0, 13.0, n), np.where(turned, rng.normal(45.0, 8.0, n), rng.normal(5.0, 22.0, n)))
    pitch = np.where(src, rng.normal(0.0, 8.0, n), rng.normal(-6.0, 13.0, n))
    mouth = np.where(src, rng.gamma(1.5, 0.04, n), rng.gamma(2.0, 0.1, n))
    eyes = np.clip(rng.normal(0.29, 0.04, n) - (rng.random(n) < 0.05) * 0.2, 0.0, None)
    smile = rng.normal(np.where(src, 0.88, 0.95), 0.08, n)
    person = np.where(src, 1 + (rng.random(n) < 0.2), 3 + (rng.random(n) < 0.4)).astype(np.int64)
    clip = np.where(src, rng.integers(1, 3, n), rng.integers(3, 6, n))
    sharpness = rng.lognormal(4.0, 0.5, n)
    unknown = rng.random(n) < 0.01  # a few faces whose expression could not be measured
    mouth[unknown] = np.nan
    return GraphPoints.build(
        ids=np.arange(1, n + 1), role=role, yaw=np.clip(yaw, -89, 89), pitch=np.clip(pitch, -89, 89),
        mouth_open=mouth, eyes_open=eyes, smile=smile, person=person, sharpness=sharpness, clip=clip,
    )


def coverages(points: GraphPoints, **kwargs: object) -> dict[str, object]:
    """Coverage of every plane for ``points`` (what a presenter computes)."""
    from engine.curation.coverage import PLANES, compute_coverage

    src = points.role == ROLE_SRC
    out = {}
    for plane in PLANES:
        x, y = points.xy(plane)
        xy = np.column_stack((x, y))
        out[plane] = compute_coverage(xy[src], xy[~src], plane=plane, src_ids=points.ids[src],  # type: ignore[arg-type]
                                      dst_ids=points.ids[~src], **kwargs)  # type: ignore[arg-type]
    return out
