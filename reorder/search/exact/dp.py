"""Exact subset dynamic programming (Held-Karp style): the best or the k best orders."""

from __future__ import annotations

import numpy as np

from ...errors import InvalidInputError
from ...objective import Objective
from ..constraints import Constraints
from ..problem import Solution, _Problem, _problem, _solution, _trivial

__all__ = ["DP_MAX_N", "solve_dp"]

#: ``solve_dp`` refuses more blocks than this (2^20 * 20 states: ~250 MB).
DP_MAX_N = 20


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


def _k_best_dp(objective: Objective, prob: _Problem, k: int) -> list[Solution]:
    """The ``k`` best feasible orders (all of them when fewer), best first; ``prob.nb >= 2``."""
    return [
        _solution(objective, prob, o, optimal=True, bound=None, method="dp")
        for o in _subset_dp(prob, k)
    ]


def solve_dp(objective: Objective, constraints: Constraints | None = None) -> Solution:
    """Exact Held-Karp style subset DP, vectorised in numpy; at most ``DP_MAX_N`` blocks.

    ``O(2^n n^2)`` time, ``O(2^n n)`` memory (float64 values and int16 parent pointers); the
    package docstring gives typical times.

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
