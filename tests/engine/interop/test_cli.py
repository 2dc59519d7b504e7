"""``facesmith import`` / ``facesmith export`` in a real process."""

from __future__ import annotations

import pickle
from pathlib import Path

from helpers import run_cli
from writers import add_app15, dfl_meta, face_jpeg, write_dfl_face

from engine.project.store import ProjectStore


class _Payload:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.target}",))


def test_import_and_export_dfl_from_the_command_line(tmp_path: Path) -> None:
    res = run_cli("new", str(tmp_path / "P"))
    assert res.returncode == 0, res.stderr
    project = str(tmp_path / "P.facesmith")
    folder = tmp_path / "aligned"
    folder.mkdir()
    for i in range(3):
        write_dfl_face(folder / f"{i}.jpg", dfl_meta(seed=i, source=None), seed=i)
    (folder / "broken.jpg").write_bytes(add_app15(face_jpeg(), b"not a pickle"))
    res = run_cli("import", "dfl", project, str(folder), "--quiet")
    assert res.returncode == 0, res.stderr
    assert "imported 3 faces into new face-set clip 'aligned'" in res.stdout
    assert "skipped: " in res.stderr and "broken.jpg" in res.stderr

    out = tmp_path / "out"
    res = run_cli("export", "dfl", project, str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    assert len(list(out.glob("*.jpg"))) == 3

    res = run_cli("export", "dfl", project, str(out), "--quiet")  # not empty now
    assert res.returncode != 0 and "not empty" in res.stderr

    res = run_cli("export", "faceswap", project, str(tmp_path / "a.fsa"), "--clip", "aligned", "--quiet")
    assert res.returncode != 0 and "is not a video" in res.stderr

    evil = tmp_path / "evil"
    evil.mkdir()
    target = tmp_path / "pwned"
    meta = dfl_meta()
    meta["source_filename"] = _Payload(target)
    (evil / "x.jpg").write_bytes(add_app15(face_jpeg(), pickle.dumps(meta)))
    res = run_cli("import", "dfl", project, str(evil), "--quiet")
    assert res.returncode != 0 and "x.jpg" in res.stderr and "system" in res.stderr
    assert not target.exists()
    with ProjectStore.open(project, readonly=True) as store:
        assert store.scalar("SELECT count(*) FROM faces") == 3
