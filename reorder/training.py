"""Training: fit the coherence models on ordered corpora and tune the objective's weights on a dev set."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Sequence

from .coherence import CoherenceModel, PairwiseScores
from .corpus import CorpusDocument, read_corpora, read_corpus
from .embedding import CachedEmbedder, Embedder, default_cache_path, embed_unique, load_embedder
from .evaluation import evaluate
from .objective import DEFAULT_WEIGHTS, objective_from_scores
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


def train(
    corpora: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    dev: str | os.PathLike[str] | None = None,
    dev_limit: int = 300,
    limit: int | None = None,
    embedder: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    hidden: int = 128,
    max_pairs: int = 60,
    members: int = 5,
    seed: int = 0,
    progress: Callable[[str, int | None], Callable[[int], object]] | None = None,
) -> tuple[CoherenceModel, dict[str, float], list[dict], int]:
    """What ``reorder train`` does: fit a model on ``corpora``, tune its weights on ``dev`` (its first
    ``dev_limit`` documents of at most 15 units), save it to ``output``.

    Embeddings go through the disk cache (``cache`` or :func:`~reorder.embedding.default_cache_path`).
    ``progress(stage, total)``, when given, returns the callback each stage reports to (``stage`` is
    "features" with the number of documents, or "tuning"). Returns the model, the tuned weights (the
    defaults without ``dev``), the tuning rows and the number of dev documents tuned on.
    """
    report = progress or (lambda stage, total: None)
    documents = read_corpora(corpora, limit=limit)
    embed = CachedEmbedder(load_embedder(embedder), cache or default_cache_path())
    training = {"corpora": [os.path.basename(c) for c in corpora], "limit": limit, "seed": seed}
    model = fit_model(documents, embed, progress=report("features", len(documents)), training=training,
                      hidden=hidden, max_pairs_per_doc=max_pairs, n_members=members, random_state=seed)
    weights, rows, dev_docs = dict(DEFAULT_WEIGHTS), [], []
    if dev:
        dev_docs = [d for d in read_corpus(dev) if len(d.units) <= 15][:dev_limit]
        weights, rows = tune_weights(model, dev_docs, embed, seed=seed, progress=report("tuning", None))
    model.save(output, extra={"objective": weights, "name": os.path.basename(os.path.normpath(output)),
                              "tuning": {"dev": os.path.basename(dev) if dev else None,
                                         "docs": dev_limit if dev else 0}})
    return model, weights, rows, len(dev_docs)
