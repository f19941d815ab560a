"""Unit and pair features for the coherence models: embeddings plus cheap discourse cues, pure numpy.

Every feature is computed from the units' texts and embeddings alone and is *equivariant* under any
permutation of the units: nothing here sees the order the units were given in, so no feature can
leak a gold position.

Shapes: ``n`` units, embeddings of shape (n, d).

- :func:`unit_features` -> (n, UNIT_DIM + d): per-unit cues (openers that need a predecessor, quotes,
  names introduced or used in short form, dates, numbers, length, centrality in the document) and the
  embedding itself; the input of the position model.
- :func:`pair_blocks` -> the pieces of the pair features for all (i, j): the embeddings (u_i, u_j,
  u_i * u_j) and PAIR_DIM cheap pair cues (cosine, shared words and names, full name in i then
  short form in j, ...) plus both units' cues. The pair models consume them without materialising
  the (n * n, 3d) matrix at once.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FEATURE_VERSION = 3
"""Bumped whenever a feature changes meaning, so that a model trained on older features is refused."""

PRONOUNS = frozenset(
    "he she it they his her its their them him this that these those such there we our".split()
)
CONNECTIVES = frozenset(
    """but however meanwhile also and still yet moreover furthermore instead so then later after afterwards
    earlier finally thus therefore nevertheless nonetheless besides additionally further similarly
    otherwise hence while although though because since or nor in on at as when""".split()
)
ANAPHORIC_NOUNS = (
    "statement", "decision", "announcement", "move", "report", "deal", "agreement", "plan", "talks",
    "attack", "incident", "company", "group", "move", "comments", "remarks", "offer", "proposal",
    "study", "findings", "case", "official", "spokesman", "spokeswoman", "ministry", "latter", "former",
    "pullout", "withdrawal", "results", "method", "model", "approach", "algorithm", "paper",
)
STOPWORDS = frozenset(
    """a an the and or but if of at by for with about against between into through during before after above
    below to from up down in out on off over under again further then once here there when where why how all
    any both each few more most other some such no nor not only own same so than too very s t can will just
    don should now is are was were be been being have has had having do does did doing would could might
    must shall may i me my we our you your he him his she her it its they them their what which who whom
    this that these those am said says say also one two new mr mrs ms""".split()
)

WORD = re.compile(r"[^\W\d_][\w'’\-]*|\d[\d,.]*\d|\d")
"""A word or a number, as the cues count them; the headline detector counts words the same way."""
_NAME_SEQ = re.compile(r"\b[A-Z][\w'’\-]*[a-z][\w'’\-]*(?:\s+(?:[A-Z]\.\s+)?[A-Z][\w'’\-]*[a-z][\w'’\-]*)+")
_CAP = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’\-]*[a-z][\w'’\-]*")
_QUOTES = "\"“”‘’'«»"
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tomorrow)\b", re.I)
_SAID = re.compile(r"\b(said|says|told|according to|added|stated|announced)\b", re.I)
_DATELINE = re.compile(r"^[A-Z][A-Z .,'\-]{2,}(\([^)]*\))?\s*[,\-–—]|\((Reuters|AP|AFP|CNN)\)")
ANAPHORIC_PHRASE = re.compile(r"\b(the|this|that|these|those|such)\s+(" + "|".join(ANAPHORIC_NOUNS) + r")\b", re.I)

UNIT_CUES = (
    "opens_pronoun",
    "opens_connective",
    "opens_quote",
    "opens_lower",
    "has_said",
    "he_said",
    "anaphoric_np",
    "full_names",
    "short_names",
    "names_introduced",
    "names_used_short",
    "has_year",
    "has_weekday",
    "numbers",
    "question",
    "dateline",
    "log_chars",
    "length_rank",
    "centrality",
    "centrality_rank",
    "lexical_centrality",
    "log_n",
)
OPENER_DIM = 64
"""Hashed buckets for a unit's opening words ("he said", "but the", "in this paper", ...)."""
UNIT_DIM = len(UNIT_CUES) + OPENER_DIM

