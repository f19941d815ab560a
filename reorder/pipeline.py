"""The Reorderer: one object that splits, embeds, scores, searches and assesses, and one result per run.

    text --(document: units, roles)--> embeddings --(coherence: scores)--> objective --(search)--> order

``Reorderer()`` with no arguments uses the shipped news model and the embedder it was trained with:
"news" (all-mpnet-base-v2 embeddings) when the mpnet packages are installed, else "news-minilm"
(all-MiniLM-L6-v2, a hard dependency), with a warning that says how to get the better one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ._version import __version__
from .assessment import (
    CONFIDENCE_K,
    DEFAULT_SAMPLES,
    SCRAMBLED_SLOPE,
    SCRAMBLED_Z,
    Assessment,
    assess,
    position_confidence,
)
from .coherence import SIMILARITY, CoherenceModel, PairwiseScores, SimilarityScorer
from .corpus import CorpusDocument
from .document import FURNITURE_OPTIONS, UNIT_KINDS, Document, arrange, detect_roles, split, units_with_roles
from .embedding import DEFAULT_MODEL as DEFAULT_EMBEDDER
from .embedding import (
    MPNET_INSTALL,
    PACKAGED_MODELS,
    CachedEmbedder,
    Embedder,
    embed_unique,
    load_embedder,
    mpnet_available,
)
from .errors import InvalidInputError, ModelError
from .evaluation import Evaluation, evaluate
from .explanation import Explanation, explain, relabel_explanations
from .finetuned import CombinedScorer, load_scorer
from .headline import HeadlineDetector, load_headline_detector
from .objective import DEFAULT_WEIGHTS, Objective, objective_from_scores
from .search import METHODS, Constraints, Solution, k_best, solve
from .training import fit_model
from .validation import check_time_limit

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent / "models"
SHIPPED_MODELS = ("news", "news-minilm", "news-reader")
"""Coherence models shipped inside the package (trained on ../shared/corpora/news-train*.jsonl): "news"
on all-mpnet-base-v2 embeddings, "news-minilm" on all-MiniLM-L6-v2 (faster, less accurate)."""
DEFAULT_MODEL_DIR = MODELS_DIR / "news"
FALLBACK_MODEL_DIR = MODELS_DIR / "news-minilm"


@dataclass(frozen=True)
class Alternative:
    """One of the best distinct orders of a text's content units (see :func:`reorder.search.k_best`);
    ``content_order`` and ``permutation`` are unit indices of the text, as in :class:`OrderResult`."""

    rank: int
    content_order: list[int]
    permutation: list[int]
    value: float
    optimal: bool

    def to_dict(self) -> dict:
        return {"rank": self.rank, "content_order": self.content_order, "permutation": self.permutation,
                "objective": self.value, "optimal": self.optimal}


@dataclass(frozen=True)
class OrderResult:
    """What :meth:`Reorderer.reorder_text` found for one text; :meth:`to_dict` is ``--format json``.

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
    content_order : list of int
        The content units (text indices) in the chosen order.
    alternatives : tuple of Alternative
        The best distinct orders, best first, when asked for (``alternatives=K``).
    confidence : tuple of float or None
        When asked for, ``confidence[k]``: the share of the best orders, weighted by
        exp(objective - best), that put ``content_order[k]`` at the k-th content position.
    explanations : tuple of Explanation or None
        When asked for, the reasons behind each transition of ``content_order`` (text indices).
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
    alternatives: tuple[Alternative, ...] = ()
    confidence: tuple[float, ...] | None = None
    explanations: tuple[Explanation, ...] | None = None

    def to_dict(self) -> dict:
        """The JSON form: permutation, units with their roles, objective, proof, signature and extras."""
        payload = {
            "permutation": self.permutation,
            "units": units_with_roles(self.units, self.roles),
            "objective": self.value,
            "optimal": self.optimal,
            "bound": self.bound,
            "method": self.method,
            "signature": self.signature,
        }
        if self.alternatives:
            payload["alternatives"] = [a.to_dict() for a in self.alternatives]
        if self.confidence is not None:
            payload["confidence"] = [{"position": k, "index": u, "confidence": c}
                                     for k, (u, c) in enumerate(zip(self.content_order, self.confidence))]
        if self.explanations is not None:
            payload["explanations"] = [e.to_dict() for e in self.explanations]
        return payload


@dataclass(frozen=True)
class _Scored:
    """One embedding and one scoring of a list of units, shared by everything a run asks of them."""

    units: list[str]
    embeddings: np.ndarray | None
    scores: PairwiseScores | None
    objective: Objective


