"""Benchmark the solvers of reorder.search on instances planted from a hidden order plus noise.

Prints, per solver and size: wall time, whether optimality was proven, the gap to the proven
bound, and Kendall tau to the hidden order. Uses only the public API.

    python experiments/bench_search.py               # DP n=12..18, CP-SAT n=20..60, heuristic
    python experiments/bench_search.py --dp-max 20   # include the DP at n = 19, 20 (~300 MB)
    python experiments/bench_search.py --no-follows  # linear ordering: follows all zero
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import ortools

from reorder import Objective
from reorder.search import solve_cpsat, solve_dp, solve_heuristic


def planted(
    n: int, seed: int, noise: float, follows_weight: float = 1.0
) -> tuple[Objective, list[int]]:
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
    return Objective(follows_weight * follows, precedes, first, last), [int(u) for u in hidden]


def kendall_tau(order: list[int], reference: list[int]) -> float:
    n = len(order)
    pos = np.empty(n, dtype=int)
    pos[np.array(reference)] = np.arange(n)
    p = pos[np.array(order)]
    return 1 - 2 * int(np.triu(p[:, None] > p[None, :], 1).sum()) / (n * (n - 1) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.5, help="sd of the score noise")
    parser.add_argument("--dp-max", type=int, default=18)
    parser.add_argument("--cpsat-time-limit", type=float, default=10.0)
    parser.add_argument("--no-follows", action="store_true",
                        help="zero the follows scores (as the shipped model's tuned weights do)")
    args = parser.parse_args()
    print(
        f"# seed={args.seed} noise={args.noise} numpy={np.__version__} "
        f"ortools={ortools.__version__} python={platform.python_version()} "
        f"machine={platform.machine()} follows={'zero' if args.no_follows else 'planted'}"
    )
    print(f"{'solver':<10} {'n':>5} {'seconds':>8} {'optimal':>8} {'gap':>8} {'tau':>6}")

    def report(name: str, n: int, run) -> None:
        objective, hidden = planted(n, args.seed + n, args.noise, 0.0 if args.no_follows else 1.0)
        started = time.perf_counter()
        solution = run(objective)
        seconds = time.perf_counter() - started
        gap = "" if solution.bound is None else f"{solution.bound - solution.value:.3f}"
        print(
            f"{name:<10} {n:>5} {seconds:>8.3f} {str(solution.optimal):>8} {gap:>8} "
            f"{kendall_tau(solution.order, hidden):>6.3f}",
            flush=True,
        )

    for n in range(12, args.dp_max + 1):
        report("dp", n, solve_dp)
    for n in (20, 30, 40, 50, 60):
        report("cpsat", n, lambda o: solve_cpsat(o, time_limit=args.cpsat_time_limit))
    for n in (20, 60, 150, 500, 2000):
        report("heuristic", n, lambda o: solve_heuristic(o, time_limit=1.0))


if __name__ == "__main__":
    main()