PAIR_CUES = (
    "cosine",
    "cosine_rank_row",
    "cosine_rank_col",
    "shared_words",
    "jaccard",
    "shared_names",
    "intro_ij",
    "intro_ji",
    "quote_continues",
)
PAIR_DIM = len(PAIR_CUES)


FEATURE_GROUPS = {
    "names": ("full_names", "short_names", "names_introduced", "names_used_short", "shared_names", "intro_ij",
              "intro_ji"),
    "openers": ("opens_pronoun", "opens_connective", "opens_quote", "opens_lower", "he_said", "anaphoric_np",
                "opener_hash"),
    "quotes_dates_numbers": ("has_said", "has_year", "has_weekday", "numbers", "question", "dateline",
                             "quote_continues"),
    "lexical": ("shared_words", "jaccard", "lexical_centrality"),
    "geometry": ("cosine", "cosine_rank_row", "cosine_rank_col", "centrality", "centrality_rank"),
}
"""Cue groups that an ablation can switch off (length cues and the embeddings themselves always stay)."""


def ablation_masks(groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Column masks (1 keep, 0 drop) of the unit cues, shape (UNIT_DIM,), and pair cues, (PAIR_DIM,)."""
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown:
        raise ValueError(f"unknown feature group {unknown[0]!r}; choose from {', '.join(FEATURE_GROUPS)}")
    dropped = {name for g in groups for name in FEATURE_GROUPS[g]}
    unit = np.array([name not in dropped for name in UNIT_CUES] + [("opener_hash" not in dropped)] * OPENER_DIM,
                    dtype=np.float32)
    pair = np.array([name not in dropped for name in PAIR_CUES], dtype=np.float32)
    return unit, pair


@dataclass(frozen=True)
class Lexicon:
    """Per-document token facts shared by the unit and pair cues.

    Attributes
    ----------
    words : ndarray of shape (n, v)
        1 where unit i contains content word k.
    full : ndarray of shape (n, m)
        1 where unit i contains the full form of name k (two or more capitalised words).
    short : ndarray of shape (n, m)
        1 where unit i uses name k only by its last word.
    vocabulary : tuple of str, length v
        The content words, in the column order of ``words``.
    names : tuple of str, length m
        The full names, in the column order of ``full`` and ``short``.
    """

    words: np.ndarray
    full: np.ndarray
    short: np.ndarray
    vocabulary: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def _first_word(text: str) -> str:
    match = WORD.search(text)
    return match.group(0) if match else ""


def lexicon(texts: Sequence[str]) -> Lexicon:
    """Token facts of a document's units (see :class:`Lexicon`)."""
    n = len(texts)
    word_sets = []
    full_sets = []
    cap_sets = []
    for text in texts:
        tokens = [t.lower() for t in WORD.findall(text)]
        word_sets.append({t for t in tokens if len(t) > 2 and t not in STOPWORDS})
        names = set()
        for match in _NAME_SEQ.finditer(text):
            words = [w for w in match.group(0).split() if w.lower() not in STOPWORDS and not w.endswith(".")]
            if len(words) >= 2:
                names.add(" ".join(words))
        full_sets.append(names)
        cap_sets.append({w for w in _CAP.findall(text) if w.lower() not in STOPWORDS})
    vocab = {w: k for k, w in enumerate(sorted(set().union(*word_sets))) } if n else {}
    words = np.zeros((n, len(vocab)), dtype=np.float32)
    for i, ws in enumerate(word_sets):
        words[i, [vocab[w] for w in ws]] = 1.0
    names = sorted(set().union(*full_sets)) if n else []
    full = np.zeros((n, len(names)), dtype=np.float32)
    short = np.zeros((n, len(names)), dtype=np.float32)
    for k, name in enumerate(names):
        surname = name.split()[-1]
        for i in range(n):
            if name in full_sets[i]:
                full[i, k] = 1.0
            elif surname in cap_sets[i]:
                short[i, k] = 1.0
    return Lexicon(words=words, full=full, short=short, vocabulary=tuple(vocab), names=tuple(names))


def _ranks(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """0-based ranks along ``axis``, tied values sharing their average rank.

    A plain double argsort would break ties by the units' input order, which leaks that order into
    the features (ties are common with duplicate units or equal lengths); without ties the two agree.
    """
    values = np.asarray(values, dtype=np.float64)
    rows = np.moveaxis(values, axis, -1)
    ranks = np.empty(rows.shape, dtype=np.float64)
    flat_values, flat_ranks = rows.reshape(-1, rows.shape[-1]), ranks.reshape(-1, rows.shape[-1])
    for row, out in zip(flat_values, flat_ranks):  # scipy.stats.rankdata's "average", without importing scipy
        order = np.argsort(row, kind="mergesort")
        ordered = row[order]
        starts = np.r_[True, ordered[1:] != ordered[:-1]]
        group = np.cumsum(starts)
        bounds = np.r_[np.nonzero(starts)[0], len(row)]
        out[order] = 0.5 * (bounds[group] + bounds[group - 1] + 1)
    return np.moveaxis(ranks, -1, axis) - 1.0


def _rank01(values: np.ndarray) -> np.ndarray:
    """Rank of each value within its array scaled to [0, 1] (0.5 for a single value)."""
    n = len(values)
    if n < 2:
        return np.full(n, 0.5)
    return _ranks(values) / (n - 1)


def opener_hash(text: str) -> np.ndarray:
    """Signed hashing of a unit's first one, two and three lower-cased words into OPENER_DIM buckets.

    Openers carry much of discourse structure ("He said", "But the", "Meanwhile", "In this paper",
    "Finally we") and embeddings of a whole paragraph blur them. crc32 keeps it deterministic.
    """
    out = np.zeros(OPENER_DIM, dtype=np.float32)
    words = [w.lower() for w in WORD.findall(text[:200])[:3]]
    for k in range(1, len(words) + 1):
        key = zlib.crc32(("\x1f".join(words[:k]) + f"#{k}").encode("utf-8", "surrogatepass"))
        out[key % OPENER_DIM] += 1.0 if (key >> 16) & 1 else -1.0
    return out


def unit_cues(texts: Sequence[str], embeddings: np.ndarray, lex: Lexicon | None = None) -> np.ndarray:
    """Discourse cues of each unit in its document, shape (n, UNIT_DIM), float32.

    The first ``len(UNIT_CUES)`` columns are the named cues, the rest the opener hash.
    """
    n = len(texts)
    lex = lex if lex is not None else lexicon(texts)
    out = np.zeros((n, UNIT_DIM), dtype=np.float32)
    if n == 0:
        return out
    intro = (lex.full @ lex.short.T) if lex.full.size else np.zeros((n, n), np.float32)
    lengths = np.array([len(t) for t in texts], dtype=np.float64)
    emb = np.asarray(embeddings, dtype=np.float64)
    total = emb.sum(axis=0)
    others = (total[None, :] - emb) / max(n - 1, 1)
    norms = np.linalg.norm(others, axis=1) * np.linalg.norm(emb, axis=1)
    centrality = np.where(norms > 0, np.sum(emb * others, axis=1) / np.maximum(norms, 1e-12), 0.0)
    doc_freq = lex.words.sum(axis=0)
    lexical = (lex.words @ (doc_freq > 1)) / np.maximum(lex.words.sum(axis=1), 1.0)
    for i, text in enumerate(texts):
        stripped = text.lstrip()
        first = _first_word(stripped)
        first_lower = first.lower()
        cues = {
            "opens_pronoun": first_lower in PRONOUNS,
            "opens_connective": first_lower in CONNECTIVES,
            "opens_quote": bool(stripped) and stripped[0] in _QUOTES,
            "opens_lower": bool(first) and first[0].islower(),
            "has_said": bool(_SAID.search(text)),
            "he_said": bool(re.match(r"^(He|She|They|It)\s+(said|says|added|told|noted)\b", stripped)),
            "anaphoric_np": len(ANAPHORIC_PHRASE.findall(text)),
            "full_names": lex.full[i].sum(),
            "short_names": lex.short[i].sum(),
            "names_introduced": intro[i].sum() - intro[i, i],
            "names_used_short": intro[:, i].sum() - intro[i, i],
            "has_year": bool(_YEAR.search(text)),
            "has_weekday": bool(_WEEKDAY.search(text)),
            "numbers": min(len(re.findall(r"\d+", text)), 10) / 10,
            "question": text.rstrip().rstrip(_QUOTES).endswith("?"),
            "dateline": bool(_DATELINE.search(stripped[:80])),
            "log_chars": np.log1p(lengths[i]) / 8,
            "length_rank": 0.0,
            "centrality": centrality[i],
            "centrality_rank": 0.0,
            "lexical_centrality": lexical[i],
            "log_n": np.log(n) / 5,
        }
        out[i, : len(UNIT_CUES)] = [float(cues[name]) for name in UNIT_CUES]
        out[i, len(UNIT_CUES) :] = opener_hash(stripped)
    out[:, UNIT_CUES.index("length_rank")] = _rank01(lengths)
    out[:, UNIT_CUES.index("centrality_rank")] = _rank01(centrality)
    for name in ("full_names", "short_names", "names_introduced", "names_used_short", "anaphoric_np"):
        k = UNIT_CUES.index(name)
        out[:, k] = np.log1p(out[:, k])
    return out


def unit_features(texts: Sequence[str], embeddings: np.ndarray, cues: np.ndarray | None = None) -> np.ndarray:
    """Input of the position model: cues followed by the embedding, shape (n, UNIT_DIM + d)."""
    cues = unit_cues(texts, embeddings) if cues is None else cues
    return np.hstack([cues, np.asarray(embeddings, dtype=np.float32)])


def pair_cues(texts: Sequence[str], embeddings: np.ndarray, lex: Lexicon | None = None) -> np.ndarray:
    """Cheap pair cues for every ordered pair (i, j), shape (n, n, PAIR_DIM), float32."""
    n = len(texts)
    lex = lex if lex is not None else lexicon(texts)
    out = np.zeros((n, n, PAIR_DIM), dtype=np.float32)
    if n == 0:
        return out
    emb = np.asarray(embeddings, dtype=np.float32)
    cosine = emb @ emb.T
    np.fill_diagonal(cosine, -1.0)
    row_rank = _ranks(-cosine, axis=1) / max(n - 1, 1)
    col_rank = _ranks(-cosine, axis=0) / max(n - 1, 1)
    shared = lex.words @ lex.words.T
    sizes = lex.words.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - shared
    full_or_short = np.maximum(lex.full, lex.short)
    shared_names = full_or_short @ full_or_short.T if lex.full.size else np.zeros((n, n))
    intro = lex.full @ lex.short.T if lex.full.size else np.zeros((n, n))
    ends_open_quote = np.array([_open_quote(t) for t in texts], dtype=np.float32)
    opens_quote = np.array([t.lstrip()[:1] in _QUOTES and t.lstrip() != "" for t in texts], dtype=np.float32)
    out[..., 0] = cosine
    out[..., 1] = row_rank
    out[..., 2] = col_rank
    out[..., 3] = np.log1p(shared)
    out[..., 4] = np.where(union > 0, shared / np.maximum(union, 1), 0.0)
    out[..., 5] = np.log1p(shared_names)
    out[..., 6] = np.log1p(intro)
    out[..., 7] = np.log1p(intro.T)
    out[..., 8] = ends_open_quote[:, None] * opens_quote[None, :]
    return out


def _open_quote(text: str) -> bool:
    """Whether a unit leaves a quotation open (an odd number of double quotes), so the next continues it."""
    straight = text.count('"')
    return straight % 2 == 1 or text.count("“") > text.count("”")
