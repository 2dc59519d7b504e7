"""Faces at every angle (issue 19): recall by |yaw| band, landmark NME, persons kept apart.

1. **Recall by |yaw| band** (0-30, 30-60, 60-90 degrees) of the default backend
   (``mediapipe``) and of dlib's HOG, on the repo's real material: ``tests/data/clips/
   carphone.mp4`` (120 frames, talking head with roll), the GRID sample clips (every
   5th frame), ``tests/data/clips/two_people.mp4`` (every 5th frame, two faces a frame),
   ``tests/data/stills/camera.png`` (a three-quarter face) and its mirror image. A
   frame's truth is the faces the two detectors found together, their yaw from the
   landmarks of whichever found them (mediapipe first); so a band's recall says how
   many of the faces *some* detector saw this one saw too. Bands with no material say
   so (``n/a``) rather than report a number.
2. **Landmark NME** on the annotated stills (takeo, einstein), default backend vs dlib,
   both at full size (as the existing dlib figures were measured).
3. **Persons**: one project with the GRID clips, carphone and two_people, extracted by
   the real job with default settings; no person may hold faces of two different people
   (each single-person clip is one person; two_people's left half is bbaf2n's speaker,
   its right half lbax4n's), and no two faces of one frame may share a person.

Run: ``.venv/bin/python benchmarks/faces_every_angle.py`` (exit 1 if a target is missed).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from _common import ROOT, report

from engine.faces.dlib_backend import DlibBackend
from engine.faces.mediapipe_backend import MediapipeBackend
from engine.faces.pose import estimate_pose
from engine.faces.tracks import box_iou
from engine.media import iter_frames

CLIPS = ROOT / "tests" / "data" / "clips"
STILLS = ROOT / "tests" / "data" / "stills"
SAMPLES = ROOT / "resources" / "sample"
BANDS = ((0, 30, 98.0), (30, 60, 95.0), (60, 90, 80.0))


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def material() -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    out += [(f"carphone:{i}", f) for i, f in iter_frames(CLIPS / "carphone.mp4")]
    out += [(f"two_people:{i}", f) for i, f in iter_frames(CLIPS / "two_people.mp4", step=5)]
    for clip in sorted(SAMPLES.glob("*.mpg")):
        out += [(f"{clip.stem}:{i}", f) for i, f in iter_frames(clip, step=5)]
    cam = _rgb(STILLS / "camera.png")
    out += [("camera", cam), ("camera_mirrored", np.ascontiguousarray(cam[:, ::-1]))]
    return out


def recall() -> bool:
    mp = MediapipeBackend(device="cpu", max_detect_side=960)
    mp.load()
    dl = DlibBackend(max_detect_side=960)
    rows: list[tuple[float, bool, bool]] = []  # |yaw|, found by mediapipe, found by dlib
    for _name, frame in material():
        img = np.ascontiguousarray(frame)
        size = (img.shape[1], img.shape[0])
        a = [d for d in mp.detect(img) if min(d.width, d.height) >= 24]
        b = [d for d in dl.detect(img) if min(d.width, d.height) >= 24]
        truth: list[tuple[tuple[float, ...], float]] = []
        for d in a:
            truth.append((d.box, abs(estimate_pose(mp.landmarks(img, d.box), size).yaw)))
        for d in b:
            if not a or box_iou([d.box], [t[0] for t in truth]).max() < 0.3:
                truth.append((d.box, abs(estimate_pose(dl.landmarks(img, d.box), size).yaw)))
        for box, yaw in truth:
            hit_a = bool(a) and box_iou([box], [d.box for d in a]).max() >= 0.3
            hit_b = bool(b) and box_iou([box], [d.box for d in b]).max() >= 0.3
            rows.append((yaw, hit_a, hit_b))
    ok = True
    for lo, hi, target in BANDS:
        band = [r for r in rows if lo <= r[0] < hi or (hi == 90 and r[0] >= 90)]
        if not band:
            print(f"recall_yaw_{lo}_{hi}: n/a (no face of this band in the material)")
            continue
        ours = 100.0 * sum(r[1] for r in band) / len(band)
        hog = 100.0 * sum(r[2] for r in band) / len(band)
        print(f"  |yaw| {lo}-{hi}: {len(band)} faces; dlib HOG finds {hog:.1f} %")
        ok = report(f"recall_yaw_{lo}_{hi}", ours, "%", f">= {target}") and ok
    return ok


def nme() -> bool:
    def pts(name: str) -> np.ndarray:
        text = (STILLS / name).read_text()
        return np.array(text[text.index("{") + 1:text.index("}")].split(), float).reshape(-1, 2) - 1.0

    ok = True
    for image, ann in (("takeo.ppm", "takeo.pts"), ("einstein.jpg", "einstein.pts")):
        img, truth = _rgb(STILLS / image), pts(ann)
        cx, cy = truth.mean(axis=0)
        unit = np.linalg.norm(truth[36] - truth[45])

        def err(backend, img=img, truth=truth, cx=cx, cy=cy, unit=unit) -> float:  # type: ignore[no-untyped-def]
            box = next(d.box for d in backend.detect(img) if d.box[0] <= cx <= d.box[2] and d.box[1] <= cy <= d.box[3])
            return float(np.linalg.norm(backend.landmarks(img, box) - truth, axis=1).mean() / unit * 100)

        ref = err(DlibBackend())
        ours = err(MediapipeBackend(device="cpu", max_detect_side=None))
        print(f"  {image}: dlib {ref:.2f} %")
        ok = report(f"nme_{Path(image).stem}", ours, "%", f"<= {ref + 0.001:.3f}") and ok
    return ok


def persons() -> bool:
    from engine.jobs.queue import JobQueue
    from engine.jobs.worker import Worker
    from engine.project.clips import add_clips
    from engine.project.store import ProjectStore

    with tempfile.TemporaryDirectory(prefix="persons-") as tmp:
        store = ProjectStore.create(Path(tmp) / "Persons")
        root = store.root
        add_clips(store, sorted(SAMPLES.glob("*.mpg")) + [CLIPS / "carphone.mp4", CLIPS / "two_people.mp4"], "dst")
        job = JobQueue(store).enqueue("extract", {})
        store.close()
        worker = Worker(root, only_job=job.id, log_to_stderr=False)
        worker.run()
        assert worker.last_job is not None and worker.last_job.state == "done", worker.last_job
        print(f"  {worker.last_job.result['message']}")
        with ProjectStore.open(root) as store:
            rows = store.query("SELECT f.person_id, c.name, (f.x0 + f.x1) / 2 >= 180 FROM faces f "
                               "JOIN clips c ON c.id = f.clip_id WHERE f.person_id IS NOT NULL")
            people: dict[int, set[str]] = {}
            for person, clip, right in rows:
                # two_people.mp4 is bbaf2n's speaker (left) beside lbax4n's (right).
                who = ("lbax4n" if right else "bbaf2n") if clip == "two_people" else clip
                people.setdefault(person, set()).add(who)
            mixed = sum(1 for v in people.values() if len(v) > 1)
            clash = store.query("SELECT count(*) FROM (SELECT 1 FROM faces WHERE person_id IS NOT NULL "
                                "GROUP BY clip_id, frame, person_id HAVING count(*) > 1)")[0][0]
            uncertain = store.query("SELECT count(*) FROM persons WHERE uncertain = 1")[0][0]
            print(f"  {len(people)} persons ({uncertain} uncertain) for 5 people")
    ok = report("persons_holding_two_people", mixed, "persons", "<= 0")
    return report("frames_with_two_faces_of_one_person", clash, "frames", "<= 0") and ok


def main() -> int:
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    ok = recall()
    ok = nme() and ok
    ok = persons() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
