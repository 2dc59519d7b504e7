from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest


def snapshot(store) -> dict[str, object]:
    """What an import may change: row counts and the files under imports/ and faces/."""
    counts = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in ("clips", "clip_images", "faces", "masks", "persons")}
    files = sorted(str(p.relative_to(store.root)) for d in ("imports", "faces") if (store.root / d).exists()
                   for p in (store.root / d).rglob("*") if p.is_file())
    return {"counts": counts, "files": files}


@pytest.fixture
def unchanged():
    return snapshot
