"""Media sequential decode: frames per second over all four GRID sample clips.

Decodes every frame of every clip to RGB arrays with iter_frames, the way the
extraction job reads (frame index built per clip, decode thread on). The best of
three runs counts, so a cold disk cache does not.

Target: >= 300 frames/s.
"""

from __future__ import annotations

import sys
import time

from _common import ROOT, report

from engine.media import iter_frames

CLIPS = sorted((ROOT / "resources" / "sample").glob("*.mpg"))
RUNS = 3


def decode_all(*, threaded: bool) -> float:
    """Frames per second of one pass over all clips."""
    started = time.perf_counter()
    frames = 0
    for clip in CLIPS:
        for _index, frame in iter_frames(clip, threaded=threaded):
            assert frame.shape[2] == 3
            frames += 1
    return frames / (time.perf_counter() - started)


def main() -> int:
    print(f"clips: {len(CLIPS)} ({', '.join(c.name for c in CLIPS)})")
    unthreaded = max(decode_all(threaded=False) for _ in range(RUNS))
    print(f"sequential_decode_fps_unthreaded: {unthreaded:.0f}")
    threaded = max(decode_all(threaded=True) for _ in range(RUNS))
    ok = report("sequential_decode_fps", threaded, "frames/s", ">= 300")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
