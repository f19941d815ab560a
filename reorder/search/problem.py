"""The problem every solver searches (groups contracted to blocks), its solutions, input checks."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..objective import Objective
from .constraints import Constraints

__all__ = ["Solution"]


@dataclass(frozen=True)
class Solution:
    """An order found by a solver.

    Attributes
    ----------
    order : list of int
        A permutation of ``range(n)``; ``order[k]`` is the unit at position ``k``.
    value : float
        ``Objective.value(order)``, recomputed in float64.
    optimal : bool
        Proven optimal (for CP-SAT: for the scores rounded to multiples of ``1 / CPSAT_SCALE``).
        In :func:`k_best` lists: proven best among the orders not listed before it.
    bound : float or None
        Proven upper bound on the value of any order (``== value`` when ``optimal``); None when
        the solver proves nothing.
    method : str
        What produced the order: ``"dp"``, ``"cpsat"``, ``"heuristic"``, ``"heuristic+cpsat"``
        (heuristic order, CP-SAT bound), ``"brute-force"`` or ``"trivial"``.
    """

    order: list[int]
    value: float
    optimal: bool
    bound: float | None
    method: str


# --------------------------------------------------------------------------------------------
# Input helpers
# --------------------------------------------------------------------------------------------


def _check_objective(objective: Any) -> Objective:
    if not isinstance(objective, Objective):
        raise InvalidInputError(
            f"objective must be a reorder.search.Objective, got {type(objective).__name__}"
        )
    return objective


def _check_constraints(constraints: Any) -> Constraints:
    if constraints is None:
        return Constraints()
    if not isinstance(constraints, Constraints):
        raise InvalidInputError(
            "constraints must be a reorder.search.Constraints or None, "
            f"got {type(constraints).__name__}"
        )
    return constraints


# --------------------------------------------------------------------------------------------
# The reduced problem: groups contracted to blocks
# --------------------------------------------------------------------------------------------


class _Problem:
    """The objective over *blocks* (groups and single units), which every solver searches.

    ``F`` is the augmented adjacency matrix of shape (nb + 1, nb + 1): index ``nb`` is a dummy
    start/end node, ``F[nb, b]`` is the first-score of block ``b`` and ``F[b, nb]`` its last-score,
    so an order's adjacency + first + last value is the score of the cycle dummy -> order -> dummy.
    ``P`` (nb, nb) sums ``precedes`` over member pairs. Contraction is exact: the value of a block
    order equals the value of its expansion minus ``internal`` (the fixed within-group value).
    """

    def __init__(self, objective: Objective, constraints: Constraints) -> None:
        n = objective.n
        constraints.check(n)
        blocks, block_of, edges = constraints._structure(n)
        nb = len(blocks)
        self.n, self.nb, self.blocks = n, nb, blocks
        heads = np.array([b[0] for b in blocks], dtype=np.intp)
        tails = np.array([b[-1] for b in blocks], dtype=np.intp)
        self.heads = heads
        F = np.zeros((nb + 1, nb + 1))
        F[:nb, :nb] = objective.follows[np.ix_(tails, heads)]
        np.fill_diagonal(F, 0.0)
        F[nb, :nb] = objective.first[heads]
        F[:nb, nb] = objective.last[tails]
        self.F = F
        internal = 0.0
        if nb == n:
            P = objective.precedes  # already zero on the diagonal; read-only, never written
        else:
            members = np.concatenate([np.array(b, dtype=np.intp) for b in blocks])
            starts = np.cumsum([0] + [len(b) for b in blocks[:-1]])
            permuted = objective.precedes[np.ix_(members, members)]
            P = np.add.reduceat(np.add.reduceat(permuted, starts, axis=0), starts, axis=1)
            np.fill_diagonal(P, 0.0)
            for b in blocks:
                if len(b) > 1:
                    g = np.array(b, dtype=np.intp)
                    internal += objective.follows[g[:-1], g[1:]].sum()
                    internal += np.triu(objective.precedes[np.ix_(g, g)], 1).sum()
        self.P = P
        self.internal = float(internal)
        self.edges = sorted(edges)
        if edges:
            must = np.zeros((nb, nb), dtype=bool)
            a, b = np.array(self.edges).T
            must[a, b] = True
            self.must: np.ndarray | None = must
        else:
            self.must = None
        self.first_block = None if constraints.first is None else int(block_of[constraints.first])
        self.last_block = None if constraints.last is None else int(block_of[constraints.last])
        self._D: np.ndarray | None = None
        # Moves must gain more than float noise, or local search could cycle on equal values.
        magnitude = max(float(np.abs(F).max(initial=0.0)), float(np.abs(P).max(initial=0.0)))
        self.eps = 1e-9 * max(1.0, magnitude)

    @property
    def D(self) -> np.ndarray:
        """(nb, nb): ``D[u, w] = P[w, u] - P[u, w]``, the gain of moving ``u`` from before ``w``
        to after it."""
        if self._D is None:
            self._D = self.P.T - self.P
        return self._D

    def expand(self, block_order: Sequence[int] | np.ndarray) -> list[int]:
        return [u for b in block_order for u in self.blocks[int(b)]]

    def block_order_of(self, order: np.ndarray) -> np.ndarray:
        """The block order that a unit order suggests (blocks sorted by their head's position)."""
        pos = np.empty(self.n, dtype=np.intp)
        pos[order] = np.arange(self.n)
        return np.argsort(pos[self.heads], kind="stable")

    def feasible(self, block_order: np.ndarray) -> bool:
        if not self.edges:
            return True
        pos = np.empty(self.nb, dtype=np.intp)
        pos[block_order] = np.arange(self.nb)
        a, b = np.array(self.edges).T
        return bool(np.all(pos[a] < pos[b]))

    def value(self, block_order: np.ndarray) -> float:
        """Value of a block order, without ``internal``."""
        o = np.asarray(block_order, dtype=np.intp)
        nb = self.nb
        total = self.F[nb, o[0]] + self.F[o[-1], nb] + self.F[o[:-1], o[1:]].sum()
        total += np.triu(self.P[np.ix_(o, o)], 1).sum()
        return float(total)


def _problem(objective: Any, constraints: Any) -> tuple[Objective, _Problem]:
    objective = _check_objective(objective)
    return objective, _Problem(objective, _check_constraints(constraints))


def _solution(
    objective: Objective,
    prob: _Problem,
    block_order: Sequence[int] | np.ndarray,
    *,
    optimal: bool,
    bound: float | None,
    method: str,
) -> Solution:
    order = prob.expand(block_order)
    value = objective.value(order)
    if optimal:
        bound = value
    elif bound is not None:
        bound = max(bound, value)
    return Solution(order=order, value=value, optimal=optimal, bound=bound, method=method)


def _trivial(objective: Objective, prob: _Problem, method: str) -> Solution:
    return _solution(objective, prob, range(prob.nb), optimal=True, bound=None, method=method)


def _borda_start(prob: _Problem) -> np.ndarray:
    """Units by net precedence score (sum_j P[i, j] - P[j, i]), highest first, ties by index;
    with constraints, the highest-scoring ready block at each step (Kahn's algorithm). A feasible
    block order: the heuristic's first start and CP-SAT's fallback."""
    score = prob.P.sum(axis=1) - prob.P.sum(axis=0)
    if prob.must is None:
        return np.argsort(-score, kind="stable")
    indegree = prob.must.sum(axis=0)
    heap = [(-score[b], b) for b in range(prob.nb) if indegree[b] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, a = heapq.heappop(heap)
        order.append(a)
        for b in np.flatnonzero(prob.must[a]):
            indegree[b] -= 1
            if indegree[b] == 0:
                heapq.heappush(heap, (-score[b], int(b)))
    return np.array(order, dtype=np.intp)
