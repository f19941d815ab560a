"""The Reorderer: ties splitting, embedding, scoring and search together.

    text --(document: units, roles)--> embeddings --(coherence: scores)--> objective --(search)--> order

``Reorderer()`` with no arguments uses the shipped news model and the embedder it was trained with:
"news" (all-mpnet-base-v2 embeddings) when the mpnet packages are installed, else "news-minilm"
(all-MiniLM-L6-v2, a hard dependency), with a warning that says how to get the better one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .coherence import CoherenceModel, PairwiseScores
from .document import FURNITURE_OPTIONS, UNIT_KINDS, arrange, detect_roles, split
from .embedding import DEFAULT_MODEL as DEFAULT_EMBEDDER
from .embedding import (
    MPNET_INSTALL,
    PACKAGED_MODELS,
    CachedEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    embed_unique,
    mpnet_available,
)
from .errors import InvalidInputError, ModelError
from .objective import DEFAULT_WEIGHTS, PROBABILITY_FLOOR, Objective, objective_from_scores
from .search import Constraints, Solution, k_best, solve

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent / "models"
SHIPPED_MODELS = ("news", "news-minilm")
"""Coherence models shipped inside the package (trained on ../shared/corpora/news-train*.jsonl): "news"
on all-mpnet-base-v2 embeddings, "news-minilm" on all-MiniLM-L6-v2 (faster, less accurate)."""
DEFAULT_MODEL_DIR = MODELS_DIR / "news"
FALLBACK_MODEL_DIR = MODELS_DIR / "news-minilm"

SIMILARITY = "similarity"
"""Model name of the unsupervised scorer: embedding similarity only, no learned direction."""

METHODS = ("auto", "dp", "cpsat", "heuristic", "brute-force")


def default_cache_path() -> Path:
    """Where the optional embedding cache lives: $REORDER_CACHE or ~/.cache/reorder/embeddings.sqlite."""
    env = os.environ.get("REORDER_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reorder" / "embeddings.sqlite"


class SimilarityScorer:
    """Unsupervised scores from embeddings alone: neighbours are similar, the lead is the most central.

    Cosine similarity carries no direction, so ``precedes`` is flat (0.5) and the order's direction
    comes only from the centrality of the first unit. A baseline, and the fallback without a model.
    """

    embedder_name_ = None

    def scores(self, units: Sequence[str], embeddings: np.ndarray, *, skip: Sequence[str] = ()) -> PairwiseScores:
        emb = np.asarray(embeddings, dtype=np.float64)
        n = len(units)
        cosine = emb @ emb.T if n else np.zeros((0, 0))
        follows = (cosine + 1.0) / 2.0
        np.fill_diagonal(follows, 0.0)
        centre = emb.mean(axis=0) if n else np.zeros(emb.shape[1:])
        central = emb @ centre
        lead = np.exp(central - central.max()) if n else central
        first = lead / lead.sum() if n else lead
        position = np.stack([first, 1.0 - first - 1.0 / max(n, 1) * 0.5, np.full(n, 0.5 / max(n, 1))], axis=1)
        position = np.clip(position, PROBABILITY_FLOOR, None)
        position /= position.sum(axis=1, keepdims=True)
        return PairwiseScores(follows=follows, precedes=np.full((n, n), 0.5), position=position)


@dataclass(frozen=True)
class OrderResult:
    """What :meth:`Reorderer.reorder_text` found for one text.

    Attributes
    ----------
    permutation : list of int
        The output's units as indices into the input's units (furniture dropped if asked).
    roles : list of str
        Each input unit's role: "content", "heading" or "furniture".
    units : tuple of str
        The input's units, exactly as in the text.
    text : str
        The reordered text.
    value : float
        Objective value of the content order (higher is better).
    optimal : bool
        Whether the search proved the content order optimal.
    bound : float or None
        A proven upper bound on the objective, when the search has one.
    method : str
        Which solver produced the order.
    signature : str
        Everything needed to reproduce the result (version, models, weights, search settings).
    """

    permutation: list[int]
    roles: list[str]
    units: tuple[str, ...]
    text: str
    value: float
    optimal: bool
    bound: float | None
    method: str
    signature: str
    content_order: list[int] = field(default_factory=list)


class Reorderer:
    """Restore a plausible order to scrambled units, and score how coherent an order is.

    Parameters
    ----------
    model : str, Path, CoherenceModel or None
        ``None`` for the shipped news model ("news" on all-mpnet-base-v2, or "news-minilm" when the
        mpnet packages are missing or the embedder is all-MiniLM-L6-v2); a shipped model's name; a
        model directory written by ``reorder train``; a fitted :class:`CoherenceModel`; or
        ``"similarity"`` for the unsupervised embedding-similarity scorer.
    embedder : str, Embedder or None
        ``None`` for the embedder the coherence model was trained with when it is one of the packaged
        models (all-mpnet-base-v2, all-MiniLM-L6-v2), else all-MiniLM-L6-v2; a local model directory
        or hub name; or any object with ``name`` and ``encode(list[str]) -> ndarray``.
    method : {"auto", "dp", "cpsat", "heuristic", "brute-force"}
        The search (see :mod:`reorder.search`); "auto" is exact where a proof is cheap.
    time_limit : float
        Seconds the search may spend beyond the exact range.
    weights : dict or None
        Weights of the follows / precedes / position terms; ``None`` takes the model's tuned weights.
    unit : {"paragraph", "line", "sentence"}
        How :meth:`reorder_text` splits a text.
    roles : bool
        Detect headings and page furniture in :meth:`reorder_text` (False: every unit is content).
    furniture : {"keep", "drop", "end"}
        Furniture keeps its slots, is dropped, or goes to the end.
    cache : str, Path or None
        An SQLite file caching embeddings between runs (None: no disk cache).
    seed : int
        Seed of the randomised parts of the search.
    """

    def __init__(
        self,
        model=None,
        embedder=None,
        *,
        method: str = "auto",
        time_limit: float = 1.0,
        weights: dict[str, float] | None = None,
        unit: str = "paragraph",
        roles: bool = True,
        furniture: str = "keep",
        cache: str | os.PathLike[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.embedder = embedder
        self.method = method
        self.time_limit = time_limit
        self.weights = weights
        self.unit = unit
        self.roles = roles
        self.furniture = furniture
        self.cache = cache
        self.seed = seed
        self._scorer = None
        self._meta: dict = {}
        self._embedder = None

    # --- components, built lazily -------------------------------------------------------------
    def _validate(self) -> None:
        if self.method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.unit not in UNIT_KINDS:
            raise InvalidInputError(f"unit must be one of {', '.join(UNIT_KINDS)}; got {self.unit!r}")
        if self.furniture not in FURNITURE_OPTIONS:
            raise InvalidInputError(f"furniture must be one of {', '.join(FURNITURE_OPTIONS)}; got {self.furniture!r}")
        if not (self.time_limit > 0):
            raise InvalidInputError(f"time_limit must be > 0 seconds; got {self.time_limit!r}")

    @property
    def scorer(self):
        """The coherence scorer in use (loaded on first access)."""
        if self._scorer is None:
            model = self.model
            if isinstance(model, (CoherenceModel, SimilarityScorer)):
                self._scorer, self._meta = model, getattr(model, "meta_", {})
            elif model == SIMILARITY:
                self._scorer, self._meta = SimilarityScorer(), {"name": SIMILARITY}
            else:
                directory = self._model_directory()
                self._scorer, self._meta = CoherenceModel.load(directory)
        return self._scorer

    def _model_directory(self) -> Path:
        """The directory of the coherence model named by ``model`` (a shipped name or a path)."""
        model = self.model
        if model is None:
            embedder = self.embedder
            name = getattr(embedder, "name", None) if embedder is not None and not isinstance(
                embedder, (str, os.PathLike)) else embedder
            if name is not None and str(name).removeprefix("sentence-transformers/") == DEFAULT_EMBEDDER:
                return self._shipped(FALLBACK_MODEL_DIR)  # asked for MiniLM: its model
            if name is None and not mpnet_available():
                logger.warning(
                    "the all-mpnet-base-v2 packages are not installed: using the faster, less accurate "
                    "news-minilm model; for the default one run `%s`", MPNET_INSTALL)
                return self._shipped(FALLBACK_MODEL_DIR)
            return self._shipped(DEFAULT_MODEL_DIR)
        if str(model) in SHIPPED_MODELS and not Path(model).exists():
            return self._shipped(MODELS_DIR / str(model))
        return Path(model)

    @staticmethod
    def _shipped(directory: Path) -> Path:
        if not directory.is_dir():
            raise ModelError(f"the shipped model is missing from {directory}; reinstall reorder")
        return directory

    def _built_embedder(self) -> Embedder:
        """The embedder named by ``embedder`` (wrapped in the disk cache if asked), built once."""
        if self._embedder is None:
            embedder = self.embedder
            if embedder is None:
                # The embedder the coherence model was trained with, when it is one that works offline.
                trained_with = getattr(self.scorer, "embedder_name_", None)
                embedder = trained_with if trained_with in PACKAGED_MODELS else None
            if embedder is None or isinstance(embedder, (str, os.PathLike)):
                embedder = SentenceTransformerEmbedder(None if embedder is None else str(embedder))
            if self.cache is not None:
                embedder = CachedEmbedder(embedder, self.cache)
            self._embedder = embedder
        return self._embedder

    @property
    def embedder_(self) -> Embedder:
        """The embedder in use, checked against the one the coherence model was trained with."""
        self._built_embedder()
        trained_with = getattr(self.scorer, "embedder_name_", None)
        if trained_with is not None and trained_with != self._embedder.name:
            raise ModelError(
                f"the coherence model was trained on {trained_with!r} embeddings but the embedder is "
                f"{self._embedder.name!r}; pass the matching embedder or retrain with `reorder train --embedder`"
            )
        return self._embedder

    @property
    def weights_(self) -> dict[str, float]:
        """The objective's weights: explicit ones, else the model's tuned ones, else 1 each."""
        if self.weights is not None:
            weights = {**DEFAULT_WEIGHTS, **self.weights}
        else:
            self.scorer
            weights = {**DEFAULT_WEIGHTS, **self._meta.get("objective", {})}
        for name, value in weights.items():
            if name not in DEFAULT_WEIGHTS or not np.isfinite(value) or value < 0:
                raise InvalidInputError(f"weights must be finite, >= 0 and named {sorted(DEFAULT_WEIGHTS)}; got {name}={value!r}")
        return weights

    def signature(self) -> str:
        """A sacrebleu-style signature: everything needed to reproduce a result."""
        w = self.weights_
        model = self._meta.get("name") or (
            "news" if self.model is None
            else str(self.model) if isinstance(self.model, (str, os.PathLike))
            else f"{type(self.model).__name__}(unsaved)"  # never the object's repr: it holds its address
        )
        return (
            f"reorder:{__version__}|model:{model}|embedder:{self.embedder_.name}"
            f"|weights:f{w['follows']:g}+p{w['precedes']:g}+pos{w['position']:g}"
            f"|search:{self.method}-{self.time_limit:g}s|seed:{self.seed}"
        )

    # --- the core ------------------------------------------------------------------------------
    def embed(self, units: Sequence[str]) -> np.ndarray:
        """Embeddings of the units, shape (n, d); each distinct text is embedded once."""
        return embed_unique(self.embedder_, list(units))

    def pairwise_scores(
        self, units: Sequence[str], embeddings: np.ndarray | None = None, *, skip: Sequence[str] = ()
    ) -> PairwiseScores:
        """The scorer's follows / precedes / position probabilities for the units (``skip``: see
        :meth:`CoherenceModel.scores`)."""
        units = _check_units(units)
        if embeddings is None:
            embeddings = self.embed(units)
        return self.scorer.scores(units, embeddings, skip=skip)

    def objective(self, units: Sequence[str], embeddings: np.ndarray | None = None) -> Objective:
        """The additive objective over orders of ``units`` (see :func:`objective_from_scores`)."""
        weights = self.weights_
        unused = tuple(name for name in ("follows", "precedes") if weights[name] == 0)
        return objective_from_scores(self.pairwise_scores(units, embeddings, skip=unused), weights)

    def solve(
        self,
        units: Sequence[str],
        constraints: Constraints | None = None,
        *,
        embeddings: np.ndarray | None = None,
    ) -> Solution:
        """Search for the best order of ``units``; the full :class:`~reorder.search.Solution`."""
        self._validate()
        units = _check_units(units)
        if len(units) > 1:
            objective = self.objective(units, embeddings)
        else:
            objective = Objective.zeros(len(units))
        return solve(objective, constraints, method=self.method, time_limit=self.time_limit, seed=self.seed)

    def order(self, units: Sequence[str], constraints: Constraints | None = None) -> list[int]:
        """The restored order as indices into ``units`` (a permutation of ``range(len(units))``)."""
        return list(self.solve(units, constraints).order)

    def score(self, units: Sequence[str], order: Sequence[int] | None = None) -> float:
        """Objective value of ``order`` (default: the units' given order); higher is more coherent."""
        units = _check_units(units)
        if len(units) < 2:
            return 0.0
        order = list(range(len(units))) if order is None else list(order)
        return float(self.objective(units).value(order))

    def reorder_text(self, text: str, constraints: Constraints | None = None) -> OrderResult:
        """Split ``text``, order its content units, and render it back; furniture and heading per options.

        ``constraints`` refer to content units by their index among the text's units.
        """
        self._validate()
        document = split(text, self.unit)
        n = len(document)
        roles = detect_roles(document.units) if self.roles else ["content"] * n
        content = [i for i, role in enumerate(roles) if role == "content"]
        local = _local_constraints(constraints, content)
        solution = self.solve([document.units[i] for i in content], local)
        if not solution.optimal and len(content) > 1:  # e.g. beyond the exact solvers' range
            logger.warning("%d units: the order is the best the %s search found in %g s, not proven optimal",
                           len(content), solution.method, self.time_limit)
        content_order = [content[k] for k in solution.order]
        permutation = arrange(roles, content_order, furniture=self.furniture)
        rendered = _render(document, permutation)
        return OrderResult(
            permutation=permutation,
            roles=roles,
            units=document.units,
            text=rendered,
            value=float(solution.value),
            optimal=bool(solution.optimal),
            bound=None if solution.bound is None else float(solution.bound),
            method=solution.method,
            signature=self.signature(),
            content_order=content_order,
        )

    def reorder(self, text: str) -> str:
        """Convenience: the text with its units restored to the best order found."""
        return self.reorder_text(text).text

    # --- assessing orders (definitions in reorder.assessment) -----------------------------------
    def assess(self, units: Sequence[str], order: Sequence[int] | None = None, *, samples: int | None = None,
               embeddings: np.ndarray | None = None):
        """How coherent ``order`` of ``units`` is (default: their given order): an
        :class:`~reorder.assessment.Assessment` with ``score``, ``p_value``, ``scrambled``, ``transitions``."""
        from .assessment import DEFAULT_SAMPLES, SCRAMBLED_SLOPE, SCRAMBLED_Z, assess

        self._validate()
        units = _check_units(units)
        samples = DEFAULT_SAMPLES if samples is None else samples
        if len(units) > 1:
            scores = self.pairwise_scores(units, embeddings)
            objective = objective_from_scores(scores, self.weights_)
        else:
            scores, objective = None, Objective.zeros(len(units))
        best = solve(objective, method=self.method, time_limit=self.time_limit, seed=self.seed)
        signature = f"{self.signature()}|assess:samples{samples}-z{SCRAMBLED_Z:g}+{SCRAMBLED_SLOPE:g}best"
        return assess(objective, order, best=best, scores=scores, samples=samples, seed=self.seed,
                      signature=signature)

    def alternatives(self, units: Sequence[str], k: int, constraints: Constraints | None = None, *,
                     embeddings: np.ndarray | None = None) -> list[Solution]:
        """The ``k`` best distinct orders found, best first, each honouring ``constraints``
        (see :func:`reorder.search.k_best` for how exact the list is)."""
        self._validate()
        units = _check_units(units)
        objective = self.objective(units, embeddings) if len(units) > 1 else Objective.zeros(len(units))
        return k_best(objective, k, constraints, time_limit=self.time_limit)

    def confidence(self, units: Sequence[str], order: Sequence[int] | None = None,
                   constraints: Constraints | None = None, *, k: int | None = None,
                   embeddings: np.ndarray | None = None) -> list[float]:
        """Per-position confidence of ``order`` (default: the best order found) against the ``k``
        best orders (see :func:`reorder.assessment.position_confidence`)."""
        from .assessment import CONFIDENCE_K, position_confidence

        units = _check_units(units)
        if embeddings is None and len(units) > 1:
            embeddings = self.embed(units)
        solutions = self.alternatives(units, CONFIDENCE_K if k is None else k, constraints, embeddings=embeddings)
        if order is None:
            order, value = solutions[0].order, solutions[0].value
        else:
            objective = self.objective(units, embeddings) if len(units) > 1 else Objective.zeros(len(units))
            value = objective.value(list(order))
        return position_confidence(order, value, solutions)

    def explain(self, units: Sequence[str], order: Sequence[int] | None = None, *,
                embeddings: np.ndarray | None = None) -> list:
        """Why each transition of ``order`` (default: the best order found) was chosen: one
        :class:`~reorder.assessment.Explanation` per adjacent pair, with reasons for and against."""
        from .assessment import explain

        units = _check_units(units)
        if len(units) < 2:
            return []
        if embeddings is None:
            embeddings = self.embed(units)
        scores = self.pairwise_scores(units, embeddings)
        if order is None:
            objective = objective_from_scores(scores, self.weights_)
            order = solve(objective, method=self.method, time_limit=self.time_limit, seed=self.seed).order
        return explain(units, embeddings, scores, order)

    # --- training and persistence --------------------------------------------------------------
    def fit(self, documents: Iterable[Sequence[str]], **params) -> "Reorderer":
        """Train a :class:`CoherenceModel` on naturally ordered documents (lists of units)."""
        documents = [list(d) for d in documents]
        embedder = self._built_embedder()  # a new model is trained on it, so no match check
        model = CoherenceModel(**params).fit(
            ((units, embed_unique(embedder, units)) for units in documents), embedder_name=embedder.name
        )
        self.model, self._scorer, self._meta = model, model, {}
        return self

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Save the coherence model (and the weights in use) to a model directory."""
        scorer = self.scorer
        if not isinstance(scorer, CoherenceModel):
            raise InvalidInputError("only a learned CoherenceModel can be saved")
        return scorer.save(directory, extra={"objective": self.weights_, "name": Path(directory).name})


def _check_units(units: Sequence[str]) -> list[str]:
    if isinstance(units, str):
        raise InvalidInputError("units must be a list of strings, not one string; use reorder_text() for a whole text")
    units = list(units)
    bad = [type(u).__name__ for u in units if not isinstance(u, str)]
    if bad:
        raise InvalidInputError(f"every unit must be a str; got {bad[0]}")
    return units


def _local_constraints(constraints: Constraints | None, content: list[int]) -> Constraints | None:
    """Translate constraints on text unit indices into indices among the content units."""
    if constraints is None:
        return None
    where = {unit: k for k, unit in enumerate(content)}

    def local(i: int) -> int:
        if i not in where:
            raise InvalidInputError(f"constraint names unit {i}, which is not a content unit (or does not exist)")
        return where[i]

    return Constraints(
        first=None if constraints.first is None else local(constraints.first),
        last=None if constraints.last is None else local(constraints.last),
        before=tuple((local(a), local(b)) for a, b in constraints.before),
        groups=tuple(tuple(local(i) for i in group) for group in constraints.groups),
    )


def _render(document, permutation: list[int]) -> str:
    """Render a permutation, or a subset of units (furniture dropped) with the text's first separators."""
    if len(permutation) == len(document):
        return document.render(permutation)
    seps = document.separators
    parts = [seps[0]]
    for k, index in enumerate(permutation):
        parts.append(document.units[index])
        parts.append(seps[k + 1] if k + 1 < len(permutation) else seps[-1])
    return "".join(parts)
