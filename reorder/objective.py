"""The objective: the additive score of an order that the search maximises, and its weights.

An *order* is a permutation ``o`` of ``range(n)``. Its value under an :class:`Objective` is::

    value(o) = sum_k follows[o[k], o[k+1]]          # adjacency: o[k+1] right after o[k]
             + sum_{k<l} precedes[o[k], o[l]]       # precedence: o[k] anywhere before o[l]
             + first[o[0]] + last[o[-1]]

:func:`objective_from_scores` builds it from a coherence model's probabilities and the weights of its
three terms, so that an order's value is its weighted log-likelihood; :func:`order_values`,
:func:`term_values` and :func:`random_mean` evaluate many orders at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .coherence import PairwiseScores, log_probability
from .errors import InvalidInputError
from .validation import check_non_negative_int, check_permutation

__all__ = ["DEFAULT_WEIGHTS", "TERMS", "Objective", "objective_from_scores", "order_values", "random_mean",
           "term_values", "value_tolerance"]

TERMS = ("follows", "precedes", "position")
"""The objective's three terms, in the order of ``--weights F,P,POS``."""
DEFAULT_WEIGHTS = {"follows": 1.0, "precedes": 1.0, "position": 1.0}
"""Weights of a model that was saved without tuned ones."""
_CHUNK_CELLS = 4_000_000  # orders x n x n booleans evaluated at once by order_values


def _score_array(value: Any, name: str, ndim: int) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)  # a copy: the objective owns its arrays
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be an array of numbers: {exc}") from None
    if array.ndim != ndim:
        raise InvalidInputError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    return array


@dataclass(frozen=True, eq=False)
class Objective:
    """The scores that define the value of an order.

    Parameters
    ----------
    follows : ndarray of shape (n, n)
        ``follows[i, j]``: score of unit ``j`` coming immediately after unit ``i``.
    precedes : ndarray of shape (n, n)
        ``precedes[i, j]``: score of unit ``i`` coming anywhere before unit ``j``.
    first : ndarray of shape (n,)
        ``first[i]``: score of unit ``i`` opening the order.
    last : ndarray of shape (n,)
        ``last[i]``: score of unit ``i`` closing the order.

    The arrays are copied to float64 and made read-only; diagonals are ignored (set to 0, so
    they may hold ``-inf`` or ``nan`` on input). Every other entry must be finite.
    """

    follows: np.ndarray
    precedes: np.ndarray
    first: np.ndarray
    last: np.ndarray

    def __post_init__(self) -> None:
        follows = _score_array(self.follows, "follows", 2)
        n = follows.shape[0]
        if follows.shape != (n, n):
            raise InvalidInputError(f"follows must be square, got shape {follows.shape}")
        precedes = _score_array(self.precedes, "precedes", 2)
        if precedes.shape != (n, n):
            raise InvalidInputError(
                f"precedes must have the shape of follows {(n, n)}, got {precedes.shape}"
            )
        first = _score_array(self.first, "first", 1)
        last = _score_array(self.last, "last", 1)
        for name, vector in (("first", first), ("last", last)):
            if vector.shape != (n,):
                raise InvalidInputError(f"{name} must have shape {(n,)}, got {vector.shape}")
            if not np.all(np.isfinite(vector)):
                raise InvalidInputError(f"{name} must be finite everywhere")
        for name, matrix in (("follows", follows), ("precedes", precedes)):
            np.fill_diagonal(matrix, 0.0)
            if not np.all(np.isfinite(matrix)):
                raise InvalidInputError(f"{name} must be finite off its diagonal")
        for name, array in (
            ("follows", follows),
            ("precedes", precedes),
            ("first", first),
            ("last", last),
        ):
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def n(self) -> int:
        """Number of units."""
        return int(self.first.shape[0])

    @classmethod
    def zeros(cls, n: int) -> Objective:
        """An objective of ``n`` units whose scores are all zero (every order has value 0)."""
        n = check_non_negative_int(n, "n")
        return cls(np.zeros((n, n)), np.zeros((n, n)), np.zeros(n), np.zeros(n))

    def value(self, order: Sequence[int] | np.ndarray) -> float:
        """Value of ``order``, a permutation of ``range(n)`` (see the module docstring)."""
        o = check_permutation(order, self.n, "order")
        if len(o) == 0:
            return 0.0
        total = self.first[o[0]] + self.last[o[-1]] + self.follows[o[:-1], o[1:]].sum()
        total += np.triu(self.precedes[np.ix_(o, o)], 1).sum()
        return float(total)


def objective_from_scores(scores: PairwiseScores, weights: Mapping[str, float]) -> Objective:
    """Turn probabilities into the additive objective the search maximises.

    follows[i, j] = w_f log P(j right after i); precedes[i, j] = w_p log P(i before j);
    first[i] = w_pos (log P(first) - log P(middle)); last[i] likewise, so that an order's value is,
    up to a constant, the weighted log-likelihood of its adjacencies, its pairwise precedences and
    its first and last units.
    """
    position = log_probability(scores.position)
    return Objective(
        follows=weights["follows"] * log_probability(scores.follows),
        precedes=weights["precedes"] * log_probability(scores.precedes),
        first=weights["position"] * (position[:, 0] - position[:, 1]),
        last=weights["position"] * (position[:, 2] - position[:, 1]),
    )


def order_values(objective: Objective, orders: np.ndarray) -> np.ndarray:
    """Objective values of many orders at once.

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    orders : ndarray of shape (m, n)
        Each row a permutation of ``range(n)`` (not checked: this is the vectorised inner loop).

    Returns
    -------
    ndarray of shape (m,)
        ``values[r] == objective.value(orders[r])`` up to float rounding.
    """
    orders = np.asarray(orders, dtype=np.intp)
    m, n = orders.shape
    if n == 0:
        return np.zeros(m)
    values = objective.first[orders[:, 0]] + objective.last[orders[:, -1]]
    values = values + objective.follows[orders[:, :-1], orders[:, 1:]].sum(axis=1)
    positions = np.argsort(orders, axis=1)
    chunk = max(1, _CHUNK_CELLS // max(n * n, 1))
    for start in range(0, m, chunk):
        pos = positions[start : start + chunk]
        before = pos[:, :, None] < pos[:, None, :]  # before[r, i, j]: i precedes j in order r
        values[start : start + chunk] += np.einsum("rij,ij->r", before, objective.precedes)
    return values


def random_mean(objective: Objective) -> float:
    """Exact mean value over all ``n!`` orders: each ordered pair is adjacent with probability
    ``1 / n`` summed over slots, each unordered pair comes either way round with probability 1/2."""
    n = objective.n
    if n == 0:
        return 0.0
    return float(
        objective.follows.sum() / n
        + objective.precedes.sum() / 2
        + objective.first.mean()
        + objective.last.mean()
    )


def term_values(objective: Objective, orders: np.ndarray) -> np.ndarray:
    """The adjacency, precedence and first/last parts of each order's value, shape (m, 3); they sum
    to :func:`order_values`."""
    n = objective.n
    zeros, flat = np.zeros((n, n)), np.zeros(n)
    parts = (Objective(objective.follows, zeros, flat, flat), Objective(zeros, objective.precedes, flat, flat),
             Objective(zeros, zeros, objective.first, objective.last))
    return np.stack([order_values(part, orders) for part in parts], axis=1)


def value_tolerance(value: float) -> float:
    """How far apart two objective values (or probabilities) near ``value`` must be to count as different."""
    return 1e-9 * max(1.0, abs(value))
