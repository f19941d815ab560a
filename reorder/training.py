"""Training: fit the coherence models on ordered corpora and tune the objective's weights on a dev set."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence

import numpy as np

from .coherence import CoherenceModel, PairwiseScores
from .corpus import CorpusDocument
from .embedding import Embedder, embed_unique
from .evaluation import evaluate
from .objective import objective_from_scores
from .search import solve

logger = logging.getLogger(__name__)

WEIGHT_GRID = {
    "follows": (0.0, 0.5, 1.0, 2.0),
    "precedes": (0.5, 1.0),
    "position": (0.0, 0.5, 1.0, 2.0, 4.0),
}
"""The weights tried by :func:`tune_weights` (precedes fixed at 1 would leave only the ratios; two
values keep the search honest when the other terms are at their extremes)."""


def fit_model(
    documents: Sequence[CorpusDocument],
    embedder: Embedder,
    *,
    progress: Callable[[int], object] | None = None,
    training: dict | None = None,
    **params,
) -> CoherenceModel:
    """Embed each training document and fit a :class:`CoherenceModel` on them."""
    model = CoherenceModel(**params)
    pairs = ((list(doc.units), embed_unique(embedder, doc.units)) for doc in documents)
    return model.fit(pairs, embedder_name=embedder.name, training=training, progress=progress)


def tune_weights(
    model: CoherenceModel,
    documents: Sequence[CorpusDocument],
    embedder: Embedder,
    *,
    grid: dict[str, Sequence[float]] | None = None,
    max_units: int = 15,
    seed: int = 0,
    time_limit: float = 0.3,
    progress: Callable[[int], object] | None = None,
) -> tuple[dict[str, float], list[dict]]:
    """Choose the objective weights that maximise mean Kendall tau on dev documents.

    The dev documents are shuffled with ``seed`` (leak-free, see :mod:`reorder.evaluation`); their
    scores are computed once and every weight combination of ``grid`` is searched on them. Returns
    the best weights and one row per combination (weights, tau, first-unit accuracy).
    """
    grid = grid or WEIGHT_GRID
    docs = [d for d in documents if 2 <= len(d.units) <= max_units]
    cache: dict[tuple[str, ...], PairwiseScores] = {}

    def scores_of(units: Sequence[str]) -> PairwiseScores:
        key = tuple(units)
        if key not in cache:
            cache[key] = model.scores(units, embed_unique(embedder, units))
        return cache[key]

    rows = []
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    for weights in combos:
        if not any(weights.values()):
            continue

        def order(units, weights=weights):
            solution = solve(objective_from_scores(scores_of(units), weights), time_limit=time_limit, seed=seed)
            return solution.order, solution.optimal

        overall = evaluate(order, docs, seed=seed).overall
        rows.append({**weights, "tau": overall["tau"], "first": overall["first"]})
        if progress is not None:
            progress(1)
    best = max(rows, key=lambda r: (round(r["tau"], 6), r["first"]))
    logger.info("tuned weights %s: dev tau %.3f", best, best["tau"])
    return {k: float(best[k]) for k in grid}, rows