class Reorderer:
    """Restore a plausible order to scrambled units, and score how coherent an order is.

    Parameters
    ----------
    model : str, Path, CoherenceModel or None
        ``None`` for the shipped news model ("news" on all-mpnet-base-v2, or "news-minilm" when the
        mpnet packages are missing or the embedder is all-MiniLM-L6-v2); a shipped model's name; a
        model directory written by ``reorder train``; a :class:`CoherenceModel` (fitted, or loaded
        with :meth:`CoherenceModel.load`, whose tuned weights it keeps); or ``"similarity"`` for
        the unsupervised embedding-similarity scorer.
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
        Recognise the headline, wherever it lies, and (in :meth:`reorder_text` and
        :meth:`assess_text`) page furniture. The headline goes first and takes no part in ordering
        the rest, in :meth:`order`, :meth:`solve`, :meth:`evaluate` and the text methods. False:
        every unit is content.
    headline : HeadlineDetector or None
        The headline detector (None: the shipped one, see :mod:`reorder.headline`).
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
        headline: HeadlineDetector | None = None,
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
        self.headline = headline
        self.furniture = furniture
        self.cache = cache
        self.seed = seed
        self._scorer = None
        self._meta: dict = {}
        self._embedder = None
        self._built_from: tuple = ()  # (model, embedder, cache) the loaded state was built from

    # --- components, built lazily -------------------------------------------------------------
    def _validate(self) -> None:
        if self.method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.unit not in UNIT_KINDS:
            raise InvalidInputError(f"unit must be one of {', '.join(UNIT_KINDS)}; got {self.unit!r}")
        if self.furniture not in FURNITURE_OPTIONS:
            raise InvalidInputError(f"furniture must be one of {', '.join(FURNITURE_OPTIONS)}; got {self.furniture!r}")
        check_time_limit(self.time_limit)  # the search's own rule, so a bad value fails before any model loads

    @property
    def scorer(self):
        """The coherence scorer in use (loaded on first access, and again after ``model``, ``embedder``
        or ``cache`` is changed: loaded state never outlives the parameters it came from)."""
        self._forget_stale_state()
        if self._scorer is None:
            model = self.model
            if isinstance(model, (CoherenceModel, SimilarityScorer, CombinedScorer)):
                self._scorer, self._meta = model, getattr(model, "meta_", {})  # {} until an unfitted model is fitted
            elif model == SIMILARITY:
                self._scorer = SimilarityScorer()
                self._meta = self._scorer.meta_
            else:
                self._scorer, self._meta = load_scorer(self._model_directory())
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

    def _forget_stale_state(self) -> None:
        """Drop the scorer and embedder loaded for other values of ``model``, ``embedder`` or ``cache``."""
        if self._built_from and not _same(self._built_from, (self.model, self.embedder, self.cache)):
            self._scorer, self._meta, self._embedder = None, {}, None
        self._built_from = (self.model, self.embedder, self.cache)

    def _trained_with(self) -> str | None:
        """The embedder the scorer was trained on; None for any, or for a model not fitted yet (it has
        no ``embedder_name_`` until ``fit``)."""
        return getattr(self.scorer, "embedder_name_", None)

    def _built_embedder(self) -> Embedder:
        """The embedder named by ``embedder`` (wrapped in the disk cache if asked), built once."""
        self._forget_stale_state()
        if self._embedder is None:
            embedder = self.embedder
            if embedder is None:
                # The embedder the coherence model was trained with, when it is one that works offline.
                trained_with = self._trained_with()
                embedder = trained_with if trained_with in PACKAGED_MODELS else None
            if embedder is None or isinstance(embedder, (str, os.PathLike)):
                embedder = load_embedder(embedder)
            if self.cache is not None:
                embedder = CachedEmbedder(embedder, self.cache)
            self._embedder = embedder
        return self._embedder

    @property
    def embedder_(self) -> Embedder:
        """The embedder in use, checked against the one the coherence model was trained with."""
        self._built_embedder()
        trained_with = self._trained_with()
        if trained_with is not None and trained_with != self._embedder.name:
            raise ModelError(
                f"the coherence model was trained on {trained_with!r} embeddings but the embedder is "
                f"{self._embedder.name!r}; pass the matching embedder or retrain with `reorder train --embedder`"
            )
        return self._embedder

    @property
    def headline_(self) -> HeadlineDetector:
        """The headline detector in use: ``headline``, else the shipped one."""
        return self.headline if self.headline is not None else load_headline_detector()

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
                raise InvalidInputError(
                    f"weights must be finite, >= 0 and named {sorted(DEFAULT_WEIGHTS)}; got {name}={value!r}")
        return weights

    def signature(self) -> str:
        """A sacrebleu-style signature: everything needed to reproduce a result."""
        w = self.weights_
        self.scorer  # loaded first: with explicit weights, weights_ does not load it, and its name is in _meta
        model = self._meta.get("name") or (
            "news" if self.model is None
            else str(self.model) if isinstance(self.model, (str, os.PathLike))
            else f"{type(self.model).__name__}(unsaved)"  # never the object's repr: it holds its address
        )
        roles = self.headline_.meta.get("name", "headline-custom") if self.roles else "none"  # the detector's name
        return (
            f"reorder:{__version__}|model:{model}|embedder:{self.embedder_.name}"
            f"|weights:f{w['follows']:g}+p{w['precedes']:g}+pos{w['position']:g}"
            f"|search:{self.method}-{self.time_limit:g}s|roles:{roles}|seed:{self.seed}"
        )

    # --- the core: one embedding and one scoring per list of units -----------------------------
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

    def _score(self, units: Sequence[str], *, every_score: bool = False,
               embeddings: np.ndarray | None = None) -> _Scored:
        """Embed and score ``units`` once. Scores whose weight is 0 are skipped (they cost the most
        and change nothing) unless ``every_score`` (explanations show them)."""
        units = _check_units(units)
        if len(units) < 2:
            return _Scored(units, None, None, Objective.zeros(len(units)))
        weights = self.weights_
        if embeddings is None:
            embeddings = self.embed(units)
        skip = () if every_score else tuple(name for name in ("follows", "precedes") if weights[name] == 0)
        scores = self.scorer.scores(units, embeddings, skip=skip)
        return _Scored(units, embeddings, scores, objective_from_scores(scores, weights))

    def _search(self, objective: Objective, constraints: Constraints | None = None) -> Solution:
        return solve(objective, constraints, method=self.method, time_limit=self.time_limit, seed=self.seed)

    def objective(self, units: Sequence[str], embeddings: np.ndarray | None = None) -> Objective:
        """The additive objective over orders of ``units`` (see :func:`reorder.objective.objective_from_scores`)."""
        return self._score(units, embeddings=embeddings).objective

    def solve(self, units: Sequence[str], constraints: Constraints | None = None, *,
              embeddings: np.ndarray | None = None) -> Solution:
        """The best order of ``units`` found: a :class:`~reorder.search.Solution`. With ``roles``, a
        recognised headline goes first and the search orders the rest (value, proof, bound are theirs);
        score, assess, alternatives, confidence and explain on unit lists treat every unit as content."""
        return self._solve(units, constraints, embeddings)[0]

    def _solve(self, units: Sequence[str], constraints: Constraints | None, embeddings) -> tuple[Solution, int | None]:
        """:meth:`solve`, and the headline it set first (None for none), found once."""
        self._validate()
        units = _check_units(units)
        if constraints is not None:
            constraints.check(len(units))
        if embeddings is None and self.roles and len(units) > 1:
            embeddings = self.embed(units)
        heading = self.find_headline(units, embeddings, constraints)
        if heading is None:
            return self._search(self._score(units, embeddings=embeddings).objective, constraints), None
        body = [k for k in range(len(units)) if k != heading]
        local = None if constraints is None else constraints.restricted_to(body)
        embeddings = np.asarray(embeddings)[body]
        found = self._search(self._score([units[k] for k in body], embeddings=embeddings).objective, local)
        return replace(found, order=[heading, *(body[k] for k in found.order)]), heading

    def find_headline(self, units: Sequence[str], embeddings: np.ndarray | None = None,
                      constraints: Constraints | None = None) -> int | None:
        """The index of the unit recognised as the headline (it goes first), or None: no ``roles``, fewer
        than 2 units, none taken for one, or ``constraints`` that name it or put another unit first."""
        units = _check_units(units)
        if not self.roles or len(units) < 2:
            return None
        if embeddings is None:
            embeddings = self.embed(units)
        found = self.headline_.find(units, embeddings)
        if constraints is not None and (constraints.first is not None or found in constraints.named):
            return None
        return found

    def order(self, units: Sequence[str], constraints: Constraints | None = None) -> list[int]:
        """The restored order as indices into ``units`` (a permutation; a recognised headline first)."""
        return list(self.solve(units, constraints).order)

    def score(self, units: Sequence[str], order: Sequence[int] | None = None) -> float:
        """Objective value of ``order`` (default: the units' given order); higher is more coherent."""
        units = _check_units(units)
        if len(units) < 2:
            return 0.0
        order = list(range(len(units))) if order is None else list(order)
        return float(self.objective(units).value(order))

    def _split(self, text: str, constraints: Constraints | None = None
               ) -> tuple[Document, list[str], list[int], np.ndarray | None]:
        """The text's document, roles, content units' indices and embeddings (None for fewer than 2); when
        detect_roles gives no heading, a content unit recognised as the headline takes that role."""
        self._validate()
        document = split(text, self.unit)
        roles = detect_roles(document.units) if self.roles else ["content"] * len(document)
        content = [i for i, role in enumerate(roles) if role == "content"]
        if len(content) < 2:
            return document, roles, content, None
        units = [document.units[i] for i in content]
        embeddings = self.embed(units)
        if "heading" not in roles:
            local = None if constraints is None else constraints.restricted_to(content)
            found = self.find_headline(units, embeddings, local)
            if found is not None:
                roles[content[found]] = "heading"
                del content[found]
                embeddings = np.delete(embeddings, found, axis=0)
        return document, roles, content, embeddings

    def reorder_text(
        self,
        text: str,
        constraints: Constraints | None = None,
        *,
        alternatives: int = 0,
        confidence: bool = False,
        explain: bool = False,
    ) -> OrderResult:
        """Split ``text``, order its content units, and render it back; furniture and heading per options.

        ``constraints`` refer to content units by their index among the text's units. The extras
        (``alternatives`` best orders, per-position ``confidence``, ``explain``-ed transitions) come
        from the same embeddings and scores as the order: each distinct unit is embedded once.
        """
        document, roles, content, embeddings = self._split(text, constraints)
        local = None if constraints is None else constraints.restricted_to(content)
        scored = self._score([document.units[i] for i in content], every_score=explain, embeddings=embeddings)
        solution = self._search(scored.objective, local)
        if not solution.optimal and len(content) > 1:  # e.g. beyond the exact solvers' range
            logger.warning("%d units: the order is the best the %s search found in %g s, not proven optimal",
                           len(content), solution.method, self.time_limit)
        content_order = [content[k] for k in solution.order]
        permutation = arrange(roles, content_order, furniture=self.furniture)
        result = OrderResult(
            permutation=permutation,
            roles=roles,
            units=document.units,
            text=document.render_selection(permutation),
            value=float(solution.value),
            optimal=bool(solution.optimal),
            bound=None if solution.bound is None else float(solution.bound),
            method=solution.method,
            signature=self.signature(),
            content_order=content_order,
        )
        if not (alternatives or confidence or explain):
            return result
        extras: dict = {}
        if alternatives or confidence:
            k = max(alternatives or 0, CONFIDENCE_K if confidence else 0)
            found = k_best(scored.objective, k, local, time_limit=self.time_limit)
            if alternatives:
                extras["alternatives"] = tuple(
                    Alternative(rank, [content[u] for u in s.order],
                                arrange(roles, [content[u] for u in s.order], furniture=self.furniture),
                                s.value, s.optimal)
                    for rank, s in enumerate(found[:alternatives], 1))
            if confidence:
                extras["confidence"] = tuple(position_confidence(solution.order, result.value, found))
        if explain:
            found = _explain_order(scored, solution.order)
            extras["explanations"] = tuple(relabel_explanations(found, content))
        return replace(result, **extras)

    def reorder(self, text: str) -> str:
        """Convenience: the text with its units restored to the best order found."""
        return self.reorder_text(text).text

    # --- assessing orders (definitions in reorder.assessment) -----------------------------------
    def assess(self, units: Sequence[str], order: Sequence[int] | None = None, *, samples: int | None = None,
               embeddings: np.ndarray | None = None) -> Assessment:
        """How coherent ``order`` of ``units`` is (default: their given order): an
        :class:`~reorder.assessment.Assessment` with ``score``, ``p_value``, ``scrambled``, ``transitions``."""
        self._validate()
        samples = DEFAULT_SAMPLES if samples is None else samples
        scored = self._score(units, every_score=True, embeddings=embeddings)
        best = self._search(scored.objective)
        signature = f"{self.signature()}|assess:samples{samples}-z{SCRAMBLED_Z:g}+{SCRAMBLED_SLOPE:g}best"
        return assess(scored.objective, order, best=best, scores=scored.scores, samples=samples, seed=self.seed,
                      signature=signature)

    def assess_text(self, text: str, *, samples: int | None = None) -> Assessment:
        """Split ``text`` and assess the order its content units already have; unit indices in the
        result are those of the text's units, whose texts and roles it carries (``units``, ``roles``)."""
        document, roles, content, embeddings = self._split(text)
        result = self.assess([document.units[i] for i in content], samples=samples,
                             embeddings=embeddings).relabel(content)
        return replace(result, units=document.units, roles=tuple(roles))

    def alternatives(self, units: Sequence[str], k: int, constraints: Constraints | None = None, *,
                     embeddings: np.ndarray | None = None) -> list[Solution]:
        """The ``k`` best distinct orders found, best first, each honouring ``constraints``
        (see :func:`reorder.search.k_best` for how exact the list is)."""
        self._validate()
        objective = self._score(units, embeddings=embeddings).objective
        return k_best(objective, k, constraints, time_limit=self.time_limit)

    def confidence(self, units: Sequence[str], order: Sequence[int] | None = None,
                   constraints: Constraints | None = None, *, k: int | None = None,
                   embeddings: np.ndarray | None = None) -> list[float]:
        """Per-position confidence of ``order`` (default: the best order found) against the ``k``
        best orders (see :func:`reorder.assessment.position_confidence`)."""
        self._validate()
        objective = self._score(units, embeddings=embeddings).objective
        solutions = k_best(objective, CONFIDENCE_K if k is None else k, constraints, time_limit=self.time_limit)
        if order is None:
            order, value = solutions[0].order, solutions[0].value
        else:
            value = objective.value(list(order))
        return position_confidence(order, value, solutions)

    def explain(self, units: Sequence[str], order: Sequence[int] | None = None, *,
                embeddings: np.ndarray | None = None) -> list[Explanation]:
        """Why each transition of ``order`` (default: the best order found) was chosen: one
        :class:`~reorder.explanation.Explanation` per adjacent pair, with reasons for and against."""
        self._validate()
        scored = self._score(units, every_score=True, embeddings=embeddings)
        if order is None and len(scored.units) > 1:
            order = self._search(scored.objective).order
        return _explain_order(scored, order)

    # --- evaluation, training and persistence ----------------------------------------------------
    def evaluate(self, documents: Iterable[CorpusDocument], *, seed: int | None = None,
                 max_units: int | None = None, progress: Callable[[int], object] | None = None,
                 with_title: bool = False) -> Evaluation:
        """Shuffle each gold document (with ``seed``, default this Reorderer's; ``with_title``: its title among
        its units), restore it, and score it (:func:`reorder.evaluation.evaluate`), under this signature."""

        def order(units: Sequence[str]) -> tuple[list[int], bool]:
            solution = self.solve(units)
            return solution.order, solution.optimal

        return evaluate(order, documents, seed=self.seed if seed is None else seed, max_units=max_units,
                        progress=progress, signature=self.signature(), with_title=with_title,
                        read_ahead=self.scorer.read_ahead)  # a reader encodes chunks of documents in batches

    def fit(self, documents: Iterable[Sequence[str]], **params) -> Reorderer:
        """Train a :class:`CoherenceModel` on naturally ordered documents (lists of units)."""
        corpus = [CorpusDocument(id=str(k), units=tuple(_check_units(d))) for k, d in enumerate(documents)]
        model = fit_model(corpus, self._built_embedder(), **params)  # a new model: no match check
        self.model, self._scorer, self._meta = model, model, {}
        self._built_from = (self.model, self.embedder, self.cache)
        return self

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Save the coherence model (and the weights in use) to a model directory."""
        scorer = self.scorer
        if not isinstance(scorer, CoherenceModel):
            raise InvalidInputError("only a learned CoherenceModel can be saved")
        return scorer.save(directory, extra={"objective": self.weights_, "name": Path(directory).name})


def _explain_order(scored: _Scored, order: Sequence[int] | None) -> list[Explanation]:
    """The explanations of ``order`` of the scored units (none for fewer than two units)."""
    if len(scored.units) < 2:
        return []
    return explain(scored.units, scored.embeddings, scored.scores, order)


def _same(built_from: tuple, now: tuple) -> bool:
    """Whether parameters are those the loaded state was built from: the same objects, or equal names."""
    return all(a is b or (isinstance(a, (str, os.PathLike)) and isinstance(b, (str, os.PathLike)) and a == b)
               for a, b in zip(built_from, now))


def _check_units(units: Sequence[str]) -> list[str]:
    if isinstance(units, str):
        raise InvalidInputError("units must be a list of strings, not one string; use reorder_text() for a whole text")
    units = list(units)
    bad = [type(u).__name__ for u in units if not isinstance(u, str)]
    if bad:
        raise InvalidInputError(f"every unit must be a str; got {bad[0]}")
    return units
