"""Exact search by enumeration: every feasible order of at most ``BRUTE_FORCE_MAX_N`` blocks."""

from __future__ import annotations

import itertools

import numpy as np

from ...errors import InvalidInputError
from ...objective import Objective
from ..constraints import Constraints
from ..problem import Solution, _Problem, _problem, _solution, _trivial

__all__ = ["BRUTE_FORCE_MAX_N", "solve_brute_force"]

#: ``solve_brute_force`` refuses more blocks than this (8! = 40320 orders).
BRUTE_FORCE_MAX_N = 8


def _enumerate(prob: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """Every feasible block order and its value, best first (ties: lexicographic order)."""
    nb = prob.nb
    perms = np.array(list(itertools.permutations(range(nb))), dtype=np.intp).reshape(-1, nb)
    if prob.edges:
        pos = np.argsort(perms, axis=1)
        keep = np.ones(len(perms), dtype=bool)
        for a, b in prob.edges:
            keep &= pos[:, a] < pos[:, b]
        perms = perms[keep]
    F, P = prob.F, prob.P
    values = F[nb, perms[:, 0]] + F[perms[:, -1], nb]
    for k in range(nb - 1):
        values = values + F[perms[:, k], perms[:, k + 1]]
        for m in range(k + 1, nb):
            values = values + P[perms[:, k], perms[:, m]]
    best_first = np.argsort(-values, kind="stable")
    return perms[best_first], values[best_first]


def _k_best_brute_force(objective: Objective, prob: _Problem, k: int) -> list[Solution]:
    """The ``k`` best feasible orders (all of them when fewer), best first; ``prob.nb >= 2``."""
    orders, _ = _enumerate(prob)
    return [
        _solution(objective, prob, o, optimal=True, bound=None, method="brute-force")
        for o in orders[:k]
    ]


def solve_brute_force(objective: Objective, constraints: Constraints | None = None) -> Solution:
    """Exact, by evaluating every order; at most ``BRUTE_FORCE_MAX_N`` blocks.

    Ties go to the lexicographically smallest order of blocks. Meant for tests and tiny examples.

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    constraints : Constraints or None
        Hard constraints; ``InvalidInputError`` if unsatisfiable.

    Returns
    -------
    Solution
        ``optimal=True``, ``method="brute-force"``.
    """
    objective, prob = _problem(objective, constraints)
    if prob.nb > BRUTE_FORCE_MAX_N:
        raise InvalidInputError(
            f"brute force handles at most {BRUTE_FORCE_MAX_N} units (blocks), got {prob.nb}; "
            "use solve_dp or solve"
        )
    if prob.nb <= 1:
        return _trivial(objective, prob, "brute-force")
    orders, _ = _enumerate(prob)
    return _solution(objective, prob, orders[0], optimal=True, bound=None, method="brute-force")
