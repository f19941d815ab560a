"""Prototype (not shipped): recognise the one unit of a document that is its headline, wherever it lies.

A logistic regression over cheap features of a unit's text and of its place among the document's
units (how much shorter it is than the others), trained on the headlines that corpora carry in
their ``title`` field against the paragraphs of the same documents. Headlines are case-normalised
for training (each is seen as written, in sentence case and in title case), so that wire-service
capitals ("BAHIA COCOA REVIEW") teach the words and shapes of a headline, not its capitals.

:func:`find_headline` returns the index of the unit most likely to be the headline when its
probability passes the model's threshold, else None. The model is plain arrays (``headline.npz``,
loaded with ``allow_pickle=False``) and a ``headline.json`` describing it.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reorder import InvalidInputError, ModelError
from reorder.features import STOPWORDS

__all__ = ["HeadlineModel", "find_headline", "headline_features", "load_headline_model"]

MODEL_DIR = Path(__file__).parent / "model"
FEATURE_VERSION = 1
HASH_DIM = 512
"""Buckets of the hashed lowercase words and first word."""
MAX_WORDS = 25
"""A unit longer than this is never a headline."""

_WORD = re.compile(r"[^\W\d_][\w'’\-]*|\d[\d,.]*\d|\d")
_END = re.compile(r"[.!?][\"'”’»)\]]*$")
_SAID = re.compile(r"\b(said|says|told|added|according)\b", re.I)
_DATELINE = re.compile(r"^[A-Z][A-Za-z .,'\-]{2,}(\([^)]*\))?\s*[,\-–—]\s|\((Reuters|AP|AFP|CNN)\)")
_LABEL = re.compile(r"^[\[(]?(?:[A-Z][A-Z ]{1,20}|[A-Z]\w+):\s")  # "PHOTOS: ...", "Official: ..."
_LINK = re.compile(r"https?://|www\.|pic\.twitter|@\w|\.com\b")
_ARTICLES = frozenset("the a an".split())
_OPENERS = frozenset("he she it they this that these those but and however meanwhile also".split())
_SHAPE = (
    "log_words", "log_chars", "ends_sentence", "ends_colon", "inner_sentences", "commas", "quotes",
    "capitalised_share", "all_caps", "digits", "said", "dateline", "opens_with_pronoun_or_connective",
    "article_share", "parenthesis", "label_colon", "link", "relative_length", "shortest",
    "shorter_than_all_others", "words_found_elsewhere", "words_in_one_other_unit",
)
SHAPE_DIM = len(_SHAPE)


def _shape(text: str) -> np.ndarray:
    words = _WORD.findall(text)
    n = max(len(words), 1)
    alpha = [w for w in words if w[0].isalpha()]
    stripped = text.strip()
    return np.array([
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
    ])


def _hashed(text: str) -> np.ndarray:
    out = np.zeros(HASH_DIM)
    words = [w.lower() for w in _WORD.findall(text)]
    for k, word in enumerate(words):
        out[zlib.crc32(word.encode("utf-8", "surrogatepass")) % HASH_DIM] += 1.0
        if k == 0:
            out[zlib.crc32(b"^" + word.encode("utf-8", "surrogatepass")) % HASH_DIM] += 1.0
    return out / max(np.sqrt(len(words)), 1.0)


def headline_features(units: Sequence[str]) -> np.ndarray:
    """Features of each unit as a headline candidate among ``units``, shape (n, SHAPE_DIM + HASH_DIM)."""
    if isinstance(units, str) or not all(isinstance(u, str) for u in units):
        raise InvalidInputError("units must be a sequence of str")
    n = len(units)
    if n == 0:
        return np.zeros((0, SHAPE_DIM + HASH_DIM))
    lengths = np.array([len(_WORD.findall(u)) for u in units], dtype=np.float64)
    shape = np.stack([_shape(u) for u in units])
    others_median = np.array([np.median(np.delete(lengths, i)) if n > 1 else lengths[i] for i in range(n)])
    relative = np.log1p(lengths) - np.log1p(others_median)
    shortest = (lengths == lengths.min()).astype(np.float64)
    strictly = np.array([float(n > 1 and lengths[i] < np.delete(lengths, i).min()) for i in range(n)])
    # A headline's words recur in the story (most of them in its lead); a stray line's need not.
    words = [{w.lower() for w in _WORD.findall(u) if len(w) > 2 and w.lower() not in STOPWORDS} for u in units]
    elsewhere, in_one = np.zeros(n), np.zeros(n)
    for i, own in enumerate(words):
        if own and n > 1:
            others = [words[j] for j in range(n) if j != i]
            elsewhere[i] = len(own & set().union(*others)) / len(own)
            in_one[i] = max(len(own & other) for other in others) / len(own)
    shape = np.column_stack([shape, relative, shortest, strictly, elsewhere, in_one])
    return np.hstack([shape, np.stack([_hashed(u) for u in units])])


@dataclass(frozen=True)
class HeadlineModel:
    """A fitted headline detector: standardisation, logistic-regression weights and a threshold.

    ``probabilities(units)`` gives each unit's probability of being the headline; a unit counts as
    the headline when it has the highest probability, at least ``threshold``, and at most
    ``MAX_WORDS`` words.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    meta: dict

    def probabilities(self, units: Sequence[str]) -> np.ndarray:
        x = (headline_features(units) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))

    def find(self, units: Sequence[str]) -> int | None:
        """The index of the headline among ``units``, or None."""
        units = list(units)
        if len(units) < 2:
            return None
        p = self.probabilities(units)
        best = int(np.argmax(p))
        if p[best] < self.threshold or len(_WORD.findall(units[best])) > MAX_WORDS:
            return None
        return best

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / "headline.npz", mean=self.mean, scale=self.scale, weights=self.weights,
                            bias=np.array([self.bias]), threshold=np.array([self.threshold]))
        meta = {**self.meta, "feature_version": FEATURE_VERSION, "hash_dim": HASH_DIM, "shape": list(_SHAPE)}
        (directory / "headline.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> HeadlineModel:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "headline.json").read_text(encoding="utf-8"))
            with np.load(directory / "headline.npz", allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            raise ModelError(f"{directory}: not a readable headline model ({exc})") from exc
        if meta.get("feature_version") != FEATURE_VERSION or meta.get("hash_dim") != HASH_DIM:
            raise ModelError(f"{directory}: headline model of another feature version; retrain it")
        return cls(arrays["mean"], arrays["scale"], arrays["weights"], float(arrays["bias"][0]),
                   float(arrays["threshold"][0]), meta)


def case_variants(title: str) -> list[str]:
    """A headline as written, in sentence case and in title case (distinct variants only)."""
    lower = title.lower()
    sentence = lower[:1].upper() + lower[1:]
    titled = " ".join(w[:1].upper() + w[1:] for w in lower.split())
    return list(dict.fromkeys([title, sentence, titled]))


def training_rows(documents: Iterable[tuple[str, Sequence[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels from ``(title, paragraphs)`` pairs: every case variant of each title
    placed among its document's paragraphs (positive), and the paragraphs (negative); a pair whose
    title is None or empty gives its paragraphs as negatives only."""
    xs, ys = [], []
    for title, paragraphs in documents:
        paragraphs = list(paragraphs)
        if not title:  # a document without a headline: negatives only
            xs.append(headline_features(paragraphs))
            ys.append(np.zeros(len(paragraphs)))
            continue
        for k, variant in enumerate(case_variants(title)):
            features = headline_features([variant, *paragraphs])
            rows = features if k == 0 else features[:1]  # the paragraphs once per document
            xs.append(rows)
            ys.append(np.r_[1.0, np.zeros(len(rows) - 1)])
    return np.vstack(xs), np.concatenate(ys)


def fit_headline_model(documents: Iterable[tuple[str, Sequence[str]]], *, threshold: float = 0.5,
                       C: float = 1.0, meta: dict | None = None) -> HeadlineModel:
    """Fit a :class:`HeadlineModel` on ``(title, paragraphs)`` pairs (scikit-learn's logistic regression)."""
    from sklearn.linear_model import LogisticRegression

    x, y = training_rows(documents)
    # The shape features are standardised; the hashed words are left as they are (a rare bucket
    # standardised by its tiny spread would dominate every decision it appears in).
    mean, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
    mean[:SHAPE_DIM], scale[:SHAPE_DIM] = x[:, :SHAPE_DIM].mean(axis=0), x[:, :SHAPE_DIM].std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit((x - mean) / scale, y)
    return HeadlineModel(mean, scale, fitted.coef_[0].astype(np.float64), float(fitted.intercept_[0]),
                         float(threshold), {**(meta or {}), "positives": int(y.sum()), "rows": int(len(y))})


@functools.lru_cache(maxsize=1)
def load_headline_model() -> HeadlineModel:
    """The shipped headline model (loaded once)."""
    return HeadlineModel.load(MODEL_DIR)


def find_headline(units: Sequence[str]) -> int | None:
    """The index of the unit that is the document's headline, or None (see :class:`HeadlineModel`)."""
    return load_headline_model().find(units)
