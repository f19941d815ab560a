"""Tests of reorder.search: known optima, agreement with brute force, constraints, k-best."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reorder import search
from reorder.errors import InvalidInputError
from reorder.search import (
    AUTO_DP_MAX_N,
    BRUTE_FORCE_MAX_N,
    CPSAT_AUTO_MAX_N,
    CPSAT_SCALE,
    DP_MAX_N,
    SOLVERS,
    Constraints,
    Objective,
    Solution,
    k_best,
    solve,
    solve_brute_force,
    solve_cpsat,
    solve_dp,
    solve_heuristic,
)
from reorder.search.auto import KBEST_DP_MAX_STATES
from reorder.search.exact.cpsat import _CpsatModel
from reorder.search.problem import _problem

Solver = Callable[..., Solution]

# Every solver, and auto, behind one call, (objective, constraints=None) -> Solution, with the
# time limits these tests give them.
CALLS: dict[str, Solver] = {
    "brute-force": lambda o, c=None: solve_brute_force(o, c),
    "dp": lambda o, c=None: solve_dp(o, c),
    "cpsat": lambda o, c=None: solve_cpsat(o, c, time_limit=5.0),
    "heuristic": lambda o, c=None: solve_heuristic(o, c, time_limit=0.5),
    "auto": lambda o, c=None: solve(o, c, time_limit=1.0),
}
EXACT = ["brute-force", "dp", "cpsat", "auto"]


def random_objective(n: int, seed: int) -> Objective:
    rng = np.random.default_rng(seed)
    return Objective(
        rng.normal(size=(n, n)), rng.normal(size=(n, n)), rng.normal(size=n), rng.normal(size=n)
    )


def planted(n: int, seed: int, noise: float = 0.5) -> tuple[Objective, list[int]]:
    """Scores generated from a hidden order: its links, precedences, first and last score higher."""
    rng = np.random.default_rng(seed)
    hidden = rng.permutation(n)
    pos = np.empty(n, dtype=int)
    pos[hidden] = np.arange(n)
    follows = rng.normal(0, noise, (n, n))
    follows[hidden[:-1], hidden[1:]] += 2.0
    precedes = rng.normal(0, noise, (n, n)) + np.where(pos[:, None] < pos[None, :], 0.5, -0.5)
    first = rng.normal(0, noise, n)
    last = rng.normal(0, noise, n)
    first[hidden[0]] += 2.0
    last[hidden[-1]] += 2.0
    return Objective(follows, precedes, first, last), [int(u) for u in hidden]


def kendall_tau(order: list[int], reference: list[int]) -> float:
    n = len(order)
    pos = np.empty(n, dtype=int)
    pos[np.array(reference)] = np.arange(n)
    p = pos[np.array(order)]
    inversions = int(np.triu(p[:, None] > p[None, :], 1).sum())
    return 1 - 2 * inversions / (n * (n - 1) / 2)


def all_orders(
    objective: Objective, constraints: Constraints | None = None
) -> list[tuple[float, list[int]]]:
    """Every feasible order with its value, best first (independent of the module's code paths)."""
    constraints = constraints or Constraints()
    out = []
    for perm in itertools.permutations(range(objective.n)):
        if constraints.satisfied_by(list(perm)):
            out.append((objective.value(perm), list(perm)))
    out.sort(key=lambda item: -item[0])
    return out


def rounding_tolerance(n: int) -> float:
    return 2 * (n + 1 + n * (n - 1) / 2) * 0.5 / CPSAT_SCALE


def assert_permutation(order: list[int], n: int) -> None:
    assert sorted(order) == list(range(n))
    assert all(type(u) is int for u in order)


# --------------------------------------------------------------------------------------------
# Objective and Constraints
# --------------------------------------------------------------------------------------------


def test_value_by_hand() -> None:
    follows = np.array([[0, 1, 2], [3, 0, 4], [5, 6, 0]], dtype=float)
    precedes = np.array([[0, 10, 20], [30, 0, 40], [50, 60, 0]], dtype=float)
    first, last = np.array([100.0, 200, 300]), np.array([1000.0, 2000, 3000])
    objective = Objective(follows, precedes, first, last)
    # order 2, 0, 1: follows[2,0] + follows[0,1] = 5 + 1; precedes (2,0),(2,1),(0,1) = 50+60+10
    assert objective.value([2, 0, 1]) == 6 + 120 + 300 + 2000
    assert objective.n == 3
    assert Objective.zeros(4).value([3, 1, 0, 2]) == 0.0
    assert Objective.zeros(0).value([]) == 0.0


def test_diagonal_ignored_and_arrays_copied_read_only() -> None:
    follows = np.full((2, 2), np.inf)
    follows[0, 1] = follows[1, 0] = 1.0
    precedes = np.zeros((2, 2))
    precedes[0, 0] = np.nan
    objective = Objective(follows, precedes, [0.0, 0.0], [0.0, 0.0])
    assert objective.value([0, 1]) == 1.0
    assert follows[0, 0] == np.inf  # the caller's array is untouched
    with pytest.raises(ValueError):
        objective.follows[0, 1] = 5.0


@pytest.mark.parametrize(
    "arrays",
    [
        (np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(2), np.zeros(2)),
        (np.zeros((2, 2)), np.zeros((3, 3)), np.zeros(2), np.zeros(2)),
        (np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(3), np.zeros(2)),
        (np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(2), np.zeros((2, 1))),
        (np.array([[0, np.nan], [0, 0]]), np.zeros((2, 2)), np.zeros(2), np.zeros(2)),
        (np.zeros((2, 2)), np.array([[0, 0], [-np.inf, 0]]), np.zeros(2), np.zeros(2)),
        (np.zeros((2, 2)), np.zeros((2, 2)), np.array([np.inf, 0]), np.zeros(2)),
        ([["a", "b"], ["c", "d"]], np.zeros((2, 2)), np.zeros(2), np.zeros(2)),
        (np.zeros(4), np.zeros((2, 2)), np.zeros(2), np.zeros(2)),
    ],
)
def test_objective_validation(arrays: tuple) -> None:
    with pytest.raises(InvalidInputError):
        Objective(*arrays)


@pytest.mark.parametrize("order", [[0, 1], [0, 1, 1], [0, 1, 3], [0.0, 1.0, 2.0], [[0, 1, 2]]])
def test_value_needs_a_permutation(order: list) -> None:
    with pytest.raises(InvalidInputError):
        Objective.zeros(3).value(order)


def test_constraints_normalised_and_satisfied_by() -> None:
    c = Constraints(first=np.int64(2), before=[[0, 1]], groups=[[3, 4]])
    assert c.first == 2 and c.before == ((0, 1),) and c.groups == ((3, 4),)
    assert c == Constraints(first=2, before=((0, 1),), groups=((3, 4),))
    assert c.satisfied_by([2, 0, 3, 4, 1])
    assert not c.satisfied_by([0, 2, 3, 4, 1])  # first
    assert not c.satisfied_by([2, 1, 3, 4, 0])  # before
    assert not c.satisfied_by([2, 0, 4, 3, 1])  # group order
    assert not c.satisfied_by([2, 3, 0, 4, 1])  # group contiguity
    assert Constraints(last=1).satisfied_by([0, 1]) and not Constraints(last=1).satisfied_by([1, 0])
    assert Constraints().empty and not c.empty


def test_constraints_restricted_to() -> None:
    c = Constraints(first=7, last=2, before=((4, 9),), groups=((5, 3),))
    local = c.restricted_to([2, 3, 4, 5, 7, 9])
    assert local == Constraints(first=4, last=0, before=((2, 5),), groups=((3, 1),))
    assert c.restricted_to(np.array([9, 7, 5, 4, 3, 2])) == Constraints(
        first=1, last=5, before=((3, 0),), groups=((2, 4),)
    )
    assert Constraints().restricted_to([3, 1]) == Constraints()
    message = "constraint names unit 9, which is not a content unit"
    with pytest.raises(InvalidInputError, match=message):
        c.restricted_to([2, 3, 4, 5, 7])
    with pytest.raises(InvalidInputError, match="twice"):
        c.restricted_to([2, 3, 4, 5, 7, 9, 2])
    with pytest.raises(InvalidInputError, match="units"):
        c.restricted_to([2, 3.0])


@pytest.mark.parametrize(
    "constraints",
    [
        Constraints(first=5),
        Constraints(last=-1),
        Constraints(first=1, last=1),
        Constraints(before=((0, 0),)),
        Constraints(before=((0, 7),)),
        Constraints(before=((0, 1), (1, 2), (2, 0))),
        Constraints(groups=((0, 1), (1, 2))),
        Constraints(groups=((0, 0),)),
        Constraints(groups=((),)),
        Constraints(groups=((0, 1),), before=((1, 0),)),
        Constraints(groups=((0, 1),), first=1),
        Constraints(groups=((0, 1),), last=0),
        Constraints(groups=((0, 4),), first=0, last=4),
        Constraints(first=2, before=((0, 2),)),
        Constraints(last=2, before=((2, 0),)),
        Constraints(groups=((0, 1), (2, 3)), before=((1, 2), (3, 0))),
    ],
)
def test_infeasible_constraints_raise_in_every_solver(constraints: Constraints) -> None:
    objective = random_objective(5, 0)
    with pytest.raises(InvalidInputError):
        constraints.check(5)
    for solver in CALLS.values():
        with pytest.raises(InvalidInputError):
            solver(objective, constraints)
    with pytest.raises(InvalidInputError):
        k_best(objective, 3, constraints)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first": True},
        {"first": 1.5},
        {"before": [(1,)]},
        {"before": [(1, 2, 3)]},
        {"groups": "ab"},
    ],
)
def test_malformed_constraints(kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        Constraints(**kwargs)


def test_one_unit_may_be_first_and_last() -> None:
    Constraints(first=0, last=0).check(1)
    assert solve(Objective.zeros(1), Constraints(first=0, last=0)).order == [0]


# --------------------------------------------------------------------------------------------
# Known optima, every solver
# --------------------------------------------------------------------------------------------


def chain_objective() -> Objective:
    follows = np.zeros((3, 3))
    follows[2, 0] = follows[0, 1] = 1.0
    follows[1, 2] = 0.9  # would close a cycle 0 -> 1 -> 2 -> 0: a path must drop one link
    return Objective(follows, np.zeros((3, 3)), np.zeros(3), np.zeros(3))


def precedence_objective() -> Objective:
    # precedes says 3 < 1 < 0 < 2 for every pair, with different strengths
    order = [3, 1, 0, 2]
    precedes = np.zeros((4, 4))
    for a, b in itertools.combinations(order, 2):
        precedes[a, b] = 1.0 + 0.1 * a
    return Objective(np.zeros((4, 4)), precedes, np.zeros(4), np.zeros(4))


def ends_objective() -> Objective:
    first = np.array([0.0, 0.0, 0.0, 0.0, 5.0])
    last = np.array([0.0, 7.0, 0.0, 0.0, 0.0])
    follows = np.zeros((5, 5))
    follows[4, 0] = follows[0, 3] = follows[3, 2] = follows[2, 1] = 1.0
    follows[1, 4] = 3.0  # tempting, but 1 must be last
    return Objective(follows, np.zeros((5, 5)), first, last)


KNOWN = [
    (chain_objective, [2, 0, 1], 2.0),
    (precedence_objective, [3, 1, 0, 2], 1.3 + 1.3 + 1.3 + 1.1 + 1.1 + 1.0),
    (ends_objective, [4, 0, 3, 2, 1], 5.0 + 4.0 + 7.0),
]


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("make, expected, value", KNOWN)
def test_known_optimum(
    name: str, make: Callable[[], Objective], expected: list[int], value: float
) -> None:
    solution = CALLS[name](make())
    assert solution.order == expected
    assert solution.value == pytest.approx(value)
    if name in EXACT:
        assert solution.optimal
        assert solution.bound == pytest.approx(value)


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_sizes(name: str, n: int) -> None:
    objective = random_objective(n, 3)
    solution = CALLS[name](objective)
    assert_permutation(solution.order, n)
    best = max(all_orders(objective))[0] if n else 0.0
    assert solution.value == pytest.approx(best)
    assert solution.value == pytest.approx(objective.value(solution.order))


# The registry: every solver in SOLVERS, called as solve_x(objective, constraints, **options)
REGISTERED_OPTIONS: dict[str, dict[str, float]] = {
    "brute-force": {},
    "dp": {},
    "cpsat": {"time_limit": 5.0},
    "heuristic": {"time_limit": 0.5},
}
REGISTRY_CONSTRAINTS = [
    None,
    Constraints(first=4),
    Constraints(last=0, before=((5, 1), (2, 3))),
    Constraints(groups=((3, 0), (1, 5, 2)), before=((4, 1),)),
]


def test_solver_registry() -> None:
    assert set(SOLVERS) == {"brute-force", "dp", "cpsat", "heuristic"}
    assert SOLVERS["dp"] is solve_dp and SOLVERS["brute-force"] is solve_brute_force
    assert SOLVERS["cpsat"] is solve_cpsat and SOLVERS["heuristic"] is solve_heuristic
    assert set(search.METHODS) == {"auto", *SOLVERS}


@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize("constraints", REGISTRY_CONSTRAINTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_registered_solver_finds_the_optimum(
    name: str, constraints: Constraints | None, seed: int
) -> None:
    objective = random_objective(6, 40 + seed)
    optimum, best_order = all_orders(objective, constraints)[0]  # computed here, by enumeration
    solution = SOLVERS[name](objective, constraints, **REGISTERED_OPTIONS[name])
    assert_permutation(solution.order, 6)
    assert (constraints or Constraints()).satisfied_by(solution.order)
    assert solution.value == pytest.approx(objective.value(solution.order))
    assert solution.method == name
    if name == "cpsat":  # optimal for the scores rounded to 1 / CPSAT_SCALE
        assert optimum - rounding_tolerance(6) <= solution.value <= optimum + 1e-9
    else:
        assert solution.value == pytest.approx(optimum, abs=1e-9)
    if name == "heuristic":
        assert not solution.optimal and solution.bound is None
    else:
        assert solution.optimal and solution.bound == solution.value
    if name in ("brute-force", "dp"):
        assert solution.order == best_order
    # solve(method=name) dispatches to the same solver with the same options
    assert solve(objective, constraints, method=name, time_limit=5.0) == SOLVERS[name](
        objective, constraints, **{o: 5.0 for o in REGISTERED_OPTIONS[name]}
    )


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_every_registered_solver_finds_a_planted_optimum(name: str) -> None:
    objective, hidden = planted(7, 12, noise=0.3)
    assert all_orders(objective)[0][1] == hidden
    solution = SOLVERS[name](objective, None, **REGISTERED_OPTIONS[name])
    assert solution.order == hidden
    assert solution.value == pytest.approx(objective.value(hidden))


def test_trivial_method_name() -> None:
    assert solve(Objective.zeros(0)).method == "trivial"
    solution = solve(Objective.zeros(1))
    assert solution.order == [0] and solution.value == 0.0
    assert solution.optimal and solution.bound == 0.0


# --------------------------------------------------------------------------------------------
# Agreement with brute force on random instances
# --------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 7), seed=st.integers(0, 2**32 - 1))
def test_exact_solvers_match_brute_force(n: int, seed: int) -> None:
    objective = random_objective(n, seed)
    reference = solve_brute_force(objective)
    assert reference.value == pytest.approx(max(all_orders(objective))[0])
    for name in ("dp", "auto"):
        solution = CALLS[name](objective)
        assert_permutation(solution.order, n)
        assert solution.optimal
        assert solution.value == pytest.approx(reference.value, abs=1e-9)
    solution = solve_cpsat(objective, time_limit=5.0)
    assert_permutation(solution.order, n)
    assert solution.optimal
    assert reference.value - rounding_tolerance(n) <= solution.value <= reference.value + 1e-9
    heuristic = solve_heuristic(objective, time_limit=0.2)
    assert_permutation(heuristic.order, n)
    assert heuristic.value <= reference.value + 1e-9
    assert not heuristic.optimal and heuristic.bound is None


@pytest.mark.parametrize("seed", range(4))
def test_heuristic_exact_on_easy_planted(seed: int) -> None:
    objective, hidden = planted(8, seed, noise=0.3)
    reference = solve_brute_force(objective)
    assert reference.order == hidden
    assert solve_heuristic(objective, time_limit=0.5).order == hidden


def test_dp_matches_cpsat_beyond_brute_force() -> None:
    objective, _ = planted(14, 5, noise=1.0)
    dp = solve_dp(objective)
    cp = solve_cpsat(objective, time_limit=10.0)
    assert cp.optimal
    assert dp.value - rounding_tolerance(14) <= cp.value <= dp.value + 1e-9
    assert solve_heuristic(objective, time_limit=0.5).value <= dp.value + 1e-9


# --------------------------------------------------------------------------------------------
# Linear ordering: no adjacency scores (the shipped model's follows weight is 0)
# --------------------------------------------------------------------------------------------


def linear_objective(n: int, seed: int, follows: Callable | None = None) -> Objective:
    """A random objective whose follows matrix is zero (or ``follows(n)``)."""
    rng = np.random.default_rng(seed)
    return Objective(
        np.zeros((n, n)) if follows is None else follows(n),
        rng.normal(size=(n, n)),
        rng.normal(size=n),
        rng.normal(size=n),
    )


LINEAR_CONSTRAINTS = [
    None,
    Constraints(first=2),
    Constraints(last=1, before=((3, 0),)),
    Constraints(first=0, last=1),
    Constraints(groups=((4, 2), (0, 3)), before=((1, 4),)),
    Constraints(groups=((5, 1, 3),), last=3, before=((0, 2),)),
]


def test_linear_ordering_model_chosen_only_without_adjacency_scores() -> None:
    def linear(objective: Objective, constraints: Constraints | None = None) -> bool:
        _, prob = _problem(objective, constraints)
        return _CpsatModel(prob, None).linear

    assert linear(linear_objective(6, 0))
    assert not linear(random_objective(6, 0))
    # adjacency scores inside groups are constant once the groups are contracted
    def links(n: int) -> np.ndarray:
        follows = np.zeros((n, n))
        follows[[0, 2, 3], [1, 3, 4]] = 3.0  # 0 -> 1, 2 -> 3 -> 4
        return follows

    assert not linear(linear_objective(6, 0, links))
    grouped = Constraints(groups=((0, 1), (2, 3, 4)))
    assert linear(linear_objective(6, 0, links), grouped)
    assert not linear(linear_objective(6, 0, links), Constraints(groups=((0, 1), (3, 4))))
    solution = solve_cpsat(linear_objective(6, 0, links), grouped)
    assert solution.optimal
    expected = all_orders(linear_objective(6, 0, links), grouped)[0][0]
    assert expected - rounding_tolerance(6) <= solution.value <= expected + 1e-9


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 8),
    seed=st.integers(0, 2**32 - 1),
    which=st.integers(0, len(LINEAR_CONSTRAINTS) - 1),
)
def test_linear_ordering_matches_brute_force(n: int, seed: int, which: int) -> None:
    objective = linear_objective(n, seed)
    constraints = LINEAR_CONSTRAINTS[which]
    if constraints is not None:
        try:
            constraints.check(n)
        except InvalidInputError:
            constraints = None  # refers to units beyond n
    expected = all_orders(objective, constraints)[0][0]
    assert solve_brute_force(objective, constraints).value == pytest.approx(expected, abs=1e-9)
    solution = solve_cpsat(objective, constraints, time_limit=5.0)
    assert_permutation(solution.order, n)
    assert (constraints or Constraints()).satisfied_by(solution.order)
    assert solution.optimal and solution.bound == solution.value
    assert expected - rounding_tolerance(n) <= solution.value <= expected + 1e-9


