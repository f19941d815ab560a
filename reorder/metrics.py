"""Order-quality metrics: plain functions of a predicted and a gold order.

Orders are sequences of unit ids; ``predicted`` lists the ids in the order a system chose and
``gold`` in the true order. Both must hold the same ids. Definitions (per document; corpora report
the macro average over documents):

- Kendall tau = 1 - 2 * inversions / C(n, 2), in [-1, 1]; 1.0 for n < 2.
- pairwise accuracy = share of unit pairs in the right relative order = (1 + tau) / 2.
- perfect match (PMR) = 1.0 if the whole order is right, else 0.0.
- positional accuracy = share of units at their gold position.
- first / last accuracy = 1.0 if the first / last unit is right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .errors import InvalidInputError

LENGTH_BUCKETS: tuple[tuple[int, int | None], ...] = ((2, 5), (6, 10), (11, 20), (21, None))
"""Document-length buckets (inclusive; ``None`` means unbounded) used in evaluation reports."""


def _ranks(predicted: Sequence, gold: Sequence) -> np.ndarray:
    """Gold rank of each unit in predicted order."""
    position = {unit: rank for rank, unit in enumerate(gold)}
    if len(position) != len(gold) or len(predicted) != len(gold) or set(predicted) != set(position):
        raise InvalidInputError(
            "predicted and gold must be orders of the same distinct units; got "
            f"{list(predicted)!r} and {list(gold)!r}"
        )
    return np.array([position[unit] for unit in predicted], dtype=np.int64)


def inversions(predicted: Sequence, gold: Sequence) -> int:
    """Number of unit pairs whose relative order in ``predicted`` disagrees with ``gold``."""
    ranks = _ranks(predicted, gold)
    return int(np.sum(ranks[:, None] > ranks[None, :], where=np.triu(np.ones((len(ranks),) * 2, bool), 1)))


def kendall_tau(predicted: Sequence, gold: Sequence) -> float:
    """Kendall's tau between two orders: 1 - 2 * inversions / C(n, 2); 1.0 when n < 2."""
    n = len(gold)
    if n < 2:
        _ranks(predicted, gold)
        return 1.0
    return 1.0 - 2.0 * inversions(predicted, gold) / (n * (n - 1) / 2)


def pairwise_accuracy(predicted: Sequence, gold: Sequence) -> float:
    """Share of unit pairs in the right relative order: (1 + tau) / 2."""
    return (1.0 + kendall_tau(predicted, gold)) / 2.0


def perfect_match(predicted: Sequence, gold: Sequence) -> float:
    """1.0 if ``predicted`` equals ``gold`` exactly, else 0.0."""
    _ranks(predicted, gold)
    return float(list(predicted) == list(gold))


def positional_accuracy(predicted: Sequence, gold: Sequence) -> float:
    """Share of units placed at their gold position."""
    ranks = _ranks(predicted, gold)
    if len(ranks) == 0:
        return 1.0
    return float(np.mean(ranks == np.arange(len(ranks))))


def first_accuracy(predicted: Sequence, gold: Sequence) -> float:
    """1.0 if the first unit is right (1.0 for an empty order)."""
    _ranks(predicted, gold)
    return float(len(gold) == 0 or predicted[0] == gold[0])


def last_accuracy(predicted: Sequence, gold: Sequence) -> float:
    """1.0 if the last unit is right (1.0 for an empty order)."""
    _ranks(predicted, gold)
    return float(len(gold) == 0 or predicted[-1] == gold[-1])


METRICS = {
    "tau": kendall_tau,
    "pmr": perfect_match,
    "positional": positional_accuracy,
    "first": first_accuracy,
    "last": last_accuracy,
    "pairwise": pairwise_accuracy,
}
"""Every per-document metric by its report name."""


def document_scores(predicted: Sequence, gold: Sequence) -> dict[str, float]:
    """All metrics of one document, by report name."""
    return {name: fn(predicted, gold) for name, fn in METRICS.items()}


def bucket_name(n: int) -> str:
    """The length bucket a document of ``n`` units falls in, e.g. ``"6-10"`` or ``"21+"``."""
    for low, high in LENGTH_BUCKETS:
        if n >= low and (high is None or n <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return f"<{LENGTH_BUCKETS[0][0]}"


def macro_average(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    """Average each metric over documents (macro); adds ``docs``, the number of documents."""
    rows = list(rows)
    summary: dict[str, float] = {"docs": len(rows)}
    for name in METRICS:
        values = [row[name] for row in rows if name in row]
        summary[name] = float(np.mean(values)) if values else float("nan")
    return summary
