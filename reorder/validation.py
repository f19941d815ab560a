"""Argument checks shared by every stage: permutations, unit indices, counts and time limits.

Each check returns the value in its canonical type or raises :class:`~reorder.errors.InvalidInputError`
with a message that names the argument, what was expected and what was received.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from .errors import InvalidInputError


def check_sequence(value: Any, name: str) -> Any:
    """``value`` itself when it is an iterable other than a string."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidInputError(f"{name} must be a sequence, got {value!r}")
    return value


def check_index(value: Any, name: str) -> int:
    """``value`` as an int (bools refused: ``True`` is not a unit index)."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidInputError(f"{name} must hold unit indices (int), got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidInputError(f"{name} must hold unit indices (int), got {value!r}") from None


def check_optional_index(value: Any, name: str) -> int | None:
    return None if value is None else check_index(value, name)


def check_non_negative_int(value: Any, name: str) -> int:
    number = check_index(value, name)
    if number < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {number}")
    return number


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_time_limit(time_limit: Any) -> float:
    """A positive, finite number of seconds."""
    try:
        seconds = float(time_limit)
    except (TypeError, ValueError):
        raise InvalidInputError(f"time_limit must be a number of seconds, got {time_limit!r}") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise InvalidInputError(f"time_limit must be positive and finite, got {time_limit!r}")
    return seconds


def check_permutation(order: Any, n: int, name: str = "order") -> np.ndarray:
    """``order`` as an int array of shape (n,), or raise if it is not a permutation of ``range(n)``."""
    try:
        array = np.asarray(order if isinstance(order, np.ndarray) else list(order))
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a permutation of range({n}), got {order!r}") from None
    if array.size == 0:
        array = array.astype(np.intp).reshape(0)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError(f"{name} must be a permutation of range({n}) (a 1-D sequence of int), got {order!r}")
    if len(array) != n or not np.array_equal(np.sort(array), np.arange(n)):
        raise InvalidInputError(f"{name} must be a permutation of range({n}), each index exactly once; got {order!r}")
    return array.astype(np.intp, copy=False)