@pytest.mark.parametrize("n", [12, 13, 14])
@pytest.mark.parametrize(
    "constraints",
    [
        None,
        Constraints(first=5, last=7, before=((3, 1), (11, 0))),
        Constraints(groups=((9, 2, 4), (1, 0)), before=((10, 9),), last=6),
    ],
)
def test_linear_ordering_matches_dp(n: int, constraints: Constraints | None) -> None:
    objective = linear_objective(n, 100 + n)
    dp = solve_dp(objective, constraints)
    cp = solve_cpsat(objective, constraints, time_limit=10.0)
    assert cp.optimal and cp.bound == cp.value
    assert (constraints or Constraints()).satisfied_by(cp.order)
    assert dp.value - rounding_tolerance(n) <= cp.value <= dp.value + 1e-9
    # auto beyond the DP: heuristic (stopping early on a stall) and then this CP-SAT model
    auto = solve(objective, constraints, time_limit=2.0, dp_max_n=0)
    assert auto.method in ("cpsat", "heuristic+cpsat")
    assert auto.optimal and auto.bound == auto.value
    assert (constraints or Constraints()).satisfied_by(auto.order)
    assert dp.value - rounding_tolerance(n) <= auto.value <= dp.value + 1e-9


def test_linear_ordering_bound_holds_when_cut_short() -> None:
    objective = linear_objective(14, 7)
    best = solve_dp(objective).value
    for time_limit in (1e-4, 1e-3, 1e-2, 5.0):
        solution = solve_cpsat(objective, time_limit=time_limit)
        assert solution.value <= best + 1e-9
        if solution.optimal:
            assert solution.value >= best - rounding_tolerance(14)
        if solution.bound is not None:
            assert solution.bound >= best - 1e-9


