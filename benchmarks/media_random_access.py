"""Media random access: time to read one frame at a random index of a 360p GRID clip.

Opens a FrameReader (frame index built, frame 0 decoded), then reads 200 frames at
random indices with the frame LRU disabled, so every read really seeks and decodes.

Target: median read <= 30 ms.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from _common import ROOT, report

from engine.media import FrameReader

CLIP = ROOT / "resources" / "sample" / "bbaf2n.mpg"
READS = 200


def main() -> int:
    rng = random.Random(20240611)
    with FrameReader(CLIP, cache_frames=0) as reader:
        indices = [rng.randrange(reader.frame_count) for _ in range(READS)]
        times_ms: list[float] = []
        for index in indices:
            started = time.perf_counter()
            reader.read(index)
            times_ms.append((time.perf_counter() - started) * 1000.0)
        width, height = reader.size
        print(f"clip: {CLIP.name} ({width}x{height}, {reader.frame_count} frames), {READS} reads")
    print(f"random_access_p90_ms: {statistics.quantiles(times_ms, n=10)[-1]:.1f}")
    ok = report("random_access_median_ms", statistics.median(times_ms), "ms", "<= 30")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
