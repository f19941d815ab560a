"""Headlines: recognise the unit of a document that is its headline, wherever it lies among the others.

A scrambled page or a shuffled file may hold its headline anywhere. The coherence models have never
seen one among a document's units (the corpora they learn from have none), so a headline left among
the content is ordered as a short, odd paragraph. :class:`HeadlineDetector` finds it in two stages:

1. **The text**: a logistic regression over cheap features of each unit (length, final punctuation,
   capitals, articles, labels, links, its length against the others', how many of its words recur in
   the document) and its hashed words gives each unit a headline logit. It is trained on headlines
   in three cases (as written, sentence case, title case), so that wire-service capitals ("BAHIA
   COCOA REVIEW") teach the words and shapes of a headline, not its capitals. The unit of highest
   logit is the *candidate*.
2. **The document**: gradient-boosted trees over a few features of the candidate in its document
   decide whether it is the headline: its logit and its lead over the runner-up, how central it is
   among the units' embeddings (a headline sums up its story; a related story's headline or a
   section label does not), how close it is to its nearest unit (the lead), how many other units
   look like headlines (a noisy page has many) and the document's length.

Both stages are plain arrays: the model (``headline.npz`` and ``headline.json``) loads with
``allow_pickle=False`` and executes no code; the trees are evaluated in numpy. The shipped model
(``reorder/models/headline``) is reproduced by ``python experiments/train_headline.py`` (see the
README). The embeddings it was trained with are the default model's (all-mpnet-base-v2); other
embedders give cosines on a similar scale, but the detector's error rates were measured with those.

Shapes: ``n`` units, embeddings of shape (n, d).
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InvalidInputError, ModelError
from .features import STOPWORDS, WORD

__all__ = [
    "DOCUMENT_FEATURES", "HeadlineDetector", "document_features", "fit_headline_detector",
    "load_headline_detector", "text_features",
]

MODEL_DIR = Path(__file__).parent / "models" / "headline"
FEATURE_VERSION = 1
"""Bumped whenever a feature changes meaning, so that a model trained on older features is refused."""
HASH_DIM = 512
"""Buckets of the hashed lowercase words and first word."""
MAX_WORDS = 25
"""A unit longer than this is never a headline."""

_END = re.compile(r"[.!?][\"'”’»)\]]*$")
_SAID = re.compile(r"\b(said|says|told|added|according)\b", re.I)
_DATELINE = re.compile(r"^[A-Z][A-Za-z .,'\-]{2,}(\([^)]*\))?\s*[,\-–—]\s|\((Reuters|AP|AFP|CNN)\)")
_LABEL = re.compile(r"^[\[(]?(?:[A-Z][A-Z ]{1,20}|[A-Z]\w+):\s")  # "PHOTOS: ...", "Official: ..."
_LINK = re.compile(r"https?://|www\.|pic\.twitter|@\w|\.com\b")
_ARTICLES = frozenset("the a an".split())
_OPENERS = frozenset("he she it they this that these those but and however meanwhile also".split())
TEXT_SHAPE = (
    "log_words", "log_chars", "ends_sentence", "ends_colon", "inner_sentences", "commas", "quotes",
    "capitalised_share", "all_caps", "digits", "said", "dateline", "opens_with_pronoun_or_connective",
    "article_share", "parenthesis", "label_colon", "link", "relative_length", "shortest",
    "shorter_than_all_others", "words_found_elsewhere", "words_in_one_other_unit",
)
"""The named text features of stage 1 (the hashed words follow them)."""
SHAPE_DIM = len(TEXT_SHAPE)
DOCUMENT_FEATURES = (
    "logit", "runner_up_logit", "lead_over_runner_up", "centrality", "centrality_over_median",
    "more_central_units", "nearest_cosine", "second_nearest_cosine", "log_units", "other_headline_like",
    "words",
)
"""The features of stage 2, about the candidate in its document."""


def _check(units: Sequence[str]) -> list[str]:
    if isinstance(units, str) or not all(isinstance(u, str) for u in units):
        raise InvalidInputError("units must be a sequence of str")
    return list(units)


def _words(text: str) -> list[str]:
    return WORD.findall(text)


def _shape(text: str) -> list[float]:
    words = _words(text)
    n = max(len(words), 1)
    alpha = [w for w in words if w[0].isalpha()]
    stripped = text.strip()
    return [
        np.log1p(len(words)),
        np.log1p(len(stripped)),
        float(bool(_END.search(stripped))),
        float(stripped.endswith(":")),
        float(len(re.findall(r"[.!?]\s+[A-Z\"“]", stripped))),
        float(stripped.count(",")),
        float(any(q in stripped for q in "\"“”«»")),
        sum(w[0].isupper() for w in alpha) / max(len(alpha), 1),
        float(len(alpha) > 1 and all(w.isupper() for w in alpha)),
        float(any(c.isdigit() for c in stripped)),
        float(bool(_SAID.search(stripped))),
        float(bool(_DATELINE.search(stripped))),
        float(bool(words) and words[0].lower() in _OPENERS),
        sum(w.lower() in _ARTICLES for w in words) / n,
        float("(" in stripped),
        float(bool(_LABEL.match(stripped))),
        float(bool(_LINK.search(stripped))),
    ]


def _hashed(text: str) -> np.ndarray:
    out = np.zeros(HASH_DIM)
    words = [w.lower() for w in _words(text)]
    for k, word in enumerate(words):
        out[zlib.crc32(word.encode("utf-8", "surrogatepass")) % HASH_DIM] += 1.0
        if k == 0:
            out[zlib.crc32(b"^" + word.encode("utf-8", "surrogatepass")) % HASH_DIM] += 1.0
    return out / max(np.sqrt(len(words)), 1.0)


def _recurring_words(units: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the share of its content words found in some other unit, and the largest share
    found in one other unit (a sparse unit-by-word product: linear in the words, not quadratic)."""
    from scipy.sparse import csr_matrix

    n = len(units)
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for i, unit in enumerate(units):
        for word in {w.lower() for w in _words(unit) if len(w) > 2 and w.lower() not in STOPWORDS}:
            rows.append(i)
            cols.append(vocabulary.setdefault(word, len(vocabulary)))
    if n < 2 or not vocabulary:
        return np.zeros(n), np.zeros(n)
    words = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(vocabulary)))
    own = np.asarray(words.sum(axis=1)).ravel()
    frequency = np.asarray(words.sum(axis=0)).ravel()  # how many units hold each word
    shared = words @ (frequency >= 2).astype(np.float64)
    overlap = (words @ words.T).toarray()
    np.fill_diagonal(overlap, 0.0)
    safe = np.maximum(own, 1.0)
    return np.where(own > 0, shared / safe, 0.0), np.where(own > 0, overlap.max(axis=1) / safe, 0.0)


