"""``make bench``: run every benchmark, then print one table of figures against targets.

Each script prints lines ``name: value unit (target OP BOUND) ok|MISSED`` and exits
non-zero when a target is missed. Stopping at the first miss (what the Makefile loop
used to do) hid every later figure, so this runs them all, one subprocess each (a crash
in one cannot take the others down), and only at the end exits with status 1 if any
figure missed its target or any script failed without reporting one.

Run: ``.venv/bin/python benchmarks/run_all.py [NAME ...]`` (names without ``.py``
select scripts; default: all).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINE = re.compile(r"^(?P<name>.+?): (?P<value>[-+0-9.eE]+|nan|inf)(?: (?P<unit>.*?))? "
                  r"\(target (?P<target>[<>]=\s*[-+0-9.eE]+)\) (?P<verdict>ok|MISSED)\s*$")
#: Set for the scripts, so ui_speed.py leaves its sub-benchmarks to this runner.
RUNNER_ENV = "FACESMITH_BENCH_RUNNER"


@dataclass(frozen=True)
class Figure:
    script: str
    name: str
    value: str
    unit: str
    target: str
    verdict: str  # ok, MISSED, or FAILED (the script exited non-zero without a miss)


def scripts(selected: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != Path(__file__).name)
    if selected:
        unknown = set(selected) - {p.stem for p in found}
        if unknown:
            raise SystemExit(f"run_all: no benchmark named {', '.join(sorted(unknown))} in {HERE}")
        found = [p for p in found if p.stem in selected]
    return found


def run(script: Path) -> list[Figure]:
    print(f"== {script.name}", flush=True)
    env = {**os.environ, RUNNER_ENV: "1"}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=HERE.parent)
    figures: list[Figure] = []
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        tail = (tail + [line.rstrip()])[-3:]
        m = LINE.match(line.strip())
        if m:
            figures.append(Figure(script.stem, m["name"], m["value"], m["unit"] or "", m["target"], m["verdict"]))
    code = proc.wait()
    print(f"   ({time.perf_counter() - t:.0f} s, exit {code})", flush=True)
    if code != 0 and not any(f.verdict == "MISSED" for f in figures):
        reason = next((t for t in reversed(tail) if t), f"exit status {code}")
        figures.append(Figure(script.stem, "(script failed)", "-", "", "-", "FAILED: " + reason[:60]))
    return figures


def table(figures: list[Figure]) -> str:
    rows = [("benchmark", "figure", "value", "target", "result")]
    rows += [(f.script, f.name if len(f.name) <= 64 else f.name[:63] + "…", f"{f.value} {f.unit}".strip(), f.target,
              f.verdict) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
        if k == 0:
            out.append("  ".join("-" * w for w in widths) + "  ------")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    figures = [f for s in scripts(argv) for f in run(s)]
    bad = [f for f in figures if f.verdict != "ok"]
    print("\n" + table(figures))
    print(f"\n{len(figures) - len(bad)} of {len(figures)} figures met their targets"
          + (f"; {len(bad)} did not" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
