"""Project store speed: bulk insert, range load, open (issue: foundation).

Targets: insert 100,000 faces with landmarks and embeddings <= 0.5 s; load the faces of one
clip in a 1,000-frame range <= 10 ms; open a project holding 100,000 faces <= 300 ms.

The insert is the columnar one (:class:`~engine.project.face_insert.FaceBatch`, what bulk
writers hand the store); its WAL checkpoint runs in a background thread, and the script
also prints, without a target, how long until that checkpoint finished and what the same
insert costs from a list of ``NewFace`` objects.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from _common import report, timed

from engine.project.face_insert import FaceBatch
from engine.project.models import NewClip, NewFace
from engine.project.store import ProjectStore

import numpy as np

N = 100_000
INSERT_RUNS = 3


def make_faces(clip_ids: list[int], rng: np.random.Generator) -> list[NewFace]:
    lm = rng.uniform(0, 300, (N, 68, 2)).astype(np.float32)
    emb = rng.standard_normal((N, 128)).astype(np.float32)
    al = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (N, 1, 1))
    per_clip = N // len(clip_ids)
    return [
        NewFace(clip_id=clip_ids[i // per_clip], frame=i % per_clip, idx=0, box=(10.0, 10.0, 110.0, 110.0),
                score=0.9, landmarks=lm[i], face_type="whole", crop_size=256, alignment=al[i],
                yaw=0.0, pitch=0.0, roll=0.0, sharpness=1.0, embedding=emb[i])
        for i in range(N)
    ]


def make_batch(clip_ids: list[int], rng: np.random.Generator) -> FaceBatch:
    per_clip = N // len(clip_ids)
    i = np.arange(N)
    return FaceBatch(
        clip_id=np.repeat(clip_ids, per_clip).tolist(), frame=(i % per_clip).tolist(), idx=[0] * N,
        boxes=np.tile([10.0, 10.0, 110.0, 110.0], (N, 1)), score=[0.9] * N,
        landmarks=rng.uniform(0, 300, (N, 68, 2)).astype(np.float32), face_type=["whole"] * N, crop_size=[256] * N,
        alignment=np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (N, 1, 1)),
        optional={"yaw": [0.0] * N, "pitch": [0.0] * N, "roll": [0.0] * N, "sharpness": [1.0] * N},
        embeddings=rng.standard_normal((N, 128)).astype(np.float32), track_id=[None] * N, person_id=[None] * N,
        excluded=[False] * N, crop_path=[None] * N, swap_excluded=[False] * N,
    )


def insert_newfaces_s(tmp: Path, clips: list, rng: np.random.Generator) -> float:
    store = ProjectStore.create(tmp / "bench-newface")
    store.insert_clips([NewClip(name=c.name, role="dst", path=c.path, size_bytes=1, fingerprint=c.fingerprint,
                                width=640, height=360, fps=Fraction(25), frame_count=25_000, duration_s=1000.0,
                                rotation=0, codec="h264", audio_streams=0, audio_codec=None) for c in clips])
    faces = make_faces([c.id for c in clips], rng)
    t = time.perf_counter()
    store.add_faces(faces)
    took = time.perf_counter() - t
    store.close()
    return took


def main() -> int:
    rng = np.random.default_rng(0)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        inserts: list[float] = []
        for run in range(INSERT_RUNS):  # each into a new project: the figure is the median
            store = ProjectStore.create(Path(tmp) / f"bench{run}")
            clips, _ = store.insert_clips([
                NewClip(name=f"clip{i}", role="dst", path=Path(tmp) / f"clip{i}.mp4", size_bytes=1,
                        fingerprint=f"f{i}", width=640, height=360, fps=Fraction(25), frame_count=25_000,
                        duration_s=1000.0, rotation=0, codec="h264", audio_streams=0, audio_codec=None)
                for i in range(4)
            ])
            batch = make_batch([c.id for c in clips], rng)
            t = time.perf_counter()
            store.add_faces(batch)
            inserts.append(time.perf_counter() - t)
            if run < INSERT_RUNS - 1:
                assert store._checkpointer is not None and store._checkpointer.wait(60)
                store.close()
        took = statistics.median(inserts)
        ok &= report("insert_100k_faces_s", took, "s", "<= 0.5")
        print(f"insert_100k_faces_runs_s: {', '.join(f'{x:.3f}' for x in inserts)} (info: median of these)")
        assert store._checkpointer is not None and store._checkpointer.wait(60)
        print(f"insert_100k_faces_checkpointed_s: {time.perf_counter() - t:.3f} s (info: last run, until the "
              "background WAL checkpoint finished)")
        clip_id = clips[1].id
        assert len(store.faces(clip_id=clip_id, frames=(5000, 6000))) == 1000
        load = timed(lambda: store.faces(clip_id=clip_id, frames=(5000, 6000)), repeat=20)
        ok &= report("load_1000_frame_range_ms", load * 1000, "ms", "<= 10")
        store.close()
        path = store.root

        def open_close() -> None:
            s = ProjectStore.open(path)
            s.summary()
            s.close()

        ok &= report("open_project_100k_faces_ms", timed(open_close, repeat=7) * 1000, "ms", "<= 300")
        print(f"insert_100k_newface_objects_s: {insert_newfaces_s(Path(tmp), clips, rng):.3f} s "
              "(info: the same insert from a list of NewFace objects)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