@pytest.mark.parametrize("constraints", LINEAR_CONSTRAINTS)
def test_linear_ordering_objective_is_the_value(constraints: Constraints | None) -> None:
    # CP-SAT's own objective (its bound once proven) is the order's value up to rounding,
    # constant terms of fixed first/last blocks and groups included
    objective = linear_objective(9, 3)
    _, prob = _problem(objective, constraints)
    model = _CpsatModel(prob, None)
    assert model.linear
    result = model.solve(5.0)
    assert result.optimal
    cpsat_value = result.bound - model.tolerance
    assert abs(cpsat_value - prob.value(result.order)) <= model.tolerance
    solution = solve_cpsat(objective, constraints)
    assert solution.value == pytest.approx(prob.value(result.order) + prob.internal, abs=1e-9)


@pytest.mark.parametrize("constraints", [None, Constraints(before=((1, 0),), groups=((2, 3),))])
def test_k_best_linear_ordering(constraints: Constraints | None) -> None:
    objective = linear_objective(7, 21)
    solutions = k_best(
        objective, 6, constraints, time_limit=2.0, brute_force_max_n=0, dp_max_states=0
    )
    for s in solutions:
        assert (constraints or Constraints()).satisfied_by(s.order)
    assert_k_best(solutions, all_orders(objective, constraints), 6, exact=True)
    everything = k_best(linear_objective(3, 2), 10)  # the no-good cuts exhaust all 6 orders
    assert_k_best(everything, all_orders(linear_objective(3, 2)), 10, exact=True)