def text_features(units: Sequence[str]) -> np.ndarray:
    """Stage 1: each unit's features as a headline candidate among ``units``, shape (n, SHAPE_DIM + HASH_DIM)."""
    units = _check(units)
    n = len(units)
    if n == 0:
        return np.zeros((0, SHAPE_DIM + HASH_DIM))
    lengths = np.array([len(_words(u)) for u in units], dtype=np.float64)
    shape = np.array([_shape(u) for u in units], dtype=np.float64)
    others_median = np.array([np.median(np.delete(lengths, i)) if n > 1 else lengths[i] for i in range(n)])
    relative = np.log1p(lengths) - np.log1p(others_median)
    shortest = (lengths == lengths.min()).astype(np.float64)
    strictly = np.array([float(n > 1 and lengths[i] < np.delete(lengths, i).min()) for i in range(n)])
    # A headline's words recur in the story (most of them in its lead); a stray line's need not.
    elsewhere, in_one = _recurring_words(units)
    shape = np.column_stack([shape, relative, shortest, strictly, elsewhere, in_one])
    return np.hstack([shape, np.stack([_hashed(u) for u in units])])


def document_features(units: Sequence[str], embeddings: np.ndarray, logits: np.ndarray) -> tuple[int, np.ndarray]:
    """Stage 2: the candidate (the unit of highest stage-1 ``logits``) and its features in the document.

    Returns the candidate's index and an array of ``len(DOCUMENT_FEATURES)`` features; needs at
    least 2 units.
    """
    n = len(units)
    vectors = np.asarray(embeddings, dtype=np.float64)
    if n < 2 or vectors.shape[0] != n or len(logits) != n:
        raise InvalidInputError(f"need >= 2 units with one embedding and one logit each; got {n} units, "
                                f"{vectors.shape[0]} embeddings, {len(logits)} logits")
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    ranked = np.argsort(-np.asarray(logits), kind="stable")
    c = int(ranked[0])
    total = vectors.sum(axis=0)
    rest = total[None, :] - vectors  # the sum of the other units, for each unit
    centrality = np.einsum("ij,ij->i", vectors, rest) / np.maximum(np.linalg.norm(rest, axis=1), 1e-12)
    cosines = np.delete(vectors @ vectors[c], c)
    nearest = np.sort(cosines)[::-1]
    return c, np.array([
        logits[c],
        logits[ranked[1]],
        logits[c] - logits[ranked[1]],
        centrality[c],
        centrality[c] - np.median(centrality),
        min(int(np.sum(centrality > centrality[c])), 5),
        nearest[0],
        nearest[1] if n > 2 else 0.0,
        np.log(n),
        float(np.sum(np.asarray(logits) > 0)) - float(logits[c] > 0),
        float(len(_words(units[c]))),
    ])


