"""Exact search with OR-Tools CP-SAT: circuit + precedence and linear ordering models."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InvalidInputError, ReorderError
from ...objective import Objective
from ...validation import check_permutation, check_time_limit
from ..constraints import Constraints
from ..problem import Solution, _borda_start, _Problem, _problem, _solution, _trivial

__all__ = ["CPSAT_SCALE", "solve_cpsat"]

#: CP-SAT needs integer coefficients: scores are multiplied by this and rounded.
CPSAT_SCALE = 1000.0
#: Up to this many blocks CP-SAT gets every "betweenness" clause (n^3 of them); beyond, only those
#: of the ``CPSAT_BETWEENNESS_TOP`` best successors of each block and of the hint's arcs.
CPSAT_BETWEENNESS_FULL_MAX_N = 50
CPSAT_BETWEENNESS_TOP = 5


def _linear_ordering(prob: _Problem) -> bool:
    """Whether no adjacency score between blocks survives CP-SAT's rounding (see _CpsatModel)."""
    nb = prob.nb
    return not np.any(np.rint(prob.F[:nb, :nb] * CPSAT_SCALE))


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
    implying b before every other block (``l[b]``: after). It is smaller than the circuit model
    and proves such instances faster.
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
        on = set(itertools.pairwise(ring))
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
        self.model.add_bool_or([self.arcs[i, j].Not() for i, j in itertools.pairwise(ring)])

    def solve(self, time_limit: float) -> _CpsatResult:
        cp_model = self.cp_model
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1  # far faster proofs on these models than the default portfolio
        params.linearization_level = 2
        params.random_seed = 0
        # Presolve gains nothing on this all-Boolean model and delays the hint's registration:
        # without it, proofs come sooner and bounds are tighter.
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
    ``linearization_level=2`` (these settings prove optimality where the defaults time out), a
    fixed seed, and a hint on every literal when ``hint`` is given.

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
        Wall-clock budget of the search in seconds (model building, O(n^3) clauses, comes on
        top).
    hint : sequence of int or None
        A permutation of ``range(n)`` to start from (e.g. the heuristic's order). If CP-SAT finds
        no order in time, the hint (or else a Borda order) is returned, with ``optimal=False``.

    Returns
    -------
    Solution
        ``method="cpsat"``.
    """
    time_limit = check_time_limit(time_limit)
    objective, prob = _problem(objective, constraints)
    hint_blocks = None
    if hint is not None:
        hint_blocks = prob.block_order_of(check_permutation(hint, prob.n, "hint"))
    if prob.nb <= 1:
        return _trivial(objective, prob, "cpsat")
    model = _CpsatModel(prob, hint_blocks)
    result = model.solve(time_limit)
    fallback = hint_blocks
    if fallback is None or not prob.feasible(fallback):
        fallback = _borda_start(prob)
    return _cpsat_solution(objective, prob, result, fallback)
