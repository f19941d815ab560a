"""Exact solvers: brute force and subset DP (always proven) and CP-SAT (proven when it can be)."""

from __future__ import annotations

from .brute_force import BRUTE_FORCE_MAX_N, solve_brute_force
from .cpsat import CPSAT_SCALE, solve_cpsat
from .dp import DP_MAX_N, solve_dp

__all__ = [
    "BRUTE_FORCE_MAX_N",
    "CPSAT_SCALE",
    "DP_MAX_N",
    "solve_brute_force",
    "solve_cpsat",
    "solve_dp",
]
