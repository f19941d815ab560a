"""Hard constraints on an order (first, last, before, groups): validation and feasibility."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ..validation import (
    check_index,
    check_non_negative_int,
    check_optional_index,
    check_permutation,
    check_sequence,
)

__all__ = ["Constraints"]


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
    met by some order of ``n`` units; :meth:`restricted_to` renumbers them for a sub-list of units.
    """

    first: int | None = None
    last: int | None = None
    before: tuple[tuple[int, int], ...] = ()
    groups: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "first", check_optional_index(self.first, "first"))
        object.__setattr__(self, "last", check_optional_index(self.last, "last"))
        pairs = []
        for pair in check_sequence(self.before, "before"):
            items = tuple(check_sequence(pair, "each pair of before"))
            if len(items) != 2:
                raise InvalidInputError(f"each pair of before must be (a, b), got {pair!r}")
            pairs.append((check_index(items[0], "before"), check_index(items[1], "before")))
        object.__setattr__(self, "before", tuple(pairs))
        groups = tuple(
            tuple(check_index(u, "groups") for u in check_sequence(group, "each group"))
            for group in check_sequence(self.groups, "groups")
        )
        object.__setattr__(self, "groups", groups)

    @property
    def empty(self) -> bool:
        """True when nothing is constrained."""
        return self.first is None and self.last is None and not self.before and not self.groups

    @property
    def named(self) -> frozenset[int]:
        """Every unit some constraint names."""
        return frozenset({self.first, self.last, *(i for pair in self.before for i in pair),
                          *(i for group in self.groups for i in group)} - {None})

    def restricted_to(self, units: Sequence[int]) -> Constraints:
        """The same constraints renumbered among ``units``: unit ``units[k]`` becomes index ``k``.

        For constraints stated on the indices of a larger list (e.g. every unit of a text) and a
        search over some of them (e.g. its content units). Raises ``InvalidInputError`` when a
        constraint names an index that is not in ``units``, or when ``units`` repeats an index.
        """
        where: dict[int, int] = {}
        for k, unit in enumerate(check_sequence(units, "units")):
            unit = check_index(unit, "units")
            if unit in where:
                raise InvalidInputError(f"units lists unit {unit} twice")
            where[unit] = k

        def local(i: int) -> int:
            if i not in where:
                raise InvalidInputError(
                    f"constraint names unit {i}, which is not a content unit (or does not exist)"
                )
            return where[i]

        return Constraints(
            first=None if self.first is None else local(self.first),
            last=None if self.last is None else local(self.last),
            before=tuple((local(a), local(b)) for a, b in self.before),
            groups=tuple(tuple(local(i) for i in group) for group in self.groups),
        )

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
        o = check_permutation(order, len(order), "order")
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
        n = check_non_negative_int(n, "n")

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
