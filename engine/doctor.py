"""``facesmith doctor``: what this machine gives Facesmith, and what to install when
something is missing.

It reports Python, torch and the build it is (CPU, CUDA x.y, ROCm x.y), the GPUs with
their memory, the lanes the engine will run (engine.jobs.lanes), the face-analysis
backends and whether their weights are found, and the free disk where the project is.
Each problem comes with the fix (a CPU-only torch on a machine with an NVIDIA GPU: the
command that installs the CUDA build). The editor shows the same text under
Help ▸ System, so a user's bug report can carry it.

Nothing here downloads anything or starts work on a GPU: it only asks.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Check:
    """One line of the report: a name, what was found, and the fix when it is a problem."""

    name: str
    found: str
    ok: bool = True
    fix: str = ""


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def text(self) -> str:
        width = max((len(c.name) for c in self.checks), default=8)
        lines = []
        for c in self.checks:
            mark = "ok  " if c.ok else "MISS"
            lines.append(f"{mark} {c.name:<{width}}  {c.found}")
            if c.fix:
                lines.append(f"     {'':<{width}}  -> {c.fix}")
        n = len(self.problems)
        lines.append(f"{n} problem{'s' if n != 1 else ''} found" if n else "everything Facesmith needs is here")
        return "\n".join(lines)


def _nvidia_present() -> bool:
    """An NVIDIA GPU on this machine, whatever torch was built for."""
    return Path("/proc/driver/nvidia/gpus").is_dir() or shutil.which("nvidia-smi") is not None


def _torch_checks() -> list[Check]:
    try:
        import torch
    except ImportError:
        return [Check("torch", "not installed", False, "pip install torch (see README: make setup)")]
    cuda = getattr(torch.version, "cuda", None)
    hip = getattr(torch.version, "hip", None)
    build = f"CUDA {cuda}" if cuda else f"ROCm {hip}" if hip else "CPU only"
    checks = [Check("torch", f"{torch.__version__} ({build}), {torch.get_num_threads()} CPU threads")]
    try:
        n = torch.cuda.device_count() if (cuda or hip) else 0
    except Exception as exc:  # a driver that does not match the build
        checks.append(Check("GPUs", f"torch cannot use them: {exc}", False,
                            "update the GPU driver to one this torch build supports"))
        return checks
    if n:
        for i in range(n):
            p = torch.cuda.get_device_properties(i)
            checks.append(Check(f"GPU {i}", f"{p.name}, {p.total_memory / 2**30:.1f} GiB"))
    elif not (cuda or hip) and _nvidia_present():
        checks.append(Check("GPUs", "an NVIDIA GPU is present but this torch is a CPU-only build", False,
                            "pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124"))
    elif cuda or hip:
        checks.append(Check("GPUs", f"none visible to torch ({build} build)", False,
                            "check the driver (nvidia-smi / rocm-smi) and CUDA_VISIBLE_DEVICES"))
    else:
        checks.append(Check("GPUs", "none (training and merging run on the CPU: slow but complete)"))
    return checks


def _lane_check() -> Check:
    from engine.jobs.lanes import cores, cpu_job_cap, gpu_count

    gpus = gpu_count()
    lanes = ", ".join([f"gpu:{i}" for i in range(gpus)] or ["compute (CPU, no GPU)"])
    return Check("lanes", f"{lanes}; cpu x{cpu_job_cap()}; io; {cores()} cores")


def _backend_checks() -> list[Check]:
    from engine.faces.backends import backend_names
    from engine.faces.errors import BackendUnavailable

    checks = []
    for name in backend_names():
        try:
            if name == "dlib":
                from engine.faces.dlib_backend import _import_dlib, _model_file, dlib_model_dir

                _import_dlib()
                dlib_model_dir()
                where = _model_file("shape_predictor_68_face_landmarks.dat")
            elif name == "fan":
                from engine.faces.fan_backend import check_fan_installed, fan_weights_path

                check_fan_installed()
                where = str(fan_weights_path())
            else:  # a backend added later: say it exists
                where = "registered"
            checks.append(Check(f"faces: {name}", f"weights {where}"))
        except BackendUnavailable as exc:
            msg = str(exc).strip().splitlines()
            required = name == "dlib"  # the default; the others are optional extras
            checks.append(Check(f"faces: {name}", ("" if required else "optional, not available: ")
                                + (msg[0] if msg else "unavailable"), not required,
                                " ".join(m.strip() for m in msg[1:])[:300] or "see README: face backends"))
        except Exception as exc:  # a broken install: report it, never crash the report
            checks.append(Check(f"faces: {name}", f"unusable: {exc}", False, "reinstall it (make setup)"))
    return checks


def _disk_check(project: Path | None) -> Check:
    where = project if project is not None else Path.cwd()
    probe = where if where.exists() else where.parent
    usage = shutil.disk_usage(probe)
    free = usage.free / 2**30
    ok = free >= 10
    return Check("disk", f"{free:.1f} GiB free of {usage.total / 2**30:.0f} GiB at {where}", ok,
                 "" if ok else "free some space: a 256 px model with its backups takes several GB")


def collect(project: str | Path | None = None) -> Report:
    """Everything the report shows (cheap: asks, loads no model, starts no GPU work)."""
    checks = [
        Check("Facesmith", f"{_version()} on {platform.system()} {platform.release()} ({platform.machine()})"),
        Check("Python", f"{platform.python_version()} ({sys.executable})", sys.version_info >= (3, 11),
              "" if sys.version_info >= (3, 11) else "Facesmith needs Python 3.11 or newer"),
    ]
    checks += _torch_checks()
    checks.append(_lane_check())
    checks += _backend_checks()
    checks.append(_disk_check(Path(project).resolve() if project is not None else None))
    return Report(tuple(checks))


def _version() -> str:
    try:
        import engine

        return str(getattr(engine, "__version__", "dev"))
    except Exception:  # pragma: no cover
        return "dev"


def cmd_doctor(args: argparse.Namespace) -> int:
    report = collect(args.project)
    print(report.text())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check Python, torch and its GPU build, GPUs, face backends and disk")
    p.add_argument("project", nargs="?", help="a project: report the free disk where it is")
    p.set_defaults(func=cmd_doctor)
