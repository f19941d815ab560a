"""Prototype: how central (in mpnet embeddings) the headline detector's candidate is among its
document's units, for abc-dev titles and for the false candidates of news-dev and abc-dev bodies.

    python centrality.py ../../../../shared/corpora   (in this folder, after train_headline.py wrote ./model)

Writes ``centrality.json``: per document the candidate's index, its probability, its cosine with the
mean of the other units, its highest cosine with one other unit, and how many units are more central.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from headline_model import HeadlineModel  # beside this script

from reorder import CachedEmbedder, SentenceTransformerEmbedder, default_cache_path
from reorder.embedding import embed_unique

HERE = Path(__file__).parent


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def candidate(model: HeadlineModel, embedder, units: list[str]) -> tuple[int, float, float, float, int]:
    p = model.probabilities(units)
    best = int(np.argmax(p))
    vectors = embed_unique(embedder, units).astype(np.float64)
    centrality = [float(vectors[k] @ _unit(np.delete(vectors, k, axis=0).mean(axis=0))) for k in range(len(units))]
    others = np.delete(vectors, best, axis=0)
    more_central = int(np.sum(np.array(centrality) > centrality[best]))
    return best, float(p[best]), centrality[best], float((others @ vectors[best]).max()), more_central


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", help="folder holding abc-dev.jsonl and news-dev.jsonl")
    args = parser.parse_args()
    model = HeadlineModel.load(HERE / "model")
    embedder = CachedEmbedder(SentenceTransformerEmbedder("all-mpnet-base-v2"), default_cache_path())

    def read(name: str) -> list[dict]:
        with open(Path(args.corpora) / name, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    abc, news = read("abc-dev.jsonl"), read("news-dev.jsonl")
    out = {"abc_title": [candidate(model, embedder, [r["title"], *r["paragraphs"]]) for r in abc],
           "abc_body": [candidate(model, embedder, r["paragraphs"]) for r in abc],
           "news": [candidate(model, embedder, r["paragraphs"]) for r in news]}
    (HERE / "centrality.json").write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main()
