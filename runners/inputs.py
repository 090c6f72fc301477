"""Inputs checked against a model's tensor specs before any runtime sees them.

Names must match exactly; dtypes exactly (no silent casts: a float64 array for a float32 input is refused, so the
caller decides how to convert); shapes dimension by dimension, where a named dimension (``batch``) matches any
size but must have the same size in every input that names it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from fairkg.runners.errors import InputError

__all__ = ["check_inputs", "format_shape"]


class _Spec(Protocol):
    name: str
    dtype: str
    shape: tuple[int | str, ...]


def format_shape(shape: Sequence[int | str]) -> str:
    """``[batch, 1, 8, 8]``.

    >>> format_shape(("batch", 1, 8, 8))
    '[batch, 1, 8, 8]'
    """
    return "[" + ", ".join(str(d) for d in shape) + "]"


@functools.lru_cache(maxsize=256)
def _dtype(name: str) -> np.dtype | str:
    """The numpy dtype a spec names (cached: ``str(array.dtype)`` costs ~9 us a call in numpy 2, a dtype comparison
    well under one), or the name itself when numpy has no such dtype (then nothing equals it)."""
    try:
        found = np.dtype(name)
    except TypeError:
        return name
    return found if str(found) == name else name  # "float" or "f4" would name float64/float32: specs name exactly


def check_inputs(specs: Sequence[_Spec], inputs: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The inputs as contiguous numpy arrays in spec order, after checking names, dtypes and shapes.

    Raises:
        InputError: naming every mismatch, with the expected specs and what was given.

    >>> from fairkg.kg.distributions import TensorSpecRecord
    >>> spec = TensorSpecRecord("image", "float32", ("batch", 1, 8, 8), 0)
    >>> check_inputs([spec], {"image": np.zeros((2, 1, 8, 8), np.float32)})["image"].shape
    (2, 1, 8, 8)
    >>> check_inputs([spec], {"image": np.zeros((2, 8, 8), np.float64)})
    Traceback (most recent call last):
    ...
    fairkg.runners.errors.InputError: inputs do not match the model's tensor specs: image: expected dtype float32, \
got float64; image: expected shape [batch, 1, 8, 8] (rank 4), got [2, 8, 8] (rank 3)
    """
    problems: list[str] = []
    arrays = {name: value if isinstance(value, np.ndarray) else np.asarray(value) for name, value in inputs.items()}
    expected_names = [spec.name for spec in specs]
    missing = [name for name in expected_names if name not in arrays]
    unexpected = [name for name in arrays if name not in expected_names]
    if missing:
        problems.append(f"missing input{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unexpected:
        problems.append(
            f"unexpected input{'s' if len(unexpected) > 1 else ''} {', '.join(unexpected)} "
            f"(the model takes {', '.join(expected_names)})"
        )
    sizes: dict[str, tuple[int, str]] = {}  # dimension name -> (size, the input that set it)
    for spec in specs:
        array = arrays.get(spec.name)
        if array is None:
            continue
        wanted = _dtype(spec.dtype)
        if (str(array.dtype) != wanted) if isinstance(wanted, str) else (array.dtype != wanted):
            problems.append(f"{spec.name}: expected dtype {spec.dtype}, got {array.dtype}")
        if array.ndim != len(spec.shape):
            problems.append(
                f"{spec.name}: expected shape {format_shape(spec.shape)} (rank {len(spec.shape)}), "
                f"got {format_shape(array.shape)} (rank {array.ndim})"
            )
            continue
        for axis, (want, got) in enumerate(zip(spec.shape, array.shape, strict=True)):
            if isinstance(want, int):
                if want != got:
                    problems.append(f"{spec.name}: expected shape {format_shape(spec.shape)}, got "
                                    f"{format_shape(array.shape)} (dimension {axis} must be {want})")
            elif want in sizes and sizes[want][0] != got:
                size, source = sizes[want]
                problems.append(f"{spec.name}: dimension {axis} ({want}) is {got}, but {want} is {size} in {source}")
            else:
                sizes.setdefault(want, (got, spec.name))
    if problems:
        given = {name: {"dtype": str(array.dtype), "shape": list(array.shape)} for name, array in arrays.items()}
        expected = [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in specs]
        raise InputError("inputs do not match the model's tensor specs: " + "; ".join(problems),
                         expected=expected, given=given, problems=problems)
    return {spec.name: np.ascontiguousarray(arrays[spec.name]) for spec in specs}
