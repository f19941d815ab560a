"""reorder: restore a plausible order to a document whose paragraphs or sentences were scrambled.

The public API, stage by stage (the modules named hold the details)::

    from reorder import Reorderer

    r = Reorderer()                      # shipped news model + the packaged embedder it was trained with
    r.order(["B ...", "A ...", "C ..."])  # a permutation of the units' indices
    r.reorder_text(text)                 # an OrderResult: permutation, roles, text, objective, signature
    r.assess_text(text)                  # an Assessment: is this order coherent, where does it break

- texts and units: :func:`split`, :class:`Document`, :func:`detect_roles` (:mod:`reorder.document`)
- embeddings: :func:`load_embedder` (ONNX Runtime where it can, else torch), :class:`OnnxEmbedder`,
  :class:`SentenceTransformerEmbedder`, :class:`CachedEmbedder`, :class:`HashingEmbedder` (a model-free
  stand-in) (:mod:`reorder.embedding`, :mod:`reorder.encoder`)
- scores: the :class:`Scorer` protocol, :class:`CoherenceModel`, :class:`SimilarityScorer`,
  :class:`PairwiseScores` (:mod:`reorder.coherence`)
- headlines: :class:`HeadlineDetector`, :func:`load_headline_detector` (the shipped one),
  :func:`fit_headline_detector` (:mod:`reorder.headline`)
- the objective and its search: :class:`Objective`, :func:`objective_from_scores`, :func:`solve`,
  :func:`k_best`, :class:`Constraints`, :class:`Solution` (:mod:`reorder.objective`, :mod:`reorder.search`)
- results: :class:`OrderResult`, :class:`Alternative`, :class:`Assessment`, :class:`Transition`,
  :class:`Explanation`
- corpora, evaluation and metrics: :func:`read_corpus`, :func:`evaluate`, :func:`shuffle_for`,
  :func:`kendall_tau`, :func:`perfect_match` and the other metrics (:mod:`reorder.metrics`),
  :func:`write_results` for an experiment's results with their signature
- reports: :func:`order_report`, :func:`score_report` build a :class:`Report`, :func:`render_report`
  makes it one self-contained HTML page (:mod:`reorder.report`)
- training: :func:`fit_model`, :func:`tune_weights` (:mod:`reorder.training`)
- errors: :class:`ReorderError` and its subclasses
"""

from __future__ import annotations

from ._version import __version__
from .assessment import Assessment, Transition
from .coherence import SIMILARITY, CoherenceModel, PairwiseScores, Scorer, SimilarityScorer
from .corpus import CorpusDocument, read_corpora, read_corpus, write_jsonl
from .document import Document, detect_roles, split
from .embedding import (
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    default_cache_path,
    load_embedder,
)
from .errors import InvalidInputError, ModelError, NotFittedError, ReorderError
from .evaluation import Evaluation, evaluate, shuffle_for, write_results
from .explanation import Explanation
from .headline import HeadlineDetector, fit_headline_detector, load_headline_detector
from .metrics import (
    document_scores,
    first_accuracy,
    kendall_tau,
    last_accuracy,
    macro_average,
    pairwise_accuracy,
    perfect_match,
    positional_accuracy,
)
from .objective import DEFAULT_WEIGHTS, Objective, objective_from_scores
from .pipeline import Alternative, OrderResult, Reorderer
from .report import Report, order_report, render_report, score_report
from .search import Constraints, Solution, k_best, solve
from .training import fit_model, tune_weights

__all__ = [
    "DEFAULT_WEIGHTS",
    "SIMILARITY",
    "Alternative",
    "Assessment",
    "CachedEmbedder",
    "CoherenceModel",
    "Constraints",
    "CorpusDocument",
    "Document",
    "Embedder",
    "Evaluation",
    "Explanation",
    "HashingEmbedder",
    "HeadlineDetector",
    "InvalidInputError",
    "ModelError",
    "NotFittedError",
    "Objective",
    "OnnxEmbedder",
    "OrderResult",
    "PairwiseScores",
    "Reorderer",
    "ReorderError",
    "Report",
    "SentenceTransformerEmbedder",
    "Scorer",
    "SimilarityScorer",
    "Solution",
    "Transition",
    "__version__",
    "default_cache_path",
    "detect_roles",
    "document_scores",
    "evaluate",
    "first_accuracy",
    "fit_headline_detector",
    "fit_model",
    "k_best",
    "kendall_tau",
    "last_accuracy",
    "load_embedder",
    "load_headline_detector",
    "macro_average",
    "objective_from_scores",
    "order_report",
    "pairwise_accuracy",
    "perfect_match",
    "positional_accuracy",
    "read_corpora",
    "read_corpus",
    "render_report",
    "score_report",
    "shuffle_for",
    "solve",
    "split",
    "tune_weights",
    "write_jsonl",
    "write_results",
]