# --------------------------------------------------------------------------------------------
# Planted instances: recover the hidden order
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, time_limit", [(12, 1.0), (30, 1.0), (60, 2.0)])
def test_planted_recovered(n: int, time_limit: float) -> None:
    objective, hidden = planted(n, n)
    solution = solve(objective, time_limit=time_limit)
    assert_permutation(solution.order, n)
    assert kendall_tau(solution.order, hidden) >= 0.95
    assert solution.value >= objective.value(hidden) - 1e-9
    if solution.bound is not None:
        assert solution.bound >= solution.value
    heuristic = solve_heuristic(objective, time_limit=time_limit / 2)
    assert kendall_tau(heuristic.order, hidden) >= 0.95


def test_cpsat_proves_planted_and_uses_hint() -> None:
    objective, hidden = planted(20, 1)
    solution = solve_cpsat(objective, time_limit=10.0, hint=hidden)
    assert solution.optimal and solution.method == "cpsat"
    assert solution.order == hidden
    assert solution.bound == solution.value


def test_auto_beyond_dp_reports_cpsat_bound() -> None:
    objective, hidden = planted(24, 2)
    solution = solve(objective, time_limit=2.0)
    assert solution.method in ("cpsat", "heuristic+cpsat")
    assert solution.order == hidden
    assert solution.bound is not None and solution.bound >= solution.value


