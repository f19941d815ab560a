"""Prototype: the headline detector's document-level decision rules, measured on abc-dev and news-dev.

    python decision_rules.py ../../../../shared/corpora   (in this folder, after train_headline.py wrote ./model)

For each probability threshold and each cap on how many units of a document lack final punctuation:
the share of abc-dev documents whose title (added among the paragraphs) is found, the same for the
rural news (records before index 2250, whose titles are headlines; later records are ABC Science ones,
whose titles are sentence-long standfirsts), and the shares of news-dev documents and of abc-dev
bodies given a false headline.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from headline_model import HeadlineModel  # beside this script

END = re.compile(r"[.!?][\"'”’»)\]]*$")
SCIENCE_FROM = 2250


def _candidate(model: HeadlineModel, units: list[str]) -> tuple[int, float, int, bool]:
    """The most likely unit, its probability, how many units lack final punctuation, whether it does."""
    p = model.probabilities(units)
    best = int(np.argmax(p))
    unpunctuated = [k for k, unit in enumerate(units) if not END.search(unit.strip())]
    return best, float(p[best]), len(unpunctuated), best in unpunctuated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", help="folder holding abc-dev.jsonl and news-dev.jsonl")
    args = parser.parse_args()
    model = HeadlineModel.load(Path(__file__).parent / "model")
    read = lambda name: [json.loads(line) for line in open(Path(args.corpora) / name, encoding="utf-8")]  # noqa: E731
    abc, news = read("abc-dev.jsonl"), read("news-dev.jsonl")
    titled = [_candidate(model, [r["title"], *r["paragraphs"]]) for r in abc]
    news_bodies = [_candidate(model, r["paragraphs"]) for r in news]
    abc_bodies = [_candidate(model, r["paragraphs"]) for r in abc]
    rural = np.arange(len(abc)) < SCIENCE_FROM
    for threshold in (0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.99):
        for cap in (1, 2, 3, 99):
            def taken(candidate, at=None):
                best, p, unpunctuated, itself = candidate
                return p >= threshold and unpunctuated <= cap and itself and (at is None or best == at)

            found = np.array([taken(c, 0) for c in titled])
            print(f"threshold {threshold:<5} cap {cap:<3} found {found.mean():.3f} (rural {found[rural].mean():.3f})"
                  f"  false: news-dev {np.mean([taken(c) for c in news_bodies]):.3f}"
                  f", abc bodies {np.mean([taken(c) for c in abc_bodies]):.3f}")


if __name__ == "__main__":
    main()
