"""A restricted unpickler for metadata written by other programs.

DeepFaceLab's face metadata and FaceSwap's alignments are pickles, and a pickle is a
program: unpickling one from the internet can run anything (``os.system``, any
``__reduce__``). :func:`loads` admits only what those files hold -- dicts, lists,
tuples, strings, bytes, numbers, booleans, ``None`` and numpy arrays/scalars of plain
numeric dtypes. Every global a pickle names goes through :meth:`find_class`, which
knows exactly the numpy reconstructors and answers anything else with an error
*before* it is called, so a refused payload never runs. Arrays are then checked for
plain dtypes (an object array could smuggle anything) and the whole value is walked
once to refuse sets, bytearrays and any other type.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, Final

import numpy as np

#: dtype kinds an array may have: bool, signed/unsigned int, float, complex.
_PLAIN_KINDS: Final = frozenset("biufc")
_MAX_DEPTH: Final = 64
_SCALAR_TYPES: Final = frozenset({int, float, bool, str, bytes, type(None)})


class UnsafePickleError(ValueError):
    """The pickle names something that is not plain data; nothing of it was run."""


def _reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    if cls is not np.ndarray:
        raise UnsafePickleError("array reconstructor called with a class other than numpy.ndarray")
    return np.ndarray.__new__(np.ndarray, shape, np.dtype(dtype_code))


def _dtype(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if not isinstance(spec, str):
        raise UnsafePickleError(f"numpy dtype of {type(spec).__name__} is not allowed")
    # Always a copy: the pickle's BUILD then calls ``__setstate__`` on it, which must
    # never reach numpy's shared built-in dtype instances.
    dt = np.dtype(spec, align=bool(align), copy=True)
    if dt.kind not in _PLAIN_KINDS:
        raise UnsafePickleError(f"numpy dtype {spec!r} is not a plain numeric dtype")
    return dt


def _scalar(dtype: Any, data: Any = b"") -> Any:
    if not isinstance(dtype, np.dtype) or dtype.kind not in _PLAIN_KINDS or not isinstance(data, bytes):
        raise UnsafePickleError("numpy scalar of a non-numeric dtype is not allowed")
    if len(data) != dtype.itemsize:
        raise UnsafePickleError("numpy scalar with the wrong number of bytes")
    return np.frombuffer(data, dtype=dtype)[0]


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind not in _PLAIN_KINDS or not isinstance(buf, (bytes, bytearray, memoryview)):
        raise UnsafePickleError("numpy buffer of a non-numeric dtype is not allowed")
    return np.frombuffer(bytes(buf), dtype=dt).reshape(shape, order=order).copy()


def _latin1_bytes(text: Any, encoding: Any = "utf-8") -> bytes:
    # Protocol-2 pickles spell ``bytes`` as ``_codecs.encode(str, 'latin1')``.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode is only allowed as protocol 2's bytes")
    return text.encode("latin1")


_ALLOWED: Final[dict[tuple[str, str], Any]] = {("_codecs", "encode"): _latin1_bytes}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _reconstruct
    _ALLOWED[(_mod, "scalar")] = _scalar
for _mod in ("numpy", "numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "ndarray")] = np.ndarray
    _ALLOWED[(_mod, "dtype")] = _dtype
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _frombuffer


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"the pickle names {module}.{name}, which is not plain data "
                                    "(refused; nothing was run)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("the pickle uses persistent ids (refused)")


def loads(data: bytes) -> Any:
    """Unpickle ``data`` if it holds only plain data (see the module docs).

    Raises :class:`UnsafePickleError` for anything that names a class or callable, and
    ``pickle.UnpicklingError`` (or ``ValueError``/``EOFError``) for bytes that are not a
    pickle at all.
    """
    try:
        value = _Unpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError, OverflowError, RecursionError) as exc:
        raise pickle.UnpicklingError(f"not a valid pickle ({type(exc).__name__}: {exc})") from None
    _check(value, 0)
    return value


def _check(value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise UnsafePickleError("the pickle is nested too deeply")
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray or value.dtype.kind not in _PLAIN_KINDS or value.dtype.fields:
            raise UnsafePickleError(f"numpy array of dtype {value.dtype} is not allowed")
        return
    if isinstance(value, np.generic):
        if value.dtype.kind not in _PLAIN_KINDS:
            raise UnsafePickleError(f"numpy scalar of dtype {value.dtype} is not allowed")
        return
    if type(value) in (list, tuple):
        # Landmark lists hold hundreds of numbers: check their types at C speed first.
        kinds = set(map(type, value))
        if kinds <= _SCALAR_TYPES:
            return
        for item in value:
            if type(item) in (list, tuple) and set(map(type, item)) <= _SCALAR_TYPES:
                continue  # e.g. one [x, y] point
            _check(item, depth + 1)
        return
    if type(value) is dict:
        for k, v in value.items():
            _check(k, depth + 1)
            _check(v, depth + 1)
        return
    raise UnsafePickleError(f"the pickle holds a {type(value).__name__}, which is not plain data")


def dumps(value: Any) -> bytes:
    """Pickle plain data for DeepFaceLab/FaceSwap (protocol 4, which both read)."""
    _check(value, 0)
    return pickle.dumps(value, protocol=4)
