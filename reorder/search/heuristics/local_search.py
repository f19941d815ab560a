"""The anytime heuristic: Borda and beam-search starts, local search, iterated local search."""

from __future__ import annotations

import time

import numpy as np

from ...objective import Objective
from ...validation import check_index, check_time_limit
from ..constraints import Constraints
from ..problem import Solution, _borda_start, _Problem, _problem, _solution, _trivial

__all__ = ["ILS_STALL_KICKS", "solve_heuristic"]

#: Beam width, largest instance that gets a real beam (beyond: greedy, width 1), largest instance
#: that gets the O(n^2)-per-step swap neighbourhood, longest moved block and largest instance
#: that moves blocks longer than 1.
BEAM_WIDTH = 16
BEAM_MAX_N = 300
SWAP_MAX_N = 150
BLOCK_MOVE_MAX_LEN = 3
BLOCK_MOVE_MAX_N = 400
#: Iterated local search stops after this many kicks in a row without improvement.
ILS_STALL_KICKS = 100


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
    time_limit = check_time_limit(time_limit)
    seed = check_index(seed, "seed")
    objective, prob = _problem(objective, constraints)
    if prob.nb <= 1:
        return _trivial(objective, prob, "heuristic")
    order = _heuristic_order(prob, started + time_limit, seed)
    return _solution(objective, prob, order, optimal=False, bound=None, method="heuristic")
