"""Importing a folder of photos as an image clip (issue 14: photo sets as sources).

Generates 2,000 JPEG photos of 1 to 12 megapixels in a temporary folder (24 distinct
pictures of 24 sizes, each written as many files made distinct by a few bytes after the
JPEG end marker, so every file has its own content and fingerprint, about 1.5 GB in
all), then times ``add_sources`` on a new project: listing, natural sorting, probing
every header (size, EXIF orientation, end marker) and fingerprinting every file, all
inserted in one transaction. No pixel is decoded. The files were just written, so they
are in the page cache (a first import from a cold disk is bound by the disk's seeks).

Target: <= 20 s on 2 cores. Run: ``.venv/bin/python benchmarks/image_import_speed.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import report

import cv2
import numpy as np

from engine.project.clips import add_sources
from engine.project.store import ProjectStore


def make_photos(folder: Path, count: int) -> int:
    rng = np.random.default_rng(0)
    bases = []
    for k in range(24):
        mp = 1.0 + 11.0 * k / 23  # 1 .. 12 megapixels
        w = int(round((mp * 1e6 * 4 / 3) ** 0.5))
        h = int(round(w * 3 / 4))
        small = rng.integers(0, 255, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)  # smooth, photo-like detail
        img = cv2.add(img, rng.integers(0, 12, img.shape, dtype=np.uint8))
        ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 88])
        assert ok
        bases.append(data.tobytes())
    total = 0
    for n in range(count):
        data = bases[n % len(bases)] + n.to_bytes(8, "little")  # after EOI: still a valid JPEG
        (folder / f"IMG_{n + 1}.jpg").write_bytes(data)
        total += len(data)
    return total


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        t = time.perf_counter()
        size = make_photos(folder, args.count)
        print(f"made {args.count} photos ({size / 1e9:.2f} GB) in {time.perf_counter() - t:.1f} s")
        times = []
        for k in range(args.repeat):
            store = ProjectStore.create(Path(tmp) / f"P{k}")
            try:
                t = time.perf_counter()
                result = add_sources(store, [folder], "src")
                times.append(time.perf_counter() - t)
                assert result.clips[0].frame_count == args.count and not result.skipped
            finally:
                store.close()
        seconds = statistics.median(times)
    ok = report(f"import {args.count} photos (1-12 MP, probe + fingerprint)", seconds, "s", "<= 20")
    print(f"  {args.count / seconds:.0f} photos/s; runs: {', '.join(f'{x:.2f}' for x in times)} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