def test_large_heuristic_returns_a_permutation() -> None:
    n = 300
    objective, hidden = planted(n, 7, noise=1.0)
    solution = solve_heuristic(objective, time_limit=0.5)
    assert_permutation(solution.order, n)
    assert solution.value == pytest.approx(objective.value(solution.order))
    assert kendall_tau(solution.order, hidden) > 0.5
    # and with constraints, which the large-instance code paths must respect too
    others = [u for u in hidden if u not in (0, 1)]
    constraints = Constraints(
        first=others[-1], before=((others[5], others[2]),), groups=((others[9], 0, 1),)
    )
    constrained = solve(objective, constraints, time_limit=0.5)
    assert_permutation(constrained.order, n)
    assert constraints.satisfied_by(constrained.order)


# --------------------------------------------------------------------------------------------
# Constraints honoured
# --------------------------------------------------------------------------------------------

CONSTRAINTS = [
    Constraints(first=3),
    Constraints(last=0),
    Constraints(first=6, last=5),
    Constraints(before=((6, 0), (5, 1), (4, 2))),
    Constraints(groups=((5, 2, 0),)),
    Constraints(groups=((1, 0), (6, 4)), before=((6, 2),), first=3),
    Constraints(groups=((0, 1, 2, 3, 4, 5, 6),)),
]


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("constraints", CONSTRAINTS)
def test_constraints_honoured(name: str, constraints: Constraints) -> None:
    objective, _ = planted(7, 11)  # the hidden order breaks the constraints
    reference = all_orders(objective, constraints)[0][0]
    solution = CALLS[name](objective, constraints)
    assert_permutation(solution.order, 7)
    assert constraints.satisfied_by(solution.order)
    assert solution.value <= reference + 1e-9
    if name in EXACT:
        assert solution.value >= reference - rounding_tolerance(7)
        assert solution.optimal


