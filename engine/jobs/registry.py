"""Job kinds: a name, a typed parameter dataclass and the function that runs it.

A kind is declared once with :func:`job_kind`. Parameters are validated when the job is
*queued* (unknown names, wrong types and out-of-range values are refused then, with a
message that names the parameter), never discovered broken hours later when it runs.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args, get_origin

from engine.errors import JobError
from engine.project.changes import ChangeSet

if TYPE_CHECKING:
    from engine.jobs.context import JobContext

P = TypeVar("P")


@dataclass(frozen=True)
class JobResult:
    """What a finished job hands back: what it changed, a one-line message, extra data."""

    changes: ChangeSet = field(default_factory=ChangeSet)
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"changes": self.changes.summary(), "message": self.message, "data": dict(self.data)}


@dataclass(frozen=True)
class JobKind(Generic[P]):
    """A declared job kind.

    Attributes
    ----------
    exclusive : the job needs the compute device to itself (training, extraction); a
        worker never starts one while another exclusive job runs in the project.
    resumable : the job saves checkpoints and continues from them after a pause or crash.
    resource : what the job runs on (:mod:`engine.jobs.lanes`): ``gpu:N``, ``cpu`` or
        ``io``. Kinds that do not say get ``cpu`` when exclusive (compute-heavy) and
        ``io`` otherwise, so a new kind gets a sensible lane without knowing of lanes.
    cpu_fallback : a ``gpu:N`` kind that also runs on the processor (its ``device``
        parameter ``cpu``, or no GPU): it then runs in the ``cpu`` lane.
    makes_faces : the job adds or changes faces (extraction, imports). Lanes let jobs run
        side by side, but a job queued *after* such a job works on its result (train on
        the faces it extracts, render them): every later job but ``io`` ones waits until
        it is no longer queued or running (:meth:`engine.jobs.queue.JobQueue.claim`).
    """

    name: str
    params: type[P]
    run: Callable[[JobContext, P], JobResult | None]
    description: str
    exclusive: bool
    resumable: bool
    resource: str = "io"
    cpu_fallback: bool = False
    makes_faces: bool = False

    def parse(self, raw: Mapping[str, Any]) -> P:
        return _build(self, raw)


_KINDS: dict[str, JobKind[Any]] = {}


def job_kind(
    name: str, params: type[P], *, description: str, exclusive: bool = False, resumable: bool = True,
    resource: str | None = None, cpu_fallback: bool = False, makes_faces: bool = False,
) -> Callable[[Callable[[JobContext, P], JobResult | None]], Callable[[JobContext, P], JobResult | None]]:
    """Declare a job kind (a decorator on its run function)."""
    if not dataclasses.is_dataclass(params):
        raise TypeError(f"parameters of job kind {name!r} must be a dataclass")
    from engine.jobs.lanes import check_resource

    res = check_resource(resource or ("cpu" if exclusive else "io"))

    def register(fn: Callable[[JobContext, P], JobResult | None]) -> Callable[[JobContext, P], JobResult | None]:
        _KINDS[name] = JobKind(name, params, fn, description, exclusive, resumable, res, cpu_fallback, makes_faces)
        return fn

    return register


def load_kinds() -> None:
    """Import every module of :mod:`engine.jobs.kinds` so their kinds register."""
    import engine.jobs.kinds as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")


def kinds() -> dict[str, JobKind[Any]]:
    load_kinds()
    return dict(sorted(_KINDS.items()))


def get_kind(name: str) -> JobKind[Any]:
    """The kind ``name``. Its module (``engine.jobs.kinds.<name>``) is imported alone when it
    exists: a worker running ``noop`` jobs must not pay for importing torch."""
    if name not in _KINDS and name.isidentifier():
        try:
            importlib.import_module(f"engine.jobs.kinds.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.jobs.kinds.{name}":
                raise
    if name not in _KINDS:
        load_kinds()
    try:
        return _KINDS[name]
    except KeyError:
        raise JobError(f"unknown job kind {name!r} (known: {', '.join(sorted(_KINDS))})") from None


def validate_params(kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``raw`` against the kind's parameters; return the full JSON-ready dict."""
    k = get_kind(kind)
    return json.loads(json.dumps(dataclasses.asdict(k.parse(raw))))


def parse_cli_params(pairs: list[str]) -> dict[str, Any]:
    """``["steps=5", "name=abc", "ids=[1,2]"]`` -> dict; values are JSON when they parse."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise JobError(f"parameter {pair!r} is not of the form name=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


# -- typed conversion ---------------------------------------------------------------
def _build(kind: JobKind[P], raw: Mapping[str, Any]) -> P:
    cls = kind.params
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise JobError(f"job {kind.name}: unknown parameter(s) {', '.join(unknown)} "
                       f"(known: {', '.join(fields) or 'none'})")
    values: dict[str, Any] = {}
    for name in fields:
        if name in raw:
            values[name] = _convert(kind.name, name, raw[name], hints[name])
    try:
        return cls(**values)
    except TypeError as exc:  # a required parameter is missing
        raise JobError(f"job {kind.name}: {exc}") from None
    except ValueError as exc:  # __post_init__ range checks
        raise JobError(f"job {kind.name}: {exc}") from None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(kind: str, name: str, value: Any, tp: Any) -> Any:
    def bad() -> JobError:
        return JobError(f"job {kind}: parameter {name}={value!r} is not {_type_name(tp)}")

    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(kind, name, value, arg)
            except JobError:
                continue
        raise bad()
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise JobError(f"job {kind}: parameter {name}={value!r} must be one of "
                       f"{', '.join(map(repr, get_args(tp)))}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise bad()
        args = get_args(tp)
        item = args[0] if args else Any
        converted = [_convert(kind, name, v, item) for v in value]
        return tuple(converted) if origin is tuple else converted
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad()
    if origin is dict or tp is dict:
        if isinstance(value, dict):
            return value
        raise bad()
    raise JobError(f"job {kind}: parameter {name} has an unsupported type {_type_name(tp)}")
