"""``facesmith info`` lists each person (id, name, role, faces) and model (id, arch, resolution,
iteration, disk use), not just counts."""

from __future__ import annotations

import re
import subprocess
import sys

from engine.project.info import folder_size, model_infos, person_infos
from engine.project.store import ProjectStore


def test_info_lists_persons_and_models(trained_swap) -> None:
    r = subprocess.run([sys.executable, "-m", "engine", "info", str(trained_swap.root)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with ProjectStore.open(trained_swap.root, readonly=True) as store:
        persons = person_infos(store)
        models = model_infos(store)
        counts = store.person_face_counts()
    assert len(persons) == 4 and {p.role for p in persons} == {"src", "dst"}
    for p in persons:
        assert (p.faces, p.excluded) == counts[p.id]
        assert re.search(rf"\[{p.id}\] {re.escape(p.name)}\s+{p.role}\s+faces {p.faces - p.excluded}", r.stdout), \
            r.stdout
    model = next(m for m in models if m.id == trained_swap.model_id)
    assert model.disk_bytes == folder_size(trained_swap.folder) > 10_000
    line = next(li for li in r.stdout.splitlines() if li.strip().startswith(f"[{model.id}] swap"))
    assert model.arch in line and f"{model.resolution} px" in line and f"iteration {model.iteration:,}" in line
    assert re.search(r"\d+\.\d (KB|MB)", line), line