@pytest.mark.parametrize("name", CALLS)
def test_groups_shrink_the_problem(name: str) -> None:
    # 12 units in 8 blocks: brute force and the DP count blocks, not units
    objective = random_objective(12, 4)
    constraints = Constraints(groups=((0, 1, 2), (3, 4), (7, 6, 5)), before=((11, 3),))
    solution = CALLS[name](objective, constraints)
    assert constraints.satisfied_by(solution.order)
    reference = solve_dp(objective, constraints)
    assert solution.value <= reference.value + 1e-9
    if name in EXACT:
        assert solution.value >= reference.value - rounding_tolerance(8)


# --------------------------------------------------------------------------------------------
# k best
# --------------------------------------------------------------------------------------------


def assert_k_best(
    solutions: list[Solution], expected: list[tuple[float, list[int]]], k: int, exact: bool
) -> None:
    orders = [tuple(s.order) for s in solutions]
    assert len(set(orders)) == len(orders)
    values = [s.value for s in solutions]
    assert values == sorted(values, reverse=True)
    assert len(solutions) == min(k, len(expected))
    assert values[0] == pytest.approx(expected[0][0])
    if exact:
        np.testing.assert_allclose(values, [v for v, _ in expected[:k]], atol=rounding_tolerance(8))
        assert all(s.optimal for s in solutions)


