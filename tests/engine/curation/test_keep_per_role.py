"""Per-role curation, merge targets, training selection, persons CLI, face sets out, delete."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.curation import keep
from engine.errors import FacesmithError
from engine.project import facesets, targets
from engine.project.models import NewClip, NewFace
from engine.project.store import ProjectStore
from engine.swap.config import SwapConfigError
from engine.swap.dataset import training_selection


def _clip(store: ProjectStore, tmp: Path, name: str, role: str) -> int:
    (clip,), _ = store.insert_clips([NewClip(
        name=name, role=role, path=tmp / f"{name}.mp4", size_bytes=1, fingerprint=name, width=640, height=360,
        fps=Fraction(25), frame_count=100, duration_s=4.0, rotation=0, codec="h264", audio_streams=0,
        audio_codec=None)])
    return clip.id


@pytest.fixture
def world(project: ProjectStore, tmp_path: Path) -> dict:
    """src clip: persons S1 (20 faces), S2 (10); dst 'stage': D1 (20), D2 (15), 5 faces with no
    person; dst 'other': D3 (10)."""
    src, stage, other = (_clip(project, tmp_path, n, r) for n, r in (("src", "src"), ("stage", "dst"),
                                                                     ("other", "dst")))
    ids = {n: project.add_person(n)[0].id for n in ("S1", "S2", "D1", "D2", "D3")}
    rng = np.random.default_rng(1)
    plan = [(src, "S1", 20), (src, "S2", 10), (stage, "D1", 20), (stage, "D2", 15), (stage, None, 5),
            (other, "D3", 10)]
    faces, frame = [], 0
    crops = project.root / "faces" / "0000"
    crops.mkdir(parents=True, exist_ok=True)
    for clip, person, n in plan:
        for k in range(n):
            faces.append(NewFace(
                clip_id=clip, frame=frame % 100, idx=frame // 100, box=(10.0 * k, 0.0, 10.0 * k + 40, 40.0),
                score=1.0, landmarks=rng.uniform(0, 40, (68, 2)).astype(np.float32), face_type="whole",
                crop_size=64, alignment=np.eye(2, 3), yaw=float(rng.uniform(-40, 40)),
                pitch=float(rng.uniform(-20, 20)), sharpness=float(rng.uniform(0, 100)),
                person_id=ids[person] if person else None, crop_path=f"faces/0000/{frame + 1}.jpg"))
            frame += 1
    project.add_faces(faces)
    for f in project.faces():
        (project.root / f.crop_path).write_bytes(b"\xff\xd8fake jpeg " + str(f.id).encode())
    return {"store": project, "persons": ids, "clips": {"src": src, "stage": stage, "other": other}}


def _flags(store: ProjectStore) -> dict[int, tuple[int, int]]:
    return {int(r[0]): (int(r[1]), int(r[2])) for r in store.query("SELECT id, excluded, swap_excluded FROM faces")}


def _role_flags(store: ProjectStore, role: str) -> list[tuple[int, int]]:
    return [tuple(r) for r in store.query("SELECT f.excluded, f.swap_excluded FROM faces f JOIN clips c "
                                          "ON c.id = f.clip_id WHERE c.role = ? ORDER BY f.id", (role,))]


def test_keep_dst_person_leaves_src_and_other_clips_untouched(world: dict) -> None:
    store, p = world["store"], world["persons"]
    src_before, before = _role_flags(store, "src"), _flags(store)
    plan = keep.plan_keep_person(store, p["D1"])
    assert plan.text == ("exclude 20 faces of 1 other dst person and 5 with no person from the swap (in stage); "
                         "src untouched")
    cs = keep.apply(store, plan)
    after = _flags(store)
    changed = {i for i in after if after[i] != before[i]}
    stage = {f.id for f in store.faces(clip_id=world["clips"]["stage"]) if f.person_id != p["D1"]}
    assert changed == stage and all(after[i] == (0, 1) for i in changed)  # not swapped; still trained
    assert _role_flags(store, "src") == src_before  # the other role is untouched
    assert all(after[f.id] == (0, 0) for f in store.faces(clip_id=world["clips"]["other"]))
    store.apply(cs.inverse())
    assert _flags(store) == before


def test_keep_src_person_excludes_from_training_only(world: dict) -> None:
    store, p = world["store"], world["persons"]
    dst_before = _role_flags(store, "dst")
    plan = keep.plan_keep_person(store, p["S1"])
    assert "exclude 10 faces of 1 other src person from the src training set" in plan.text and "dst untouched" in \
        plan.text
    keep.apply(store, plan)
    assert _role_flags(store, "dst") == dst_before
    assert store.scalar("SELECT count(*) FROM faces WHERE excluded = 1") == 10


def test_keep_refuses_a_person_without_faces_in_the_role(world: dict) -> None:
    store, p = world["store"], world["persons"]
    before = _flags(store)
    with pytest.raises(FacesmithError, match=r"person \d+ \(S1\) has no dst faces"):
        keep.plan_keep_person(store, p["S1"], role="dst")
    empty = store.add_person("Nobody")[0].id
    with pytest.raises(FacesmithError, match="has no faces"):
        keep.plan_keep_person(store, empty)
    assert _flags(store) == before


def test_best_faces_thins_the_src_training_set_only(world: dict) -> None:
    store = world["store"]
    dst_before = _role_flags(store, "dst")
    plan = keep.plan_best_faces(store, 12)
    assert plan.text.startswith("exclude 18 faces from the src training set, keeping the best 12 of 30")
    cs = keep.apply(store, plan)
    assert _role_flags(store, "dst") == dst_before
    assert store.scalar("SELECT count(*) FROM faces WHERE excluded = 1 AND swap_excluded = 0") == 18
    store.apply(cs.inverse())
    keep.apply(store, keep.plan_best_faces(store, 5, role="dst"))
    assert store.scalar("SELECT count(*) FROM faces f JOIN clips c ON c.id = f.clip_id "
                        "WHERE c.role = 'dst' AND f.excluded = 0") == 5
    assert all(f == (0, 0) for f in _role_flags(store, "src"))


def test_merge_targets_and_swap_ranges(world: dict) -> None:
    store, p = world["store"], world["persons"]
    stage = store.clip(world["clips"]["stage"])
    faces = store.faces(clip_id=stage.id)
    everything = targets.swap_filter(store, stage)
    assert everything.persons is None and all(everything.wants(f) for f in faces)
    cs = targets.set_targets(store, stage, [p["D2"]])
    chosen = targets.swap_filter(store, stage)
    assert {f.person_id for f in faces if chosen.wants(f)} == {p["D2"]}
    # A render's --person replaces the saved targets.
    assert {f.person_id for f in faces if targets.swap_filter(store, stage, [p["D1"]]).wants(f)} == {p["D1"]}
    store.apply(cs.inverse())
    assert targets.swap_filter(store, stage).persons is None
    # A track as a target: its faces are swapped besides the chosen persons'.
    d1 = [f.id for f in faces if f.person_id == p["D1"]][:3]
    store.update_rows("faces", {i: {"track_id": 7} for i in d1})
    targets.set_targets(store, stage, [p["D2"]], [7])
    faces = store.faces(clip_id=stage.id)
    wanted = targets.swap_filter(store, stage)
    assert {f.id for f in faces if wanted.wants(f)} == {f.id for f in faces if f.person_id == p["D2"]} | set(d1)
    targets.set_targets(store, stage, [])  # no targets: every face again
    assert targets.swap_filter(store, stage).persons is None
    rng = targets.add_swap_range(store, stage, 10, 20)
    frames = {f.frame for f in faces if targets.swap_filter(store, stage).wants(f)}
    assert not frames & set(range(10, 20)) and frames & set(range(20, 40))
    store.apply(rng.inverse())
    with pytest.raises(FacesmithError, match="has no faces in clip 'stage'"):
        targets.set_targets(store, stage, [p["S1"]])
    with pytest.raises(FacesmithError, match="outside clip 'stage'"):
        targets.add_swap_range(store, stage, 50, 500)


def test_training_selection_takes_only_the_chosen_clips_and_persons(world: dict) -> None:
    store, p = world["store"], world["persons"]
    dst_all = training_selection(store, "dst", [], [])
    assert len(dst_all) == 50  # every dst clip when none is chosen
    chosen = training_selection(store, "dst", [], ["stage", "src"])
    assert {f.clip_id for f in chosen} == {world["clips"]["stage"]}  # 'other' is not silently added
    assert len(training_selection(store, "src", [p["S1"], p["S2"]], ["stage", "src"])) == 30
    assert {f.person_id for f in training_selection(store, "dst", [p["D2"]], [])} == {p["D2"]}
    with pytest.raises(SwapConfigError, match="include no src clip"):
        training_selection(store, "src", [], ["stage"])
    with pytest.raises(SwapConfigError, match="has no src faces"):
        training_selection(store, "src", [p["D1"]], [])


def test_persons_cli(world: dict, capsys, tmp_path: Path) -> None:
    store, p = world["store"], world["persons"]
    root = store.root
    store.close()
    assert main(["persons", str(root)]) == 0
    out = capsys.readouterr().out
    assert "S1" in out and "stage" in out and "faces/0000/" in out
    assert main(["persons", str(root), "rename", str(p["D1"]), "Lead", "actor"]) == 0
    assert main(["persons", str(root), "keep", str(p["D1"])]) == 0
    assert "from the swap (in stage); src untouched" in capsys.readouterr().out
    assert main(["persons", str(root), "merge", str(p["S1"]), str(p["S2"])]) == 0
    assert main(["persons", str(root), "target", "stage", str(p["D2"]), "--track", "0"]) != 0  # no tracks here
    assert "has no track 0" in capsys.readouterr().err
    assert main(["persons", str(root), "target", "stage", str(p["D2"])]) == 0
    assert main(["persons", str(root), "keep", "999"]) != 0
    assert "no person with id 999" in capsys.readouterr().err
    with ProjectStore.open(root) as s:
        names = {q.id: q.name for q in s.persons()}
        assert names[p["D1"]] == "Lead actor" and p["S2"] not in names
        assert targets.target_persons(s, world["clips"]["stage"]) == [p["D2"]]
        assert s.scalar("SELECT count(*) FROM faces WHERE person_id = ?", (p["S1"],)) == 30


def test_export_and_delete_faces(world: dict, tmp_path: Path) -> None:
    store, p = world["store"], world["persons"]
    out = facesets.export_faces(store, facesets.faces_of_person(store, p["D2"]), tmp_path / "set")
    meta = json.loads((out / facesets.METADATA_FILE).read_text())
    assert len(meta["faces"]) == 15 and all((out / r["file"]).is_file() for r in meta["faces"])
    assert {r["person"] for r in meta["faces"]} == {"D2"} and len(meta["faces"][0]["aligned_landmarks"]) == 68
    with pytest.raises(FacesmithError, match="is not empty"):
        facesets.export_faces(store, [1], out)
    # Delete for good: undoable while open (the crops stay), purged afterwards.
    victims = facesets.faces_of_person(store, p["D3"])
    crops = [store.root / f.crop_path for f in store.faces(ids=victims)]
    cs = facesets.delete_faces(store, victims)
    assert store.scalar("SELECT count(*) FROM faces WHERE person_id = ?", (p["D3"],)) == 0
    assert all(c.is_file() for c in crops)
    store.apply(cs.inverse())
    assert store.scalar("SELECT count(*) FROM faces WHERE person_id = ?", (p["D3"],)) == 10
    store.apply(cs)
    others = [store.root / f.crop_path for f in store.faces()]
    assert facesets.purge_orphan_crops(store, facesets.deleted_crops(cs) | {others[0].relative_to(
        store.root).as_posix()}) == 10  # a crop a face still names is kept
    assert not any(c.exists() for c in crops) and all(c.is_file() for c in others)
    with pytest.raises(FacesmithError, match="no face with id 99999"):
        facesets.delete_faces(store, [99999])
