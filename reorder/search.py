"""Search: find the order of units that maximises a pairwise ordering objective.

An *order* is a permutation ``o`` of ``range(n)``. Its value under an :class:`Objective` is::

    value(o) = sum_k follows[o[k], o[k+1]]          # adjacency: o[k+1] right after o[k]
             + sum_{k<l} precedes[o[k], o[l]]       # precedence: o[k] anywhere before o[l]
             + first[o[0]] + last[o[-1]]

Scores are log-probability-like finite floats; diagonals are ignored. :class:`Constraints`
(a fixed first or last unit, ``a`` before ``b``, groups kept contiguous and in order) are hard:
every solver returns an order that satisfies them, or raises ``InvalidInputError`` when no order
can.

Which solver to use when
------------------------
- :func:`solve` with ``method="auto"`` (the default) picks for you: exact subset DP up to
  ``AUTO_DP_MAX_N`` units, otherwise the heuristic followed by CP-SAT warm-started from it.
- :func:`solve_dp`: exact Held-Karp style DP over subsets, ``O(2^n n^2)`` time and
  ``O(2^n n)`` memory; about 0.1 s at n = 16, 0.5 s at n = 18, 2-3 s and ~270 MB at n = 20
  (the limit).
- :func:`solve_cpsat`: OR-Tools CP-SAT; proves optimality of structured instances well beyond
  the DP's reach (planted n = 40: ~1.6 s cold, ~0.6 s from a good hint, on a busy 2-core machine),
  but on noisy scores it rarely proves anything beyond n ~ 20-25 and then only polishes its hint.
  Builds a model of ``O(n^3)`` clauses (0.2 s at n = 40, ~0.4 s at n = 80). Without adjacency
  scores (``follows`` all zero) it builds a smaller linear ordering model, which proves the
  shipped model's news-dev objectives of n = 40 in ~0.1 s and of n = 60 in ~0.3-1 s.
- :func:`solve_heuristic`: beam search, local search (block moves, swaps) and iterated local
  search until ``time_limit``; anytime, no proof; the only choice for hundreds or thousands of
  units.
- :func:`solve_brute_force`: all orders; up to ``BRUTE_FORCE_MAX_N`` units; for tests and docs.
- :func:`k_best`: the k best distinct orders (exact for small n, good faith beyond; see there).

All solvers share one shape: ``solve_x(objective, constraints=None, *, ...) -> Solution``.
Groups are contracted to single *blocks* before any search (an exact reduction), so the size
limits of the exact solvers count blocks, not units.

Determinism: the same input gives the same output. Ties are broken by a fixed rule (brute force:
the lexicographically smallest order of blocks; DP: the lowest-index predecessor). The heuristic
uses a seeded generator and CP-SAT a fixed seed with one worker, but both are anytime searches
cut by a wall-clock limit: their output is reproducible when the search ends on its own (local
optimum reached and no improvement in ``ILS_STALL_KICKS`` kicks, or ``AUTO_ILS_STALL_KICKS``
before a linear ordering CP-SAT model; CP-SAT proves optimality) before ``time_limit``, and may
otherwise depend on the machine's speed.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reorder.errors import InvalidInputError, ReorderError
from reorder.objective import Objective
from reorder.validation import (
    check_index as _unit,
    check_non_negative_int as _non_negative_int,
    check_optional_index as _optional_unit,
    check_permutation as _as_permutation,
    check_sequence as _iterable,
    check_time_limit as _check_time_limit,
)

__all__ = [
    "AUTO_DP_MAX_N",
    "BRUTE_FORCE_MAX_N",
    "CPSAT_AUTO_MAX_N",
    "CPSAT_SCALE",
    "DP_MAX_N",
    "METHODS",
    "Constraints",
    "Objective",
    "Solution",
    "k_best",
    "solve",
    "solve_brute_force",
    "solve_cpsat",
    "solve_dp",
    "solve_heuristic",
]

#: ``solve(method="auto")`` uses the exact DP up to this many blocks.
AUTO_DP_MAX_N = 18
#: ``solve_dp`` refuses more blocks than this (2^20 * 20 states: ~250 MB, a few seconds).
DP_MAX_N = 20
#: ``solve_brute_force`` refuses more blocks than this (8! = 40320 orders).
BRUTE_FORCE_MAX_N = 8
#: ``solve(method="auto")`` and ``k_best`` skip CP-SAT above this many blocks: its model has
#: O(n^3) clauses (seconds to build at n ~ 100) and it cannot prove noisy instances that large.
CPSAT_AUTO_MAX_N = 80
#: CP-SAT needs integer coefficients: scores are multiplied by this and rounded.
CPSAT_SCALE = 1000.0
#: Up to this many blocks CP-SAT gets every "betweenness" clause (n^3 of them); beyond, only those
#: of the ``CPSAT_BETWEENNESS_TOP`` best successors of each block and of the hint's arcs.
CPSAT_BETWEENNESS_FULL_MAX_N = 50
CPSAT_BETWEENNESS_TOP = 5
#: k-best DP keeps 2^n * n * k states; above this it hands over to CP-SAT with no-good cuts.
KBEST_DP_MAX_STATES = 1 << 24
#: Heuristic: beam width, largest instance that gets a real beam (beyond: greedy, width 1),
#: largest instance that gets the O(n^2)-per-step swap neighbourhood, longest moved block.
BEAM_WIDTH = 16
BEAM_MAX_N = 300
SWAP_MAX_N = 150
BLOCK_MOVE_MAX_LEN = 3
BLOCK_MOVE_MAX_N = 400
#: Iterated local search stops after this many kicks in a row without improvement.
ILS_STALL_KICKS = 100
#: Under ``solve(method="auto")`` and ``k_best``, when the CP-SAT model that takes over is the
#: linear ordering one (no adjacency scores), the ILS stops after this many: that model proves
#: news-dev objectives of n <= 60 within the second from the local optimum; the circuit model
#: needs the ILS's better hint (with 10, 5 of 20 n = 40 answers were worse under the old weights).
AUTO_ILS_STALL_KICKS = 10
#: Share of ``time_limit`` that ``solve(method="auto")`` gives the heuristic before CP-SAT.
AUTO_HEURISTIC_SHARE = 0.3

#: Accepted values of ``solve(method=...)``.
METHODS = ("auto", "dp", "cpsat", "heuristic", "brute-force")


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraints:
    """Hard constraints on the order. Units are indices into ``range(n)``.

    Parameters
    ----------
    first : int or None
        This unit must come first.
    last : int or None
        This unit must come last.
    before : tuple of (int, int)
        ``(a, b)``: ``a`` must come somewhere before ``b``.
    groups : tuple of tuple of int
        Each group must stay contiguous, its members in the given order. A unit belongs to at most
        one group.

    Lists are accepted and stored as tuples. :meth:`check` says whether the constraints can be
    met by some order of ``n`` units.
    """

    first: int | None = None
    last: int | None = None
    before: tuple[tuple[int, int], ...] = ()
    groups: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "first", _optional_unit(self.first, "first"))
        object.__setattr__(self, "last", _optional_unit(self.last, "last"))
        pairs = []
        for pair in _iterable(self.before, "before"):
            items = tuple(_iterable(pair, "each pair of before"))
            if len(items) != 2:
                raise InvalidInputError(f"each pair of before must be (a, b), got {pair!r}")
            pairs.append((_unit(items[0], "before"), _unit(items[1], "before")))
        object.__setattr__(self, "before", tuple(pairs))
        groups = tuple(
            tuple(_unit(u, "groups") for u in _iterable(group, "each group"))
            for group in _iterable(self.groups, "groups")
        )
        object.__setattr__(self, "groups", groups)

    @property
    def empty(self) -> bool:
        """True when nothing is constrained."""
        return self.first is None and self.last is None and not self.before and not self.groups

    def check(self, n: int) -> None:
        """Raise ``InvalidInputError`` unless some order of ``n`` units satisfies the constraints.

        Checks ranges, malformed entries (``a`` before ``a``, empty groups, a unit in two groups,
        ``first == last`` with ``n > 1``) and contradictions: a cycle among ``before``, group orders
        and first/last, or a first (last) unit inside a group that it does not open (close).
        The test is exact: contracting each group to one block, the constraints are satisfiable
        if and only if the implied precedence graph on blocks is acyclic.
        """
        blocks, _, edges = self._structure(n)
        indegree = [0] * len(blocks)
        successors: list[list[int]] = [[] for _ in blocks]
        for a, b in edges:
            successors[a].append(b)
            indegree[b] += 1
        ready = [b for b in range(len(blocks)) if indegree[b] == 0]
        seen = 0
        while ready:
            a = ready.pop()
            seen += 1
            for b in successors[a]:
                indegree[b] -= 1
                if indegree[b] == 0:
                    ready.append(b)
        if seen < len(blocks):
            stuck = sorted(u for b in range(len(blocks)) if indegree[b] > 0 for u in blocks[b])
            shown = ", ".join(map(str, stuck[:10])) + (", ..." if len(stuck) > 10 else "")
            raise InvalidInputError(
                "the constraints contradict each other: before/first/last/groups form a cycle "
                f"among units {shown}; remove one of the conflicting constraints"
            )

    def satisfied_by(self, order: Sequence[int] | np.ndarray) -> bool:
        """Whether ``order`` (a permutation of ``range(len(order))``) meets every constraint."""
        o = _as_permutation(order, len(order), "order")
        n = len(o)
        self._check_ranges(n)
        pos = np.empty(n, dtype=np.intp)
        pos[o] = np.arange(n)
        if self.first is not None and pos[self.first] != 0:
            return False
        if self.last is not None and pos[self.last] != n - 1:
            return False
        if any(pos[a] >= pos[b] for a, b in self.before):
            return False
        return all(pos[g[i + 1]] == pos[g[i]] + 1 for g in self.groups for i in range(len(g) - 1))

    # -- internals ---------------------------------------------------------------------------

    def _check_ranges(self, n: int) -> None:
        n = _non_negative_int(n, "n")

        def in_range(u: int, where: str) -> None:
            if not 0 <= u < n:
                raise InvalidInputError(f"{where} refers to unit {u}, outside range({n})")

        if self.first is not None:
            in_range(self.first, "first")
        if self.last is not None:
            in_range(self.last, "last")
        if n > 1 and self.first is not None and self.first == self.last:
            raise InvalidInputError(f"first and last are both unit {self.first}, with n = {n} > 1")
        for a, b in self.before:
            in_range(a, "before")
            in_range(b, "before")
            if a == b:
                raise InvalidInputError(f"before contains ({a}, {a}): a unit cannot precede itself")
        owner: dict[int, int] = {}
        for index, group in enumerate(self.groups):
            if not group:
                raise InvalidInputError(f"group {index} is empty; a group needs at least one unit")
            for u in group:
                in_range(u, f"group {index}")
                if u in owner:
                    which = "twice in" if owner[u] == index else f"in group {owner[u]} and in"
                    raise InvalidInputError(f"unit {u} appears {which} group {index}")
                owner[u] = index

    def _structure(self, n: int) -> tuple[list[tuple[int, ...]], np.ndarray, set[tuple[int, int]]]:
        """Blocks (groups and singletons, numbered by their smallest-index first encounter),
        the block of each unit, and the precedence edges between blocks implied by
        ``before``/``first``/``last``. Raises on malformed or locally contradictory input."""
        self._check_ranges(n)
        group_of = {u: g for g, group in enumerate(self.groups) for u in group}
        blocks: list[tuple[int, ...]] = []
        block_of = np.full(n, -1, dtype=np.intp)
        slot = np.zeros(n, dtype=np.intp)
        for u in range(n):
            if block_of[u] >= 0:
                continue
            members = self.groups[group_of[u]] if u in group_of else (u,)
            for i, v in enumerate(members):
                block_of[v] = len(blocks)
                slot[v] = i
            blocks.append(tuple(members))
        edges: set[tuple[int, int]] = set()
        for a, b in self.before:
            if block_of[a] == block_of[b]:
                if slot[a] > slot[b]:
                    raise InvalidInputError(
                        f"before ({a}, {b}) contradicts the order of their group "
                        f"{blocks[block_of[a]]}"
                    )
            else:
                edges.add((int(block_of[a]), int(block_of[b])))
        nb = len(blocks)
        if self.first is not None:
            f = self.first
            if slot[f] != 0:
                raise InvalidInputError(
                    f"first = {f} is inside group {blocks[block_of[f]]} but does not open it"
                )
            edges.update((int(block_of[f]), b) for b in range(nb) if b != block_of[f])
        if self.last is not None:
            e = self.last
            if slot[e] != len(blocks[block_of[e]]) - 1:
                raise InvalidInputError(
                    f"last = {e} is inside group {blocks[block_of[e]]} but does not close it"
                )
            edges.update((b, int(block_of[e])) for b in range(nb) if b != block_of[e])
        return blocks, block_of, edges


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


# --------------------------------------------------------------------------------------------
# Brute force
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Subset dynamic programming (Held-Karp)
# --------------------------------------------------------------------------------------------


def _subset_sums(rows: np.ndarray) -> np.ndarray:
    """Table of shape (2^r, n) for ``rows`` of shape (r, n): entry ``[mask, j]`` is the sum of
    ``rows[i, j]`` over the bits ``i`` of ``mask``."""
    table = np.zeros((1, rows.shape[1]))
    for row in rows:
        table = np.concatenate((table, table + row))
    return table


def _subset_dp(prob: _Problem, k: int) -> list[np.ndarray]:
    """The ``k`` best distinct feasible block orders (fewer if fewer exist), best first.

    State ``(mask, j, r)``: the ``r``-th best order of the block set ``mask`` ending in ``j``.
    Appending ``j`` to a prefix set ``mask`` ending in ``i`` adds ``F[i, j] + sum_{m in mask}
    P[m, j]``; it is allowed when every required predecessor of ``j`` is in ``mask``. Masks are
    processed by popcount layer, in chunks, all transitions of a chunk in one numpy expression.
    """
    nb = prob.nb
    dummy = nb
    F = np.ascontiguousarray(prob.F[:nb, :nb])
    P = np.asarray(prob.P, dtype=np.float64)
    size = 1 << nb
    bits = np.left_shift(np.int64(1), np.arange(nb, dtype=np.int64))
    pred = np.zeros(nb, dtype=np.int64)
    for a, b in prob.edges:
        pred[b] |= bits[a]

    V = np.full((size, nb, k), -np.inf)
    parent = np.full((size, nb, k), -1, dtype=np.int16 if nb * k < 2**15 else np.int32)
    for j in range(nb):
        if pred[j] == 0:
            V[bits[j], j, 0] = prob.F[dummy, j]

    masks = np.arange(size, dtype=np.int64)
    popcount = np.zeros(size, dtype=np.int8)
    for b in range(nb):
        popcount += ((masks >> b) & 1).astype(np.int8)
    by_layer = np.argsort(popcount, kind="stable")
    offsets = np.concatenate(([0], np.cumsum(np.bincount(popcount, minlength=nb + 1))))
    del masks, popcount
    # sum_{i in mask} P[i, j] = low[mask & low_mask, j] + high[mask >> half, j]: two small tables.
    half = nb // 2
    low, high = _subset_sums(P[:half]), _subset_sums(P[half:])
    low_mask = (1 << half) - 1
    chunk = max(1, (1 << 21) // (nb * nb * k))
    flat_V = V.reshape(size, nb * k)

    for c in range(1, nb):
        layer = by_layer[offsets[c] : offsets[c + 1]]
        for s in range(0, len(layer), chunk):
            M = layer[s : s + chunk]
            VM = flat_V[M]  # (m, nb * k): column i * k + r
            if k == 1:
                # Running max over the previous block i: nb elementwise passes beat an argmax
                # over a short axis; strict ">" keeps the lowest index on ties.
                best = VM[:, 0:1] + F[0]
                idx = np.zeros(best.shape, dtype=parent.dtype)
                for i in range(1, nb):
                    candidate = VM[:, i : i + 1] + F[i]
                    idx[candidate > best] = i
                    np.maximum(best, candidate, out=best)
                best, idx = best[:, None, :], idx[:, None, :]
            else:
                # T[row, i * k + r, j]: r-th best order of M[row] ending in i, then j appended.
                T = (VM.reshape(-1, nb, k)[:, :, :, None] + F[None, :, None, :]).reshape(
                    len(M), nb * k, nb
                )
                idx = np.argpartition(-T, k - 1, axis=1)[:, :k, :]
                rank = np.argsort(-np.take_along_axis(T, idx, axis=1), axis=1, kind="stable")
                idx = np.take_along_axis(idx, rank, axis=1)
                best = np.take_along_axis(T, idx, axis=1)  # (m, k, nb)
            member = (M[:, None] & bits[None, :]) != 0
            valid = ~member & ((M[:, None] & pred[None, :]) == pred[None, :])
            rows, js = np.nonzero(valid)
            gain = low[M[rows] & low_mask, js] + high[M[rows] >> half, js]
            targets = M[rows] | bits[js]
            V[targets, js, :] = best[rows, :, js] + gain[:, None]
            parent[targets, js, :] = idx[rows, :, js]

    final = (V[size - 1] + prob.F[:nb, dummy][:, None]).ravel()  # index j * k + r
    ranked = np.argsort(-final, kind="stable")[:k]
    orders = []
    for flat in ranked:
        if not np.isfinite(final[flat]):
            break
        j, r = divmod(int(flat), k)
        mask = size - 1
        sequence = []
        while True:
            sequence.append(j)
            code = int(parent[mask, j, r])
            mask ^= 1 << j
            if code < 0:
                break
            j, r = divmod(code, k)
        orders.append(np.array(sequence[::-1], dtype=np.intp))
    return orders


def solve_dp(objective: Objective, constraints: Constraints | None = None) -> Solution:
    """Exact Held-Karp style subset DP, vectorised in numpy; at most ``DP_MAX_N`` blocks.

    ``O(2^n n^2)`` time, ``O(2^n n)`` memory (float64 values and int16 parent pointers): about
    0.1 s at n = 16, 0.5 s at n = 18 and 2-3 s / ~250 MB at n = 20 on one core.

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    constraints : Constraints or None
        Hard constraints, honoured exactly; ``InvalidInputError`` if unsatisfiable.

    Returns
    -------
    Solution
        ``optimal=True``, ``method="dp"``.
    """
    objective, prob = _problem(objective, constraints)
    if prob.nb > DP_MAX_N:
        raise InvalidInputError(
            f"the DP handles at most {DP_MAX_N} units (blocks), got {prob.nb}: its memory grows "
            "as 2^n; use solve(method='auto'), solve_cpsat or solve_heuristic"
        )
    if prob.nb <= 1:
        return _trivial(objective, prob, "dp")
    (best,) = _subset_dp(prob, 1)
    return _solution(objective, prob, best, optimal=True, bound=None, method="dp")


# --------------------------------------------------------------------------------------------
# Heuristic: beam search, local search, iterated local search
# --------------------------------------------------------------------------------------------


def _borda_start(prob: _Problem) -> np.ndarray:
    """Units by net precedence score (sum_j P[i, j] - P[j, i]), highest first, ties by index;
    with constraints, the highest-scoring ready block at each step (Kahn's algorithm)."""
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


def _beam_start(prob: _Problem, width: int, deadline: float) -> np.ndarray | None:
    """Beam search building the order left to right; None if the deadline passes first.

    A partial order's score counts the adjacencies and first-score placed so far plus every
    precedence pair it already decides: pairs inside the prefix and (prefix, rest) pairs, all of
    which have the prefix first. So appending ``j`` adds
    ``F[last, j] + sum_{r in rest - j} P[j, r]``.
    States with the same set and last block are merged (only the best is kept).
    """
    nb = prob.nb
    F, P, must = prob.F, prob.P, prob.must
    score = np.zeros(1)
    last = np.array([nb], dtype=np.intp)
    placed = np.zeros((1, nb), dtype=bool)
    out_rest = P.sum(axis=1)[None, :]  # out_rest[w, j] = sum_{r in rest of w} P[j, r]
    waiting = None if must is None else must.sum(axis=0)[None, :].astype(np.int64)
    sequences = np.zeros((1, 0), dtype=np.intp)
    for step in range(nb):
        if time.perf_counter() > deadline:
            return None
        cand = score[:, None] + F[last, :nb] + out_rest
        if step == nb - 1:
            cand = cand + F[:nb, nb][None, :]
        blocked = placed if waiting is None else placed | (waiting > 0)
        cand[blocked] = -np.inf
        flat = cand.ravel()
        keys = [row.tobytes() for row in placed] if step >= 2 else None
        chosen: list[int] = []
        seen: set[tuple[bytes, int]] = set()
        for f in np.argsort(-flat, kind="stable"):
            if not np.isfinite(flat[f]):
                break
            w, j = divmod(int(f), nb)
            if keys is not None:
                key = (keys[w], j)
                if key in seen:
                    continue
                seen.add(key)
            chosen.append(int(f))
            if len(chosen) == width:
                break
        ws, js = np.divmod(np.array(chosen, dtype=np.intp), nb)
        score = flat[chosen]
        last = js
        placed = placed[ws]
        placed[np.arange(len(js)), js] = True
        out_rest = out_rest[ws] - P[:, js].T
        if waiting is not None:
            waiting = waiting[ws] - must[js]
        sequences = np.column_stack((sequences[ws], js))
    return sequences[int(np.argmax(score))]


class _LocalSearch:
    """Block moves (a run of 1..L consecutive blocks moved elsewhere), pairwise swaps, and
    kicks for iterated local search. Only moves that keep every precedence edge are made.

    A block move's gain over all target gaps is computed at once: removing the run and closing
    the gap, inserting between every neighbour pair of the remainder (vectorised), and the
    precedence change as a cumulative sum of ``D`` over the blocks passed.
    """

    def __init__(self, prob: _Problem) -> None:
        self.prob = prob
        self.nb = prob.nb
        self.F = prob.F
        self.D = prob.D
        self.must = prob.must
        self.must_t = None if prob.must is None else np.ascontiguousarray(prob.must.T)
        self.eps = prob.eps
        max_len = BLOCK_MOVE_MAX_LEN if self.nb <= BLOCK_MOVE_MAX_N else 1
        self.max_len = min(max_len, self.nb - 1)
        self.use_swaps = self.nb <= SWAP_MAX_N
        if self.use_swaps:
            self.pairs = np.triu_indices(self.nb, 1)

    def move_gains(
        self, order: np.ndarray, p: int, L: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gain of moving ``order[p:p+L]`` into each gap ``g`` of the remainder (``-inf``: not
        allowed or no move), the remainder, and the run."""
        F, dummy = self.F, self.nb
        run = order[p : p + L]
        rest = np.concatenate((order[:p], order[p + L :]))
        ring = np.empty(len(rest) + 2, dtype=np.intp)
        ring[0] = ring[-1] = dummy
        ring[1:-1] = rest
        head, tail = run[0], run[-1]
        left, right = ring[:-1], ring[1:]
        gains = F[left, head] + F[tail, right] - F[left, right]
        gains += F[ring[p], ring[p + 1]] - F[ring[p], head] - F[tail, ring[p + 1]]
        passed = self.D[head] if L == 1 else self.D[run].sum(axis=0)
        cumulative = np.zeros(len(rest) + 1)
        np.cumsum(passed[rest], out=cumulative[1:])
        gains += cumulative - cumulative[p]
        gains[p] = -np.inf
        if self.must is not None:
            ahead = self.must[head] if L == 1 else self.must[run].any(axis=0)
            hits = np.flatnonzero(ahead[rest[p:]])
            if len(hits):
                gains[p + hits[0] + 1 :] = -np.inf
            behind = self.must_t[head] if L == 1 else self.must_t[run].any(axis=0)
            hits = np.flatnonzero(behind[rest[:p]])
            if len(hits):
                gains[: hits[-1] + 1] = -np.inf
        return gains, rest, run

    def block_pass(self, order: np.ndarray, L: int, deadline: float) -> tuple[np.ndarray, bool]:
        improved = False
        for p in range(self.nb - L + 1):
            if time.perf_counter() > deadline:
                break
            gains, rest, run = self.move_gains(order, p, L)
            g = int(np.argmax(gains))
            if gains[g] > self.eps:
                order = np.concatenate((rest[:g], run, rest[g:]))
                improved = True
        return order, improved

    def swap_step(self, order: np.ndarray) -> tuple[np.ndarray, bool]:
        """Apply the best improving swap of two blocks, if any (all pairs, O(n^2))."""
        F, dummy = self.F, self.nb
        ps, qs = self.pairs
        M = self.D[np.ix_(order, order)]
        R = np.cumsum(M, axis=1)
        # u = order[p] moves after order[p+1..q-1] and v = order[q]; v moves before them.
        gains = (R[ps, qs - 1] - R[ps, ps]) - (R[qs, qs - 1] - R[qs, ps]) + M[ps, qs]
        ring = np.concatenate(([dummy], order, [dummy]))
        u, v = order[ps], order[qs]
        a, b, c, d = ring[ps], ring[ps + 2], ring[qs], ring[qs + 2]
        adjacent = qs == ps + 1
        gains += np.where(
            adjacent,
            F[a, v] + F[v, u] + F[u, d] - F[a, u] - F[u, v] - F[v, d],
            F[a, v] + F[v, b] + F[c, u] + F[u, d] - F[a, u] - F[u, b] - F[c, v] - F[v, d],
        )
        if self.must is not None:
            Mu = self.must[np.ix_(order, order)].astype(np.int32)
            rows = np.cumsum(Mu, axis=1)
            cols = np.vstack((np.zeros((1, self.nb), dtype=np.int32), np.cumsum(Mu, axis=0)))
            forward = rows[ps, qs] - rows[ps, ps]  # u must precede something it would pass
            backward = cols[qs, qs] - cols[ps, qs]  # something v would pass must precede v
            gains[(forward > 0) | (backward > 0)] = -np.inf
        best = int(np.argmax(gains))
        if not gains[best] > self.eps:
            return order, False
        order = order.copy()
        p, q = ps[best], qs[best]
        order[p], order[q] = order[q], order[p]
        return order, True

    def descend(self, order: np.ndarray, deadline: float) -> np.ndarray:
        """Local search to a local optimum of all neighbourhoods (or the deadline)."""
        while time.perf_counter() <= deadline:
            improved = False
            for L in range(1, self.max_len + 1):
                order, moved = self.block_pass(order, L, deadline)
                improved |= moved
            if not improved and self.use_swaps:
                order, improved = self.swap_step(order)
            if not improved:
                break
        return order

    def kick(self, order: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Two random feasible block moves of a random run length (a double-bridge-like kick)."""
        longest = max(1, min(self.nb // 4, 8, self.nb - 1))
        for _ in range(2):
            L = int(rng.integers(1, longest + 1))
            p = int(rng.integers(0, self.nb - L + 1))
            gains, rest, run = self.move_gains(order, p, L)
            allowed = np.flatnonzero(np.isfinite(gains))
            if len(allowed):
                g = int(allowed[rng.integers(len(allowed))])
                order = np.concatenate((rest[:g], run, rest[g:]))
        return order

    def neighbours(self, order: np.ndarray, count: int) -> list[np.ndarray]:
        """Up to ``count`` distinct orders one single-block move away from ``order``, best first."""
        nb = self.nb
        gains = np.stack([self.move_gains(order, p, 1)[0] for p in range(nb)])
        flat = gains.ravel()
        finite = np.flatnonzero(np.isfinite(flat))
        # An adjacent swap is reachable by two moves: take twice as many, then deduplicate.
        take = min(len(finite), 2 * count)
        top = finite[np.argsort(-flat[finite], kind="stable")[:take]]
        out: list[np.ndarray] = []
        seen: set[bytes] = set()
        for f in top:
            p, g = divmod(int(f), nb)
            rest = np.concatenate((order[:p], order[p + 1 :]))
            candidate = np.concatenate((rest[:g], order[p : p + 1], rest[g:]))
            key = candidate.tobytes()
            if key not in seen:
                seen.add(key)
                out.append(candidate)
                if len(out) == count:
                    break
        return out


def _heuristic_order(
    prob: _Problem, deadline: float, seed: int, stall_kicks: int = ILS_STALL_KICKS
) -> np.ndarray:
    """The best block order that the heuristic finds before ``deadline`` or ``stall_kicks``
    kicks in a row without improvement (nb >= 2)."""
    starts = [_borda_start(prob)]
    width = BEAM_WIDTH if prob.nb <= BEAM_MAX_N else 1
    beam = _beam_start(prob, width, deadline)
    if beam is not None:
        starts.append(beam)
    values = [prob.value(s) for s in starts]
    best_start = int(np.argmax(values))  # ties: the Borda start
    search = _LocalSearch(prob)
    best = search.descend(starts[best_start], deadline)
    best_value = prob.value(best)
    current, current_value = best, best_value
    rng = np.random.default_rng(seed)
    stall = 0
    while stall < stall_kicks and time.perf_counter() < deadline:
        candidate = search.descend(search.kick(current, rng), deadline)
        value = prob.value(candidate)
        if value > best_value + prob.eps:
            best, best_value, stall = candidate, value, 0
            current, current_value = candidate, value
        else:
            stall += 1
            if value >= current_value - prob.eps:
                current, current_value = candidate, value  # drift along plateaus
            else:
                current, current_value = best, best_value
    return best


def solve_heuristic(
    objective: Objective,
    constraints: Constraints | None = None,
    *,
    time_limit: float = 1.0,
    seed: int = 0,
) -> Solution:
    """Anytime heuristic: beam search, local search, then iterated local search.

    Starts: a Borda order (net precedence score) and a beam search of width ``BEAM_WIDTH``
    (greedy, width 1, above ``BEAM_MAX_N`` blocks); the better one is improved by local search
    over moves of runs of 1..3 blocks (1 above ``BLOCK_MOVE_MAX_N``) and, up to ``SWAP_MAX_N``
    blocks, pairwise swaps; then iterated local search (two random run moves, descend, keep the
    best) until ``time_limit`` seconds have passed or ``ILS_STALL_KICKS`` kicks in a row brought
    nothing. Every move respects the constraints. Scales to thousands of units (at n = 2000 the
    budget goes to the starts and part of one local search pass).

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    constraints : Constraints or None
        Hard constraints, honoured exactly; ``InvalidInputError`` if unsatisfiable.
    time_limit : float
        Wall-clock budget in seconds (the starts are always completed for n <= ``BEAM_MAX_N``).
    seed : int
        Seed of the kicks' random generator.

    Returns
    -------
    Solution
        ``optimal=False``, ``bound=None``, ``method="heuristic"``.
    """
    started = time.perf_counter()
    time_limit = _check_time_limit(time_limit)
    seed = _unit(seed, "seed")
    objective, prob = _problem(objective, constraints)
    if prob.nb <= 1:
        return _trivial(objective, prob, "heuristic")
    order = _heuristic_order(prob, started + time_limit, seed)
    return _solution(objective, prob, order, optimal=False, bound=None, method="heuristic")


# --------------------------------------------------------------------------------------------
# CP-SAT
# --------------------------------------------------------------------------------------------


def _linear_ordering(prob: _Problem) -> bool:
    """Whether no adjacency score between blocks survives CP-SAT's rounding (see _CpsatModel)."""
    nb = prob.nb
    return not np.any(np.rint(prob.F[:nb, :nb] * CPSAT_SCALE))


def _stall_before_cpsat(prob: _Problem) -> int:
    """How many fruitless kicks the heuristic may make before CP-SAT takes over."""
    return AUTO_ILS_STALL_KICKS if _linear_ordering(prob) else ILS_STALL_KICKS


@dataclass
class _CpsatResult:
    order: np.ndarray | None  # block order, None when no solution was found
    optimal: bool
    infeasible: bool
    bound: float | None  # upper bound on block-order values (without prob.internal)


class _CpsatModel:
    """The CP-SAT model of a reduced problem, kept so that no-good cuts can be added.

    Variables: an arc literal for every ordered pair of nodes (blocks plus a dummy node closing
    the path into a circuit: dummy -> b means b is first, b -> dummy that b is last) under one
    ``AddCircuit``; when precedence matters, a literal ``x[i, j]`` (i before j) per pair with
    3-cycle transitivity clauses, arc i -> j implying i before j, the first (last) block before
    (after) all others, and betweenness clauses: arc i -> j and i before k imply j before k.
    The objective is the scores times ``CPSAT_SCALE``, rounded to integers.

    When no adjacency score between blocks survives the rounding (``follows`` all zero, as with
    the shipped model's tuned weights; within-group adjacencies are in ``prob.internal``), the
    problem is a linear ordering one and the model drops the circuit (``linear``): only the
    ``x[i, j]`` with their transitivity clauses, plus, where first (last) scores matter and no
    block is fixed there, a literal ``f[b]`` (``l[b]``) per block, exactly one true, ``f[b]``
    implying b before every other block (``l[b]``: after). Measured on the shipped model's
    news-dev objectives, from the heuristic's hint on 2 busy cores: n = 40 built in 0.04 s and
    proven in 0.04-0.06 s, where the circuit model took 0.15 s and 0.17 s to over 1 s.
    """

    def __init__(self, prob: _Problem, hint: np.ndarray | None) -> None:
        from ortools.sat.python import cp_model

        self.cp_model = cp_model
        self.prob = prob
        nb = prob.nb
        model = cp_model.CpModel()
        self.model = model
        Fi = np.rint(prob.F * CPSAT_SCALE).astype(np.int64)
        Pi = np.rint(np.asarray(prob.P) * CPSAT_SCALE).astype(np.int64)
        if max(np.abs(Fi).max(), np.abs(Pi).max()) * (nb + 1) ** 2 > 2**60:
            raise InvalidInputError("scores are too large for CP-SAT's integer objective")

        self.arcs: dict[tuple[int, int], Any] = {}
        self.x: dict[tuple[int, int], Any] = {}
        self.ends: dict[str, dict[int, Any]] = {"first": {}, "last": {}}
        self.linear = _linear_ordering(prob)
        if self.linear:
            terms, coefs, offset = self._linear_model(Fi, Pi)
        else:
            terms, coefs, offset = self._circuit(Fi, Pi, hint)
        model.maximize(cp_model.LinearExpr.weighted_sum(terms, coefs) + offset)
        # Each value rounds 1 + (nb - 1) + 1 adjacency/end terms and C(nb, 2) pair terms.
        self.tolerance = (nb + 1 + nb * (nb - 1) / 2) * 0.5 / CPSAT_SCALE
        if hint is not None:
            self.set_hint(hint)

    def _circuit(
        self, Fi: np.ndarray, Pi: np.ndarray, hint: np.ndarray | None
    ) -> tuple[list[Any], list[int], int]:
        """Arc literals under ``AddCircuit``, precedence literals linked to them when precedence
        matters; the objective's terms, coefficients and constant."""
        prob, model, nb = self.prob, self.model, self.prob.nb
        dummy = nb
        arcs = self.arcs
        for i in range(nb + 1):
            for j in range(nb + 1):
                if i != j:
                    arcs[i, j] = model.new_bool_var("")
        model.add_circuit([(i, j, lit) for (i, j), lit in arcs.items()])
        terms = list(arcs.values())
        coefs = [int(Fi[i, j]) for (i, j) in arcs]
        offset = 0
        if prob.edges or np.any(Pi):
            more_terms, more_coefs, offset = self._precedence(Pi)
            terms += more_terms
            coefs += more_coefs
            x = self.x
            for i in range(nb):
                for j in range(nb):
                    if i != j:
                        model.add_implication(arcs[i, j], x[i, j])
                        model.add_implication(arcs[dummy, i], x[i, j])
                        model.add_implication(arcs[j, dummy], x[i, j])
            for i, j in self._betweenness_arcs(Fi, hint):
                a = arcs[i, j]
                for k in range(nb):
                    if k != i and k != j:
                        model.add_bool_or([a.Not(), x[k, i], x[j, k]])
        if prob.first_block is not None:
            model.add_bool_or([arcs[dummy, prob.first_block]])
        if prob.last_block is not None:
            model.add_bool_or([arcs[prob.last_block, dummy]])
        return terms, coefs, offset

    def _precedence(self, Pi: np.ndarray) -> tuple[list[Any], list[int], int]:
        """The literals ``x[i, j]`` with transitivity and ``before`` clauses; the objective's
        precedence terms (literals, coefficients) and constant."""
        model, nb = self.model, self.prob.nb
        x: dict[tuple[int, int], Any] = {}
        terms, coefs, offset = [], [], 0
        for i in range(nb):
            for j in range(i + 1, nb):
                x[i, j] = model.new_bool_var("")
                x[j, i] = x[i, j].Not()
                terms.append(x[i, j])
                coefs.append(int(Pi[i, j] - Pi[j, i]))
                offset += int(Pi[j, i])
        self.x = x
        for i, j, k in itertools.combinations(range(nb), 3):
            model.add_bool_or([x[j, i], x[k, j], x[i, k]])  # not (i<j and j<k) or i<k
            model.add_bool_or([x[i, j], x[j, k], x[k, i]])  # not (j<i and k<j) or k<i
        for a, b in self.prob.edges:
            model.add_bool_or([x[a, b]])
        return terms, coefs, offset

    def _linear_model(self, Fi: np.ndarray, Pi: np.ndarray) -> tuple[list[Any], list[int], int]:
        """The linear ordering model (no adjacency scores, see the class docstring); the
        objective's terms, coefficients and constant."""
        prob, model, nb = self.prob, self.model, self.prob.nb
        dummy = nb
        terms, coefs, offset = self._precedence(Pi)
        x = self.x
        for end, fixed, scores in (
            ("first", prob.first_block, Fi[dummy, :nb]),
            ("last", prob.last_block, Fi[:nb, dummy]),
        ):
            if fixed is not None:  # prob.edges already put it before (after) every other block
                offset += int(scores[fixed])
                continue
            if not np.any(scores):
                continue
            lits = {b: model.new_bool_var("") for b in range(nb)}
            model.add_exactly_one(lits.values())
            for b, lit in lits.items():
                for c in range(nb):
                    if c != b:
                        model.add_implication(lit, x[b, c] if end == "first" else x[c, b])
                terms.append(lit)
                coefs.append(int(scores[b]))
            self.ends[end] = lits
        return terms, coefs, offset

    def _betweenness_arcs(self, Fi: np.ndarray, hint: np.ndarray | None) -> list[tuple[int, int]]:
        nb = self.prob.nb
        if nb <= CPSAT_BETWEENNESS_FULL_MAX_N:
            return [(i, j) for i in range(nb) for j in range(nb) if i != j]
        chosen: set[tuple[int, int]] = set()
        scores = Fi[:nb, :nb].astype(np.float64)
        np.fill_diagonal(scores, -np.inf)
        for i in range(nb):
            top = np.argsort(-scores[i], kind="stable")[:CPSAT_BETWEENNESS_TOP]
            chosen.update((i, int(j)) for j in top)
        if hint is not None:
            chosen.update(zip(map(int, hint[:-1]), map(int, hint[1:])))
        return sorted(chosen)

    def set_hint(self, block_order: np.ndarray) -> None:
        model, nb = self.model, self.prob.nb
        model.clear_hints()
        ring = [nb, *map(int, block_order), nb]
        on = set(zip(ring[:-1], ring[1:]))
        for key, lit in self.arcs.items():
            model.add_hint(lit, key in on)
        for end, b in (("first", int(block_order[0])), ("last", int(block_order[-1]))):
            for c, lit in self.ends[end].items():  # empty unless self.linear
                model.add_hint(lit, c == b)
        if self.x:
            pos = np.empty(nb, dtype=np.intp)
            pos[block_order] = np.arange(nb)
            for i in range(nb):
                for j in range(i + 1, nb):
                    model.add_hint(self.x[i, j], bool(pos[i] < pos[j]))

    def exclude(self, block_order: np.ndarray) -> None:
        """No-good cut: forbid exactly this order (at least one of its arcs must go)."""
        nb = self.prob.nb
        if self.linear:  # an order is fixed by its neighbours' precedences: flip one of them
            pairs = zip(map(int, block_order[:-1]), map(int, block_order[1:]))
            self.model.add_bool_or([self.x[j, i] for i, j in pairs])
            return
        ring = [nb, *map(int, block_order), nb]
        self.model.add_bool_or([self.arcs[i, j].Not() for i, j in zip(ring[:-1], ring[1:])])

    def solve(self, time_limit: float) -> _CpsatResult:
        cp_model = self.cp_model
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1  # NOTES: far faster proofs than the default portfolio here
        params.linearization_level = 2
        params.random_seed = 0
        # Presolve gains nothing on this all-Boolean model and delays the hint's registration:
        # measured, planted n = 40 proven in 0.2 s instead of 0.56 s, tighter bounds at n = 60.
        params.cp_model_presolve = False
        params.max_time_in_seconds = time_limit
        status = solver.solve(self.model)
        if status == cp_model.MODEL_INVALID:
            raise ReorderError(f"CP-SAT rejected the model: {self.model.validate()}")
        order = None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and self.linear:
            nb = self.prob.nb
            before = np.zeros((nb, nb), dtype=bool)
            for (i, j), lit in self.x.items():
                if i < j:
                    before[i, j] = solver.boolean_value(lit)
                    before[j, i] = not before[i, j]
            order = np.argsort(before.sum(axis=0), kind="stable")  # by number of predecessors
        elif status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            successor = {i: j for (i, j), lit in self.arcs.items() if solver.boolean_value(lit)}
            sequence = []
            node = successor[self.prob.nb]
            while node != self.prob.nb:
                sequence.append(node)
                node = successor[node]
            order = np.array(sequence, dtype=np.intp)
        bound = None
        if order is not None and math.isfinite(solver.best_objective_bound):
            # Without a solution CP-SAT's reported bound is not meaningful (it reads 0).
            bound = solver.best_objective_bound / CPSAT_SCALE + self.tolerance
        return _CpsatResult(
            order=order,
            optimal=status == cp_model.OPTIMAL,
            infeasible=status == cp_model.INFEASIBLE,
            bound=bound,
        )


def _cpsat_solution(
    objective: Objective, prob: _Problem, result: _CpsatResult, fallback: np.ndarray
) -> Solution:
    if result.infeasible:
        raise InvalidInputError("CP-SAT proved that no order satisfies the constraints")
    bound = None if result.bound is None else result.bound + prob.internal
    if result.order is None:
        return _solution(objective, prob, fallback, optimal=False, bound=bound, method="cpsat")
    return _solution(
        objective, prob, result.order, optimal=result.optimal, bound=bound, method="cpsat"
    )


def solve_cpsat(
    objective: Objective,
    constraints: Constraints | None = None,
    *,
    time_limit: float = 1.0,
    hint: Sequence[int] | None = None,
) -> Solution:
    """OR-Tools CP-SAT on a circuit + precedence model (a linear ordering model when there are no
    adjacency scores); proves optimality when it can.

    The model is described in ``_CpsatModel``; it is solved with one worker and
    ``linearization_level=2`` (NOTES: these settings prove in 0.05 s what the defaults cannot in
    30 s), a fixed seed, and a hint on every literal when ``hint`` is given.

    Scores are multiplied by ``CPSAT_SCALE`` and rounded: ``optimal`` means optimal for those
    rounded scores, so a better float order can exist, by at most ``(n + 1 + n (n - 1) / 2) *
    0.5 / CPSAT_SCALE``. When not proven, ``bound`` is CP-SAT's bound converted back plus that
    tolerance, a true upper bound. ``value`` is always recomputed in floats.

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    constraints : Constraints or None
        Hard constraints (first/last fix the dummy arcs, before fixes a precedence literal,
        groups are contracted to blocks); ``InvalidInputError`` if unsatisfiable.
    time_limit : float
        Wall-clock budget of the search in seconds (model building comes on top: O(n^3) clauses,
        about 1 s at n = 60).
    hint : sequence of int or None
        A permutation of ``range(n)`` to start from (e.g. the heuristic's order). If CP-SAT finds
        no order in time, the hint (or else a Borda order) is returned, with ``optimal=False``.

    Returns
    -------
    Solution
        ``method="cpsat"``.
    """
    time_limit = _check_time_limit(time_limit)
    objective, prob = _problem(objective, constraints)
    hint_blocks = None
    if hint is not None:
        hint_blocks = prob.block_order_of(_as_permutation(hint, prob.n, "hint"))
    if prob.nb <= 1:
        return _trivial(objective, prob, "cpsat")
    model = _CpsatModel(prob, hint_blocks)
    result = model.solve(time_limit)
    fallback = hint_blocks
    if fallback is None or not prob.feasible(fallback):
        fallback = _borda_start(prob)
    return _cpsat_solution(objective, prob, result, fallback)


# --------------------------------------------------------------------------------------------
# Front doors
# --------------------------------------------------------------------------------------------


def solve(
    objective: Objective,
    constraints: Constraints | None = None,
    *,
    method: str = "auto",
    time_limit: float = 1.0,
    seed: int = 0,
) -> Solution:
    """Find a best order with the named method (see the module docstring for which when).

    ``method="auto"``: n <= 1 is trivial; up to ``AUTO_DP_MAX_N`` blocks the exact DP; otherwise
    the heuristic for ``AUTO_HEURISTIC_SHARE`` of ``time_limit`` (less when its iterated local
    search stalls: ``ILS_STALL_KICKS`` fruitless kicks, ``AUTO_ILS_STALL_KICKS`` when CP-SAT's
    model is the linear ordering one) and then, up to
    ``CPSAT_AUTO_MAX_N`` blocks, CP-SAT warm-started with the heuristic's order for the rest of
    it (at least a quarter of the remaining share, whatever the model took to build). The better
    order of the two is returned with CP-SAT's ``optimal`` and ``bound`` (``method`` is
    ``"cpsat"``, or ``"heuristic+cpsat"`` when the heuristic's order is better; ``"heuristic"``
    with no bound when CP-SAT found no order in time).
    Above ``CPSAT_AUTO_MAX_N`` blocks, the heuristic alone with the whole ``time_limit``.

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    constraints : Constraints or None
        Hard constraints; ``InvalidInputError`` if unsatisfiable.
    method : {"auto", "dp", "cpsat", "heuristic", "brute-force"}
        The solver.
    time_limit : float
        Wall-clock budget in seconds for the anytime solvers (the DP and brute force ignore it).
    seed : int
        Seed of the heuristic.

    Returns
    -------
    Solution
    """
    if method not in METHODS:
        raise InvalidInputError(
            f"method must be one of {', '.join(repr(m) for m in METHODS)}; got {method!r}"
        )
    time_limit = _check_time_limit(time_limit)
    seed = _unit(seed, "seed")
    if method == "dp":
        return solve_dp(objective, constraints)
    if method == "brute-force":
        return solve_brute_force(objective, constraints)
    if method == "heuristic":
        return solve_heuristic(objective, constraints, time_limit=time_limit, seed=seed)
    if method == "cpsat":
        return solve_cpsat(objective, constraints, time_limit=time_limit)

    started = time.perf_counter()
    objective, prob = _problem(objective, constraints)
    if prob.n <= 1:
        return _trivial(objective, prob, "trivial")
    if prob.nb <= 1:
        return _trivial(objective, prob, "dp")
    if prob.nb <= AUTO_DP_MAX_N:
        (best,) = _subset_dp(prob, 1)
        return _solution(objective, prob, best, optimal=True, bound=None, method="dp")
    if prob.nb > CPSAT_AUTO_MAX_N:
        order = _heuristic_order(prob, started + time_limit, seed)
        return _solution(objective, prob, order, optimal=False, bound=None, method="heuristic")
    heuristic = _heuristic_order(
        prob, started + AUTO_HEURISTIC_SHARE * time_limit, seed, _stall_before_cpsat(prob)
    )
    model = _CpsatModel(prob, heuristic)
    remaining = time_limit - (time.perf_counter() - started)
    result = model.solve(max(remaining, (1 - AUTO_HEURISTIC_SHARE) * time_limit / 4))
    found = _cpsat_solution(objective, prob, result, heuristic)
    fallback = _solution(objective, prob, heuristic, optimal=False, bound=None, method="heuristic")
    if result.order is None:
        return fallback  # CP-SAT found nothing in time (e.g. a huge model, a tiny time_limit)
    if found.value >= fallback.value:
        return found
    # The heuristic's order is better (CP-SAT stopped early, or its order is worse in floats
    # than in its rounded scores): keep it, with what CP-SAT proved.
    if found.optimal:
        bound: float | None = fallback.value
    else:
        bound = None if found.bound is None else max(found.bound, fallback.value)
    return Solution(
        order=fallback.order,
        value=fallback.value,
        optimal=found.optimal,
        bound=bound,
        method="heuristic+cpsat",
    )


def k_best(
    objective: Objective,
    k: int,
    constraints: Constraints | None = None,
    *,
    time_limit: float = 1.0,
) -> list[Solution]:
    """The ``k`` best distinct orders found, best first (fewer when fewer orders exist).

    How, and how exact:

    - up to ``BRUTE_FORCE_MAX_N`` blocks: every order is evaluated; exact.
    - up to ``DP_MAX_N`` blocks while ``2^n * n * k <= KBEST_DP_MAX_STATES``: the subset DP
      keeping the k best partial orders per state; exact.
    - up to ``CPSAT_AUTO_MAX_N`` blocks: CP-SAT, re-solved k times, each time with a no-good cut
      excluding the orders already listed, sharing ``time_limit``; a solution has
      ``optimal=True`` when CP-SAT proved it best among the orders not listed before it (at the
      rounding precision of :func:`solve_cpsat`), so a list of proven solutions is the exact
      k best. If a round finds nothing, the list is completed from single-block moves of the
      orders found, unproven.
    - beyond: the heuristic's order and its best single-block-move neighbours; no proof.

    The list is always sorted by value, non-increasing. ``optimal`` and ``bound`` hold for a
    prefix of proven solutions; after the first unproven one they are False and None.

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    k : int
        How many orders, >= 1.
    constraints : Constraints or None
        Hard constraints, honoured by every order; ``InvalidInputError`` if unsatisfiable.
    time_limit : float
        Wall-clock budget in seconds for the CP-SAT and heuristic cases.

    Returns
    -------
    list of Solution
    """
    started = time.perf_counter()
    k = _unit(k, "k")
    if k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k}")
    time_limit = _check_time_limit(time_limit)
    objective, prob = _problem(objective, constraints)
    nb = prob.nb
    if nb <= 1:
        return [_trivial(objective, prob, "trivial")]
    if nb <= BRUTE_FORCE_MAX_N:
        orders, _ = _enumerate(prob)
        return [
            _solution(objective, prob, o, optimal=True, bound=None, method="brute-force")
            for o in orders[:k]
        ]
    if nb <= DP_MAX_N and (1 << nb) * nb * k <= KBEST_DP_MAX_STATES:
        return [
            _solution(objective, prob, o, optimal=True, bound=None, method="dp")
            for o in _subset_dp(prob, k)
        ]

    deadline = started + time_limit
    if nb <= CPSAT_AUTO_MAX_N:
        share, stall = AUTO_HEURISTIC_SHARE, _stall_before_cpsat(prob)
    else:
        share, stall = 0.5, ILS_STALL_KICKS
    best = _heuristic_order(prob, started + share * time_limit, 0, stall)
    search = _LocalSearch(prob)
    found: list[Solution] = []
    seen: set[bytes] = set()
    pool: dict[bytes, np.ndarray] = {}  # unlisted candidate orders for hints and filling up

    def add_neighbours(order: np.ndarray) -> None:
        for candidate in search.neighbours(order, k):
            key = candidate.tobytes()
            if key not in seen:
                pool.setdefault(key, candidate)

    exhausted = False
    if nb <= CPSAT_AUTO_MAX_N:
        model = _CpsatModel(prob, best)
        pool[best.tobytes()] = best
        for round_ in range(k):
            remaining = deadline - time.perf_counter()
            result = model.solve(max(remaining / (k - round_), 0.05))
            if result.infeasible:
                exhausted = True
                break
            if result.order is None:
                break
            key = result.order.tobytes()
            seen.add(key)
            pool.pop(key, None)
            bound = None if result.bound is None else result.bound + prob.internal
            found.append(
                _solution(
                    objective,
                    prob,
                    result.order,
                    optimal=result.optimal,
                    bound=bound,
                    method="cpsat",
                )
            )
            model.exclude(result.order)
            add_neighbours(result.order)
            if pool:
                model.set_hint(max(pool.values(), key=prob.value))
    else:
        seen.add(best.tobytes())
        found.append(
            _solution(objective, prob, best, optimal=False, bound=None, method="heuristic")
        )
        add_neighbours(best)

    if len(found) < k and not exhausted:
        extra = sorted(pool.values(), key=prob.value, reverse=True)[: k - len(found)]
        found += [
            _solution(objective, prob, o, optimal=False, bound=None, method="heuristic")
            for o in extra
        ]
    # Sort by value (stable); flags stay only on the prefix that kept its place and was proven.
    ranked = sorted(range(len(found)), key=lambda i: -found[i].value)
    result_list: list[Solution] = []
    proven = True
    for place, i in enumerate(ranked):
        solution = found[i]
        proven = proven and place == i and solution.optimal
        if not proven and (solution.optimal or solution.bound is not None):
            solution = Solution(solution.order, solution.value, False, None, solution.method)
        result_list.append(solution)
    return result_list[:k]