# k_best's keyword arguments that force each code path on a small instance, by lowering the
# thresholds that select it
K_BEST_PATHS: dict[str, dict[str, int]] = {
    "brute-force": {},
    "dp": {"brute_force_max_n": 0},
    "cpsat": {"brute_force_max_n": 0, "dp_max_states": 0},
    "heuristic": {"brute_force_max_n": 0, "dp_max_states": 0, "cpsat_max_n": 0},
}


@pytest.mark.parametrize("path", ["brute-force", "dp", "cpsat", "heuristic"])
@pytest.mark.parametrize("constraints", [None, Constraints(before=((1, 0),), groups=((2, 3),))])
def test_k_best(path: str, constraints: Constraints | None) -> None:
    n, k = 7, 6
    objective = planted(n, 21)[0] if path == "heuristic" else random_objective(n, 21)
    solutions = k_best(objective, k, constraints, time_limit=2.0, **K_BEST_PATHS[path])
    for s in solutions:
        assert_permutation(s.order, n)
        assert (constraints or Constraints()).satisfied_by(s.order)
    assert_k_best(solutions, all_orders(objective, constraints), k, exact=path != "heuristic")


@pytest.mark.parametrize("path", ["brute-force", "dp", "cpsat"])
def test_k_best_returns_all_orders_when_fewer_than_k(path: str) -> None:
    objective = random_objective(3, 2)
    solutions = k_best(objective, 10, **K_BEST_PATHS[path])
    assert_k_best(solutions, all_orders(objective), 10, exact=True)
    assert len(solutions) == 6