@dataclass(frozen=True)
class _Trees:
    """Gradient-boosted regression trees as flat arrays: node ``k`` of the forest splits on
    ``feature[k]`` at ``threshold[k]`` (``<=`` goes to ``left[k]``) or is a leaf (``left[k] == -1``)
    holding ``value[k]``; ``roots`` are the first node of each tree. The raw score is
    ``learning_rate * sum of the leaves reached``."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    learning_rate: float

    def raw(self, x: np.ndarray) -> float:
        x = np.asarray(x, dtype=np.float32)  # as scikit-learn compares, so that ties split alike
        total = 0.0
        for node in self.roots:
            while self.left[node] >= 0:
                node = self.left[node] if x[self.feature[node]] <= self.threshold[node] else self.right[node]
            total += self.value[node]
        return self.learning_rate * total

    def check(self) -> None:
        """Raise ValueError unless the arrays form trees: one length, children after their parent
        and in range (so that :meth:`raw` ends), features among :data:`DOCUMENT_FEATURES`."""
        size = len(self.feature)
        if not all(len(a) == size for a in (self.threshold, self.left, self.right, self.value)):
            raise ValueError("tree arrays of different lengths")
        nodes = np.arange(size)
        inner = self.left >= 0
        for child in (self.left, self.right):
            if np.any(inner & ((child <= nodes) | (child >= size))):
                raise ValueError("a tree node points outside its tree")
        if np.any(inner & ((self.feature < 0) | (self.feature >= len(DOCUMENT_FEATURES)))):
            raise ValueError("a tree splits on an unknown feature")
        if len(self.roots) == 0 or np.any((self.roots < 0) | (self.roots >= size)):
            raise ValueError("tree roots out of range")

    @classmethod
    def from_sklearn(cls, model) -> _Trees:
        """From a fitted ``GradientBoostingClassifier(init="zero")`` (binary): the public ``tree_`` arrays."""
        parts, offset = [], 0
        for estimator in model.estimators_[:, 0]:
            tree = estimator.tree_
            leaf = tree.children_left < 0
            parts.append((tree.feature, tree.threshold, np.where(leaf, -1, tree.children_left + offset),
                          np.where(leaf, -1, tree.children_right + offset), tree.value[:, 0, 0], offset))
            offset += tree.node_count
        feature, threshold, left, right, value, roots = zip(*parts)
        return cls(np.concatenate(feature).astype(np.int64), np.concatenate(threshold).astype(np.float64),
                   np.concatenate(left).astype(np.int64), np.concatenate(right).astype(np.int64),
                   np.concatenate(value).astype(np.float64), np.array(roots, dtype=np.int64),
                   float(model.learning_rate))


@dataclass(frozen=True)
class HeadlineDetector:
    """A fitted two-stage headline detector (see the module's docstring).

    :meth:`find` gives the index of the headline among a document's units, or None; a unit counts
    as the headline when it is stage 1's candidate, has at most ``MAX_WORDS`` words, and stage 2
    gives it a probability of at least ``threshold``.
    """

    text_mean: np.ndarray
    text_scale: np.ndarray
    text_weights: np.ndarray
    text_bias: float
    trees: _Trees
    threshold: float
    meta: dict = field(default_factory=dict)

    def text_logits(self, units: Sequence[str]) -> np.ndarray:
        """Stage 1: each unit's headline logit, shape (n,)."""
        x = (text_features(units) - self.text_mean) / self.text_scale
        return x @ self.text_weights + self.text_bias

    def candidate(self, units: Sequence[str], embeddings: np.ndarray) -> tuple[int, float]:
        """The most headline-like unit and stage 2's probability that it is the headline."""
        units = _check(units)
        index, x = document_features(units, embeddings, self.text_logits(units))
        return index, float(1.0 / (1.0 + np.exp(-self.trees.raw(x))))

    def find(self, units: Sequence[str], embeddings: np.ndarray) -> int | None:
        """The index of the headline among ``units`` (with their ``embeddings``, shape (n, d)), or None."""
        units = _check(units)
        if len(units) < 2:
            return None
        index, p = self.candidate(units, embeddings)
        if p < self.threshold or len(_words(units[index])) > MAX_WORDS:
            return None
        return index

    def with_threshold(self, threshold: float, **meta) -> HeadlineDetector:
        """The same detector deciding at ``threshold`` (``meta`` added to its description)."""
        return HeadlineDetector(self.text_mean, self.text_scale, self.text_weights, self.text_bias, self.trees,
                                float(threshold), {**self.meta, **meta})

    def save(self, directory: str | Path) -> Path:
        """Write ``headline.npz`` (arrays) and ``headline.json`` (description) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        t = self.trees
        np.savez_compressed(
            directory / "headline.npz", text_mean=self.text_mean, text_scale=self.text_scale,
            text_weights=self.text_weights, text_bias=np.array([self.text_bias]), tree_feature=t.feature,
            tree_threshold=t.threshold, tree_left=t.left, tree_right=t.right, tree_value=t.value,
            tree_roots=t.roots, tree_learning_rate=np.array([t.learning_rate]),
            threshold=np.array([self.threshold]))
        meta = {**self.meta, "feature_version": FEATURE_VERSION, "hash_dim": HASH_DIM, "text_shape": list(TEXT_SHAPE),
                "document_features": list(DOCUMENT_FEATURES), "threshold": self.threshold}
        (directory / "headline.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> HeadlineDetector:
        """Read a detector written by :meth:`save` (no pickle, no code executed)."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "headline.json").read_text(encoding="utf-8"))
            with np.load(directory / "headline.npz", allow_pickle=False) as data:
                a = {k: data[k] for k in data.files}
            if meta.get("feature_version") != FEATURE_VERSION or meta.get("hash_dim") != HASH_DIM:
                raise ModelError(f"{directory}: a headline model of another feature version; retrain it")
            trees = _Trees(a["tree_feature"], a["tree_threshold"], a["tree_left"], a["tree_right"], a["tree_value"],
                           a["tree_roots"], float(a["tree_learning_rate"][0]))
            trees.check()
            width = SHAPE_DIM + HASH_DIM
            if not all(a[k].shape == (width,) for k in ("text_mean", "text_scale", "text_weights")):
                raise ValueError(f"stage-1 arrays must have {width} entries")
            return cls(a["text_mean"], a["text_scale"], a["text_weights"], float(a["text_bias"][0]), trees,
                       float(a["threshold"][0]), meta)
        except ModelError:
            raise
        except (OSError, KeyError, ValueError, IndexError, TypeError, AttributeError, EOFError,
                zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise ModelError(f"{directory}: not a readable headline model ({exc})") from exc


def case_variants(title: str) -> list[str]:
    """A headline as written, in sentence case and in title case (distinct variants only)."""
    lower = title.lower()
    sentence = lower[:1].upper() + lower[1:]
    titled = " ".join(w[:1].upper() + w[1:] for w in lower.split())
    return list(dict.fromkeys([title, sentence, titled]))


def _text_rows(documents: Sequence[tuple[str | None, Sequence[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1's rows: every case variant of each title among its document's paragraphs (positive),
    and the paragraphs once (negative); a document without a title gives negatives only."""
    xs, ys = [], []
    for title, paragraphs in documents:
        paragraphs = list(paragraphs)
        if not title:
            xs.append(text_features(paragraphs))
            ys.append(np.zeros(len(paragraphs)))
            continue
        for k, variant in enumerate(case_variants(title)):
            features = text_features([variant, *paragraphs])
            rows = features if k == 0 else features[:1]
            xs.append(rows)
            ys.append(np.r_[1.0, np.zeros(len(rows) - 1)])
    return np.vstack(xs), np.concatenate(ys)


def _document_rows(documents: Sequence[tuple[str | None, Sequence[str]]], embed, text_logits, seed: int):
    """Stage 2's rows: each titled document with its title (in one of its case variants, in turn)
    shuffled among its paragraphs, labelled 1 when the candidate is the title; and each document's
    paragraphs alone, labelled 0. Also whether each row comes from a document without a title."""
    rng = np.random.default_rng(seed)
    xs, ys, untitled = [], [], []
    for k, (title, paragraphs) in enumerate(documents):
        paragraphs = list(paragraphs)
        for with_title in (False, True) if title else (False,):
            units, label = paragraphs, None
            if with_title:
                variants = case_variants(title)
                units = [variants[k % len(variants)], *paragraphs]
                permutation = rng.permutation(len(units))
                units = [units[i] for i in permutation]
                label = int(np.flatnonzero(permutation == 0)[0])
            if len(units) < 2:
                continue
            index, x = document_features(units, embed(units), text_logits(units))
            xs.append(x)
            ys.append(float(index == label))
            untitled.append(not title)
    return np.array(xs), np.array(ys), np.array(untitled, dtype=bool)



def _fit_text(documents: Sequence[tuple[str | None, Sequence[str]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                float]:
    """Stage 1 (scikit-learn's logistic regression): standardisation, weights and bias."""
    from sklearn.linear_model import LogisticRegression

    x, y = _text_rows(documents)
    # The shape features are standardised; the hashed words are left as they are (a rare bucket
    # standardised by its tiny spread would dominate every decision it appears in).
    mean, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
    mean[:SHAPE_DIM], scale[:SHAPE_DIM] = x[:, :SHAPE_DIM].mean(axis=0), x[:, :SHAPE_DIM].std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit((x - mean) / scale, y)
    return mean, scale, fitted.coef_[0].astype(np.float64), float(fitted.intercept_[0])


def fit_headline_detector(
    documents: Sequence[tuple[str | None, Sequence[str]]],
    embedder,
    *,
    embedded: Sequence[int] | None = None,
    folds: int = 2,
    untitled_weight: float = 10.0,
    threshold: float = 0.5,
    seed: int = 0,
    meta: dict | None = None,
) -> HeadlineDetector:
    """Fit both stages on ``(title or None, paragraphs)`` pairs (scikit-learn).

    Stage 1 learns from every document. Stage 2 learns from the documents whose indices are in
    ``embedded`` (default: all), whose units ``embedder`` (any object with ``encode(list[str])``)
    embeds; their stage-1 logits come from a stage 1 fitted on the other ``folds`` (cross-fitting:
    on its own training documents stage 1 is over-confident, unlike on a new document). Rows from
    documents without a title (pages, where a false headline costs) weigh ``untitled_weight``.
    ``threshold``: stage 2's decision threshold (choose it on development data with
    :meth:`HeadlineDetector.with_threshold`).
    """
    from sklearn.ensemble import GradientBoostingClassifier

    from .embedding import embed_unique

    documents = list(documents)
    chosen = range(len(documents)) if embedded is None else sorted(set(embedded))
    parts = []
    for fold in range(folds):
        held = [documents[k] for k in chosen if k % folds == fold]
        if held:
            mean, scale, weights, bias = _fit_text([d for k, d in enumerate(documents) if k % folds != fold])
            parts.append(_document_rows(held, lambda units: embed_unique(embedder, units),
                                        lambda units: (text_features(units) - mean) / scale @ weights + bias,
                                        seed + fold))
    xd, yd, untitled = (np.concatenate(column) for column in zip(*parts))
    forest = GradientBoostingClassifier(n_estimators=200, max_depth=3, learning_rate=0.05, subsample=0.8,
                                        init="zero", random_state=seed)
    forest.fit(xd, yd, sample_weight=np.where(untitled, untitled_weight, 1.0))
    trees = _Trees.from_sklearn(forest)
    check = np.array([trees.raw(row) for row in xd[:50]])
    if not np.allclose(check, forest.decision_function(xd[:50]), atol=1e-9):
        raise ModelError("the exported trees do not reproduce scikit-learn's decisions")  # a changed tree_ layout
    mean, scale, weights, bias = _fit_text(documents)
    info = {**(meta or {}), "documents": len(documents), "document_rows": int(len(yd)),
            "document_positives": int(yd.sum()), "folds": folds, "untitled_weight": untitled_weight,
            "embedder": getattr(embedder, "name", None), "seed": seed}
    return HeadlineDetector(mean, scale, weights, bias, trees, float(threshold), info)


@functools.lru_cache(maxsize=1)
def load_headline_detector() -> HeadlineDetector:
    """The shipped detector (``reorder/models/headline``), loaded once."""
    if not MODEL_DIR.is_dir():
        raise ModelError(f"the shipped headline model is missing from {MODEL_DIR}; reinstall reorder")
    return HeadlineDetector.load(MODEL_DIR)
