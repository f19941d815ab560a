"""The front doors: ``solve`` (the ``auto`` policy and dispatch by name) and ``k_best``."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..errors import InvalidInputError
from ..objective import Objective
from ..validation import (
    check_index,
    check_non_negative_int,
    check_time_limit,
)
from .constraints import Constraints
from .exact.brute_force import BRUTE_FORCE_MAX_N, _k_best_brute_force, solve_brute_force
from .exact.cpsat import _cpsat_solution, _CpsatModel, _linear_ordering, solve_cpsat
from .exact.dp import DP_MAX_N, _k_best_dp, _subset_dp, solve_dp
from .heuristics.local_search import (
    ILS_STALL_KICKS,
    _heuristic_order,
    _LocalSearch,
    solve_heuristic,
)
from .problem import Solution, _Problem, _problem, _solution, _trivial

__all__ = [
    "AUTO_DP_MAX_N",
    "CPSAT_AUTO_MAX_N",
    "KBEST_DP_MAX_STATES",
    "METHODS",
    "SOLVERS",
    "k_best",
    "solve",
]

#: ``solve(method="auto")`` uses the exact DP up to this many blocks (its ``dp_max_n``).
AUTO_DP_MAX_N = 18
#: ``solve(method="auto")`` and ``k_best`` skip CP-SAT above this many blocks (their
#: ``cpsat_max_n``): its model has O(n^3) clauses and it cannot prove noisy instances that large.
CPSAT_AUTO_MAX_N = 80
#: ``k_best`` uses the k-best DP while its 2^n * n * k states are at most this many (its
#: ``dp_max_states``); beyond, CP-SAT with no-good cuts.
KBEST_DP_MAX_STATES = 1 << 24
#: Under ``solve(method="auto")`` and ``k_best``, when the CP-SAT model that takes over is the
#: linear ordering one (no adjacency scores), the ILS stops after this many fruitless kicks: that
#: model proves optimality from a local optimum, where the circuit model needs the better hint of
#: a full ILS (``ILS_STALL_KICKS``).
AUTO_ILS_STALL_KICKS = 10
#: Share of ``time_limit`` that ``solve(method="auto")`` gives the heuristic before CP-SAT.
AUTO_HEURISTIC_SHARE = 0.3

#: Every solver by its name in ``solve(method=...)``; each is called as
#: ``solver(objective, constraints=None, *, ...)`` and returns a :class:`Solution`.
SOLVERS: dict[str, Callable[..., Solution]] = {
    "dp": solve_dp,
    "cpsat": solve_cpsat,
    "heuristic": solve_heuristic,
    "brute-force": solve_brute_force,
}
#: The keyword arguments of ``solve`` that each solver takes.
_SOLVER_OPTIONS: dict[str, tuple[str, ...]] = {
    "dp": (),
    "cpsat": ("time_limit",),
    "heuristic": ("time_limit", "seed"),
    "brute-force": (),
}
#: Accepted values of ``solve(method=...)``.
METHODS = ("auto", *SOLVERS)


def _at_most(value: object, name: str, limit: int) -> int:
    number = check_non_negative_int(value, name)
    if number > limit:
        raise InvalidInputError(f"{name} must be at most {limit}, got {number}")
    return number


def _stall_before_cpsat(prob: _Problem) -> int:
    """How many fruitless kicks the heuristic may make before CP-SAT takes over."""
    return AUTO_ILS_STALL_KICKS if _linear_ordering(prob) else ILS_STALL_KICKS


# --------------------------------------------------------------------------------------------
# solve
# --------------------------------------------------------------------------------------------


def solve(
    objective: Objective,
    constraints: Constraints | None = None,
    *,
    method: str = "auto",
    time_limit: float = 1.0,
    seed: int = 0,
    dp_max_n: int = AUTO_DP_MAX_N,
    cpsat_max_n: int = CPSAT_AUTO_MAX_N,
) -> Solution:
    """Find a best order with the named method (see :mod:`reorder.search` for which when).

    ``method="auto"``: n <= 1 is trivial; up to ``dp_max_n`` blocks the exact DP; otherwise
    the heuristic for ``AUTO_HEURISTIC_SHARE`` of ``time_limit`` (less when its iterated local
    search stalls: ``ILS_STALL_KICKS`` fruitless kicks, ``AUTO_ILS_STALL_KICKS`` when CP-SAT's
    model is the linear ordering one) and then, up to ``cpsat_max_n`` blocks, CP-SAT
    warm-started with the heuristic's order for the rest of it (at least a quarter of the
    remaining share, whatever the model took to build). The better order of the two is returned
    with CP-SAT's ``optimal`` and ``bound`` (``method`` is ``"cpsat"``, or ``"heuristic+cpsat"``
    when the heuristic's order is better; ``"heuristic"`` with no bound when CP-SAT found no
    order in time). Above ``cpsat_max_n`` blocks, the heuristic alone with the whole
    ``time_limit``. Any other method calls ``SOLVERS[method]``.

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
    dp_max_n : int
        ``method="auto"`` only: the largest number of blocks solved by the DP, at most
        ``DP_MAX_N``; default ``AUTO_DP_MAX_N``.
    cpsat_max_n : int
        ``method="auto"`` only: the largest number of blocks beyond the DP that CP-SAT gets;
        default ``CPSAT_AUTO_MAX_N``.

    Returns
    -------
    Solution
    """
    if method not in METHODS:
        raise InvalidInputError(
            f"method must be one of {', '.join(repr(m) for m in METHODS)}; got {method!r}"
        )
    time_limit = check_time_limit(time_limit)
    seed = check_index(seed, "seed")
    dp_max_n = _at_most(dp_max_n, "dp_max_n", DP_MAX_N)
    cpsat_max_n = check_non_negative_int(cpsat_max_n, "cpsat_max_n")
    if method != "auto":
        given = {"time_limit": time_limit, "seed": seed}
        options = {name: given[name] for name in _SOLVER_OPTIONS[method]}
        return SOLVERS[method](objective, constraints, **options)

    started = time.perf_counter()
    objective, prob = _problem(objective, constraints)
    if prob.n <= 1:
        return _trivial(objective, prob, "trivial")
    if prob.nb <= 1:
        return _trivial(objective, prob, "dp")
    if prob.nb <= dp_max_n:
        (best,) = _subset_dp(prob, 1)
        return _solution(objective, prob, best, optimal=True, bound=None, method="dp")
    if prob.nb > cpsat_max_n:
        order = _heuristic_order(prob, started + time_limit, seed)
        return _solution(objective, prob, order, optimal=False, bound=None, method="heuristic")
    return _heuristic_then_cpsat(objective, prob, started, time_limit, seed)


def _heuristic_then_cpsat(
    objective: Objective, prob: _Problem, started: float, time_limit: float, seed: int
) -> Solution:
    """``solve(method="auto")`` beyond the DP: the heuristic, then CP-SAT warm-started from its
    order; the better order of the two, with what CP-SAT proved."""
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


# --------------------------------------------------------------------------------------------
# k_best
# --------------------------------------------------------------------------------------------


def k_best(
    objective: Objective,
    k: int,
    constraints: Constraints | None = None,
    *,
    time_limit: float = 1.0,
    brute_force_max_n: int = BRUTE_FORCE_MAX_N,
    dp_max_states: int = KBEST_DP_MAX_STATES,
    cpsat_max_n: int = CPSAT_AUTO_MAX_N,
) -> list[Solution]:
    """The ``k`` best distinct orders found, best first (fewer when fewer orders exist).

    How, and how exact:

    - up to ``brute_force_max_n`` blocks: every order is evaluated; exact.
    - up to ``DP_MAX_N`` blocks while ``2^n * n * k <= dp_max_states``: the subset DP
      keeping the k best partial orders per state; exact.
    - up to ``cpsat_max_n`` blocks: CP-SAT, re-solved k times, each time with a no-good cut
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
    brute_force_max_n : int
        The largest number of blocks enumerated, at most ``BRUTE_FORCE_MAX_N`` (the default).
    dp_max_states : int
        The most DP states (``2^n * n * k``) allowed; default ``KBEST_DP_MAX_STATES``.
    cpsat_max_n : int
        The largest number of blocks beyond the DP that CP-SAT gets; default
        ``CPSAT_AUTO_MAX_N``.

    Returns
    -------
    list of Solution
    """
    started = time.perf_counter()
    k = check_index(k, "k")
    if k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k}")
    time_limit = check_time_limit(time_limit)
    brute_force_max_n = _at_most(brute_force_max_n, "brute_force_max_n", BRUTE_FORCE_MAX_N)
    dp_max_states = check_non_negative_int(dp_max_states, "dp_max_states")
    cpsat_max_n = check_non_negative_int(cpsat_max_n, "cpsat_max_n")
    objective, prob = _problem(objective, constraints)
    nb = prob.nb
    if nb <= 1:
        return [_trivial(objective, prob, "trivial")]
    if nb <= brute_force_max_n:
        return _k_best_brute_force(objective, prob, k)
    if nb <= DP_MAX_N and (1 << nb) * nb * k <= dp_max_states:
        return _k_best_dp(objective, prob, k)

    use_cpsat = nb <= cpsat_max_n
    if use_cpsat:
        share, stall = AUTO_HEURISTIC_SHARE, _stall_before_cpsat(prob)
    else:
        share, stall = 0.5, ILS_STALL_KICKS
    best = _heuristic_order(prob, started + share * time_limit, 0, stall)
    candidates = _Candidates(prob, k)
    if use_cpsat:
        found, exhausted = _cpsat_rounds(objective, prob, k, best, started + time_limit, candidates)
    else:
        candidates.mark_listed(best)
        found = [_solution(objective, prob, best, optimal=False, bound=None, method="heuristic")]
        exhausted = False
        candidates.add_neighbours(best)
    if len(found) < k and not exhausted:
        found += [
            _solution(objective, prob, o, optimal=False, bound=None, method="heuristic")
            for o in candidates.best(k - len(found))
        ]
    return _ranked(found)[:k]


class _Candidates:
    """The block orders listed so far and a pool of unlisted ones near them: CP-SAT's next hint
    and the fill-in when CP-SAT stops short of ``k``."""

    def __init__(self, prob: _Problem, k: int) -> None:
        self.prob = prob
        self.k = k
        self.search = _LocalSearch(prob)
        self.listed: set[bytes] = set()
        self.pool: dict[bytes, np.ndarray] = {}  # insertion order breaks ties between values

    def offer(self, order: np.ndarray) -> None:
        self.pool[order.tobytes()] = order

    def mark_listed(self, order: np.ndarray) -> None:
        key = order.tobytes()
        self.listed.add(key)
        self.pool.pop(key, None)

    def add_neighbours(self, order: np.ndarray) -> None:
        """Pool the ``k`` best single-block-move neighbours of ``order`` not listed yet."""
        for candidate in self.search.neighbours(order, self.k):
            key = candidate.tobytes()
            if key not in self.listed:
                self.pool.setdefault(key, candidate)

    def top(self) -> np.ndarray:
        """The best pooled order (ties: first pooled); the pool must not be empty."""
        return max(self.pool.values(), key=self.prob.value)

    def best(self, count: int) -> list[np.ndarray]:
        """The ``count`` best pooled orders, best first (ties: first pooled first)."""
        return sorted(self.pool.values(), key=self.prob.value, reverse=True)[:count]


def _cpsat_rounds(
    objective: Objective,
    prob: _Problem,
    k: int,
    start: np.ndarray,
    deadline: float,
    candidates: _Candidates,
) -> tuple[list[Solution], bool]:
    """Up to ``k`` CP-SAT solves sharing the time to ``deadline``, each excluding the orders found
    before it (no-good cuts) and hinted with the best pooled candidate. Returns the solutions in
    the order found and whether CP-SAT proved that no further order exists."""
    model = _CpsatModel(prob, start)
    candidates.offer(start)
    found: list[Solution] = []
    for round_ in range(k):
        remaining = deadline - time.perf_counter()
        result = model.solve(max(remaining / (k - round_), 0.05))
        if result.infeasible:
            return found, True
        if result.order is None:
            break
        candidates.mark_listed(result.order)
        bound = None if result.bound is None else result.bound + prob.internal
        found.append(
            _solution(
                objective, prob, result.order, optimal=result.optimal, bound=bound, method="cpsat"
            )
        )
        model.exclude(result.order)
        candidates.add_neighbours(result.order)
        if candidates.pool:
            model.set_hint(candidates.top())
    return found, False


def _ranked(found: list[Solution]) -> list[Solution]:
    """``found`` sorted by value, non-increasing (stable); ``optimal`` and ``bound`` are kept only
    on the prefix of proven solutions that kept their place, and dropped after it."""
    ranked = sorted(range(len(found)), key=lambda i: -found[i].value)
    out: list[Solution] = []
    proven = True
    for place, i in enumerate(ranked):
        solution = found[i]
        proven = proven and place == i and solution.optimal
        if not proven and (solution.optimal or solution.bound is not None):
            solution = Solution(solution.order, solution.value, False, None, solution.method)
        out.append(solution)
    return out
