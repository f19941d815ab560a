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
  (the limit, ``DP_MAX_N``).
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

All solvers share one shape, ``solve_x(objective, constraints=None, *, ...) -> Solution``, and
``SOLVERS`` maps the names of ``solve(method=...)`` to them. Groups are contracted to single
*blocks* before any search (an exact reduction), so the size limits of the exact solvers count
blocks, not units.

Determinism: the same input gives the same output. Ties are broken by a fixed rule (brute force:
the lexicographically smallest order of blocks; DP: the lowest-index predecessor). The heuristic
uses a seeded generator and CP-SAT a fixed seed with one worker, but both are anytime searches
cut by a wall-clock limit: their output is reproducible when the search ends on its own (local
optimum reached and no improvement in ``ILS_STALL_KICKS`` kicks, or ``AUTO_ILS_STALL_KICKS``
before a linear ordering CP-SAT model; CP-SAT proves optimality) before ``time_limit``, and may
otherwise depend on the machine's speed.

Modules: :mod:`.constraints` (the constraints), :mod:`.problem` (the reduced problem and
:class:`Solution`), :mod:`.exact` (brute force, DP, CP-SAT), :mod:`.heuristics` (local search)
and :mod:`.auto` (:func:`solve` and :func:`k_best`).
"""

from __future__ import annotations

from ..objective import Objective
from .auto import AUTO_DP_MAX_N, CPSAT_AUTO_MAX_N, METHODS, SOLVERS, k_best, solve
from .constraints import Constraints
from .exact import (
    BRUTE_FORCE_MAX_N,
    CPSAT_SCALE,
    DP_MAX_N,
    solve_brute_force,
    solve_cpsat,
    solve_dp,
)
from .heuristics import solve_heuristic
from .problem import Solution

__all__ = [
    "AUTO_DP_MAX_N",
    "BRUTE_FORCE_MAX_N",
    "CPSAT_AUTO_MAX_N",
    "CPSAT_SCALE",
    "DP_MAX_N",
    "METHODS",
    "SOLVERS",
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
