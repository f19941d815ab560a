"""Anytime heuristic solvers: good orders at any size, without proof."""

from __future__ import annotations

from .local_search import solve_heuristic

__all__ = ["solve_heuristic"]
