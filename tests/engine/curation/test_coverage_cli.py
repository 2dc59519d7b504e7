"""``facesmith coverage`` on a small project built with the store."""

from __future__ import annotations

import csv
import io
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.curation.columns import ROLE_DST, ROLE_SRC, load_face_columns
from engine.project.models import NewClip, NewFace
from engine.project.store import ProjectStore


def _clip(tmp_path: Path, name: str, role: str) -> NewClip:
    return NewClip(name=name, role=role, path=tmp_path / f"{name}.mp4", size_bytes=10, fingerprint=f"fp-{name}",
                   width=640, height=360, fps=Fraction(25), frame_count=1000, duration_s=40.0,
                   rotation=0, codec="h264", audio_streams=0, audio_codec=None)


def _faces(clip_id: int, rng: np.random.Generator, n: int, *, yaw: float, start: int = 0,
           mouth: float = 0.05, **kw) -> list[NewFace]:
    """Faces with random landmarks and alignment but the pose and expression asked for."""
    return [
        NewFace(clip_id=clip_id, frame=start + i, idx=0, box=(10.0, 10.0, 110.0, 130.0), score=0.9,
                landmarks=rng.uniform(0, 640, (68, 2)).astype(np.float32), face_type="whole", crop_size=256,
                alignment=rng.standard_normal((2, 3)), yaw=float(rng.uniform(yaw - 3, yaw + 3)),
                pitch=float(rng.uniform(-3, 3)), roll=0.0, sharpness=float(rng.uniform(10, 100)),
                mouth_open=mouth, eyes_open=0.3, smile=0.9, brow_raise=0.4, **kw)
        for i in range(n)
    ]


@pytest.fixture
def coverage_project(tmp_path: Path) -> Path:
    """src: 40 frontal faces (Alice). dst: 30 at yaw 30 and 20 frontal (Bob), 6 frontal with the
    mouth wide open (unassigned), 4 frontal but excluded."""
    rng = np.random.default_rng(11)
    with ProjectStore.create(tmp_path / "Cov") as store:
        (src, dst), _ = store.insert_clips([_clip(tmp_path, "interview", "src"), _clip(tmp_path, "film", "dst")])
        alice, _ = store.add_person("Alice")
        bob, _ = store.add_person("Bob")
        store.add_faces(_faces(src.id, rng, 40, yaw=0.0, person_id=alice.id))
        store.add_faces(_faces(dst.id, rng, 30, yaw=30.0, person_id=bob.id)
                        + _faces(dst.id, rng, 20, yaw=0.0, start=100, person_id=bob.id)
                        + _faces(dst.id, rng, 6, yaw=0.0, start=200, mouth=0.5)
                        + _faces(dst.id, rng, 4, yaw=30.0, start=300, excluded=True))
        return store.root


def test_columns_leave_excluded_faces_out(coverage_project: Path) -> None:
    with ProjectStore.open(coverage_project, readonly=True) as store:
        cols = load_face_columns(store)
        assert len(cols) == 96
        assert int((cols.role == ROLE_SRC).sum()) == 40 and int((cols.role == ROLE_DST).sum()) == 56
        assert len(load_face_columns(store, include_excluded=True)) == 100
        assert cols.xy("expression").shape == (96, 2) and np.isnan(cols.person).sum() == 0


def test_coverage_command_prints_scores_pairs_and_gaps(coverage_project: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "gaps.csv"
    assert main(["coverage", str(coverage_project), "--min-dst", "5", "--min-src", "5", "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    # Hand count: 26 of the 56 dst faces are frontal, where the 40 src faces are.
    assert "40 src faces, 56 dst faces" in out
    assert re.search(r"^pose +46\.4% +\(26 of 56 dst faces covered; yaw x pitch, 10° bins, 1 gap\)", out, re.M)
    # Expression: all faces have eyes 0.3; the 6 open mouths are uncovered.
    assert re.search(r"^expression +89\.3% +\(50 of 56 ", out, re.M)
    # Both: the 26 frontal minus the 6 open mouths.
    assert re.search(r"^pose\+expr +35\.7% ", out, re.M)
    # Per person pair: Alice's src faces against Bob's 50 dst faces.
    assert "Alice -> Bob: pose 40.0% (20 of 50), expression 100.0%" in out
    assert re.search(r"^gaps \(pose\): 1\n  yaw 25\.\.35°, pitch -5\.\.5° +dst +30 +src +0$", out, re.M)
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert [(r["plane"], r["x_min"], r["dst_count"]) for r in rows] == [
        ("pose", "25", "30"), ("expression", "0.45", "6"), ("smile", "0.45", "6")]


def test_coverage_options_and_errors(coverage_project: Path, capsys) -> None:
    assert main(["coverage", str(coverage_project), "--bin", "80"]) == 0
    assert re.search(r"^pose +100\.0% +\(56 of 56 .* 80° bins, 0 gaps", capsys.readouterr().out, re.M)
    assert main(["coverage", str(coverage_project), "--min-src", "0"]) == 1
    assert "--min-dst and --min-src must be at least 1" in capsys.readouterr().err
    assert main(["coverage", str(coverage_project.parent / "nope")]) == 1
    assert "no such project folder" in capsys.readouterr().err
