"""Leak-free evaluation: shuffle each gold document with a seed, order it, and score the result.

Every document is shuffled *before* any part of the system sees it (B-TSort's released evaluation
numbered its units by gold position and broke ties by that number, which inflated its scores), so the
input order carries no information; ties in the search are broken by the shuffled index.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._version import __version__
from .corpus import CorpusDocument
from .metrics import LENGTH_BUCKETS, bucket_name, document_scores, macro_average

BASELINES = ("random", "input")
"""Methods that need no model: a random order, and the (shuffled) input order."""
SINGLE_TERMS = ("follows", "precedes", "position")
"""Methods that order by one learned score alone (the objective's other weights set to 0)."""
METHODS = (*BASELINES, "similarity", *SINGLE_TERMS, "full")
"""What ``reorder evaluate --method`` compares: the baselines, the unsupervised similarity scorer,
each learned score alone, and the full objective with the model's tuned weights."""


def single_term_weights(method: str) -> dict[str, float] | None:
    """The objective's weights of a method that uses one learned score alone (None for the others)."""
    if method not in SINGLE_TERMS:
        return None
    return {term: (1.0 if term == method else 0.0) for term in SINGLE_TERMS}


def baseline_signature(method: str, seed: int) -> str:
    """The signature of a baseline's evaluation (no model: the version, the method and the seed)."""
    return f"reorder:{__version__}|method:{method}|seed:{seed}"


def shuffle_for(seed: int, index: int, n: int) -> np.ndarray:
    """The permutation applied to document ``index`` of a corpus: ``shuffled[k] = gold[perm[k]]``."""
    return np.random.default_rng([seed, index]).permutation(n)


@dataclass
class Evaluation:
    """Per-document rows and their macro averages, overall and per length bucket."""

    rows: list[dict] = field(default_factory=list)
    signature: str = ""
    seconds: float = 0.0

    @property
    def overall(self) -> dict[str, float]:
        return macro_average(self.rows)

    @property
    def buckets(self) -> dict[str, dict[str, float]]:
        names = [f"{lo}+" if hi is None else f"{lo}-{hi}" for lo, hi in LENGTH_BUCKETS]
        out = {}
        for name in names:
            rows = [r for r in self.rows if r["bucket"] == name]
            if rows:
                out[name] = macro_average(rows)
        return out

    def to_dict(self) -> dict:
        titled = [r["title_first"] for r in self.rows if "title_first" in r]
        return {
            "signature": self.signature,
            "overall": self.overall,
            "buckets": self.buckets,
            "proven_optimal": float(np.mean([r["optimal"] for r in self.rows])) if self.rows else float("nan"),
            "seconds": self.seconds,
            **({"titled": len(titled), "title_first": float(np.mean(titled))} if titled else {}),
        }


def evaluate(
    order_fn: Callable[[Sequence[str]], tuple[Sequence[int], bool]] | str,
    documents: Iterable[CorpusDocument],
    *,
    seed: int = 0,
    min_units: int = 2,
    max_units: int | None = None,
    progress: Callable[[int], object] | None = None,
    signature: str = "",
    with_title: bool = False,
    read_ahead: Callable[[list[str]], object] | None = None,
) -> Evaluation:
    """Evaluate an ordering function on gold documents.

    Parameters
    ----------
    order_fn : callable or {"random", "input"}
        Takes the shuffled units and returns ``(order, proven_optimal)``, the order as indices into
        the shuffled units. The strings name the baselines.
    documents : iterable of CorpusDocument
        Units in their gold order.
    seed : int
        Seed of the shuffles (and of the random baseline): the same seed gives the same inputs.
    min_units, max_units : int
        Documents outside this length range are skipped (the title counts as a unit).
    with_title : bool
        Add each document's title (where it has one) as its first gold unit, shuffled with the rest:
        how a scrambled page that still holds its headline is ordered. The rows then say whether the
        title came first (``title_first``), and the signature ends with ``|with-title``.
    read_ahead : callable, optional
        Called with the units of each next chunk of documents (those evaluated) before they are ordered,
        so that a scorer can encode them in batches across documents (see
        :meth:`reorder.finetuned.PairReader.read_ahead`); the results are the same.
    """
    result = Evaluation(signature=f"{signature}|with-title" if with_title else signature)
    start = time.perf_counter()
    if read_ahead is not None:
        documents = _reading_ahead(documents, read_ahead, with_title, min_units, max_units)
    for index, doc in enumerate(documents):
        units = _units(doc, with_title)
        titled = len(units) > len(doc.units)
        n = len(units)
        if progress is not None:
            progress(1)
        if not _evaluated(units, min_units, max_units):
            continue
        perm = shuffle_for(seed, index, n)
        shuffled = [units[k] for k in perm]
        if order_fn == "random":
            order, optimal = np.random.default_rng([seed, index, 1]).permutation(n), False
        elif order_fn == "input":
            order, optimal = np.arange(n), False
        else:
            order, optimal = order_fn(shuffled)
        predicted = [int(perm[k]) for k in order]
        row = document_scores(predicted, list(range(n)))
        row.update(id=doc.id, n=n, bucket=bucket_name(n), optimal=bool(optimal), predicted=predicted)
        if titled:
            row["title_first"] = float(predicted[0] == 0)
        result.rows.append(row)
    result.seconds = time.perf_counter() - start
    return result


def _units(doc: CorpusDocument, with_title: bool) -> tuple[str, ...]:
    return (doc.title, *doc.units) if with_title and doc.title is not None else tuple(doc.units)


def _evaluated(units: Sequence[str], min_units: int, max_units: int | None) -> bool:
    return len(units) >= min_units and (max_units is None or len(units) <= max_units)


def _reading_ahead(documents: Iterable[CorpusDocument], read_ahead: Callable[[list[str]], object], with_title: bool,
                   min_units: int, max_units: int | None, size: int = 256) -> Iterator[CorpusDocument]:
    """The documents, unchanged; before each ``size`` of them, ``read_ahead`` gets the units of those evaluated."""
    remaining = iter(documents)
    while chunk := list(itertools.islice(remaining, size)):
        evaluated = [units for units in (_units(doc, with_title) for doc in chunk)
                     if _evaluated(units, min_units, max_units)]
        read_ahead([u for units in evaluated for u in units])
        yield from chunk


def write_results(stem: str | os.PathLike[str], payload: dict, *, signature: str, seed: int,
                  markdown: str | None = None) -> Path:
    """Write an experiment's results where they can be reproduced from: ``STEM.json`` and, with
    ``markdown``, ``STEM.md``.

    The JSON holds ``payload`` under the keys it has, after ``signature``, ``seed``, the reorder
    version and the command line that produced it; the markdown ends with the same facts. Returns the
    JSON file's path.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python", *sys.argv])
    record = {"signature": signature, "seed": seed, "reorder_version": __version__, "command": command, **payload}
    path = stem.with_suffix(".json")
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if markdown is not None:
        footer = f"\n\nSignature: `{signature}`; seed {seed}; produced by `{command}`.\n"
        stem.with_suffix(".md").write_text(markdown.rstrip("\n") + footer, encoding="utf-8")
    return path