def test_k_best_beyond_the_dp_and_trivial_cases() -> None:
    objective, hidden = planted(17, 3)
    solutions = k_best(objective, 8, time_limit=1.5)  # 2^17 * 17 * 8 states: CP-SAT rounds
    assert solutions[0].order == hidden
    assert solutions[0].value == pytest.approx(solve_dp(objective).value)
    values = [s.value for s in solutions]
    assert values == sorted(values, reverse=True)
    assert len({tuple(s.order) for s in solutions}) == 8
    assert [s.order for s in k_best(Objective.zeros(1), 3)] == [[0]]
    with pytest.raises(InvalidInputError):
        k_best(objective, 0)


# --------------------------------------------------------------------------------------------
# Validation and determinism
# --------------------------------------------------------------------------------------------


def test_method_names() -> None:
    objective = random_objective(4, 0)
    allowed = "'auto', 'dp', 'cpsat', 'heuristic', 'brute-force'"
    with pytest.raises(InvalidInputError, match=allowed):
        solve(objective, method="fast")
    methods = {m: solve(objective, method=m, time_limit=0.5).method for m in search.METHODS}
    assert methods == {
        "auto": "dp",
        "dp": "dp",
        "cpsat": "cpsat",
        "heuristic": "heuristic",
        "brute-force": "brute-force",
    }


@pytest.mark.parametrize("time_limit", [0, -1.0, float("nan"), float("inf"), "soon"])
def test_bad_time_limit(time_limit: object) -> None:
    objective = random_objective(4, 0)
    with pytest.raises(InvalidInputError, match="time_limit"):
        solve(objective, time_limit=time_limit)
    with pytest.raises(InvalidInputError, match="time_limit"):
        solve_heuristic(objective, time_limit=time_limit)


def test_other_validation() -> None:
    with pytest.raises(InvalidInputError, match="at most 20"):
        solve_dp(Objective.zeros(21))
    with pytest.raises(InvalidInputError, match="at most 8"):
        solve_brute_force(Objective.zeros(9))
    with pytest.raises(InvalidInputError, match="Objective"):
        solve(np.zeros((3, 3)))
    with pytest.raises(InvalidInputError, match="Constraints"):
        solve(Objective.zeros(3), {"first": 0})
    with pytest.raises(InvalidInputError, match="hint"):
        solve_cpsat(Objective.zeros(3), hint=[0, 0, 1])


def test_threshold_parameters() -> None:
    # the defaults are the module's constants, so solve and k_best behave as without them
    assert inspect.signature(solve).parameters["dp_max_n"].default == AUTO_DP_MAX_N
    assert inspect.signature(solve).parameters["cpsat_max_n"].default == CPSAT_AUTO_MAX_N
    defaults = {p.name: p.default for p in inspect.signature(k_best).parameters.values()}
    assert defaults["brute_force_max_n"] == BRUTE_FORCE_MAX_N
    assert defaults["dp_max_states"] == KBEST_DP_MAX_STATES
    assert defaults["cpsat_max_n"] == CPSAT_AUTO_MAX_N
    objective = random_objective(5, 0)
    assert solve(objective, dp_max_n=0).method in ("cpsat", "heuristic+cpsat")
    assert solve(objective, dp_max_n=0, cpsat_max_n=0).method == "heuristic"
    assert {s.method for s in k_best(objective, 3, brute_force_max_n=0)} == {"dp"}
    for kwargs in ({"dp_max_n": DP_MAX_N + 1}, {"dp_max_n": -1}, {"cpsat_max_n": "80"}):
        with pytest.raises(InvalidInputError, match=next(iter(kwargs))):
            solve(objective, **kwargs)
    for kwargs in (
        {"brute_force_max_n": BRUTE_FORCE_MAX_N + 1},
        {"dp_max_states": -1},
        {"cpsat_max_n": 1.5},
    ):
        with pytest.raises(InvalidInputError, match=next(iter(kwargs))):
            k_best(objective, 3, **kwargs)


def test_deterministic() -> None:
    objective, _ = planted(25, 8, noise=1.0)
    for run in (
        lambda: solve_heuristic(objective, time_limit=20.0, seed=3),
        lambda: solve(objective, time_limit=2.0),
        lambda: solve(random_objective(10, 1)),
    ):
        assert run() == run()
