"""Same embeddings, same orders: the ONNX Runtime encoder against the torch (sentence-transformers) one.

The shipped coherence models were trained on torch embeddings, so the fast path must reproduce them.
For the first ``--docs`` documents of a corpus (news-dev by default) this script

1. embeds every paragraph with both backends, for both packaged encoders (all-mpnet-base-v2, the
   default ``news`` model's, and all-MiniLM-L6-v2, ``news-minilm``'s and the reader's base), and
   reports the per-unit cosine between the two (minimum, and how many fall below 0.99999);
2. orders every document, shuffled as ``reorder evaluate`` shuffles it (``reorder.shuffle_for``), with
   the default model once on each backend's embeddings, and with ``--reader`` (default ``news-reader``)
   once through the torch reader and once through the ONNX one, and counts the documents whose orders
   differ;
3. does the same for the seed article.

    python experiments/compare_backends.py --corpus ../shared/corpora/news-dev.jsonl --docs 200

Writes ``experiments/results/compare_backends.md`` and ``.json`` (``reorder.write_results``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np

from reorder import OnnxEmbedder, Reorderer, SentenceTransformerEmbedder, read_corpus, shuffle_for, write_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
SEED_FILE = ROOT / "seeds" / "russia-syria-withdrawal-2016.txt"
THRESHOLD = 0.99999


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def reader_reorderer(model: str, backend: str) -> Reorderer:
    """A Reorderer over ``model`` whose reader and embedder run on ``backend`` (the reader is read when
    the scorer is loaded, under ``REORDER_BACKEND``)."""
    os.environ["REORDER_BACKEND"] = backend
    from reorder.encoder import use_onnx

    use_onnx.cache_clear()
    embedder = (OnnxEmbedder if backend == "onnx" else SentenceTransformerEmbedder)("all-mpnet-base-v2")
    reorderer = Reorderer(model=model, embedder=embedder)
    reorderer.scorer  # loads the reader now, on this backend
    os.environ.pop("REORDER_BACKEND")
    use_onnx.cache_clear()
    return reorderer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "news-dev.jsonl")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--reader", default="news-reader")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    documents = list(itertools.islice(read_corpus(args.corpus), args.docs))
    units = list(dict.fromkeys(u for d in documents for u in d.units))
    seed_text = SEED_FILE.read_text(encoding="utf-8")

    embeddings, timing = {}, {}
    for name in ("all-mpnet-base-v2", "all-MiniLM-L6-v2"):
        for backend, embedder in (("onnx", OnnxEmbedder(name)), ("torch", SentenceTransformerEmbedder(name))):
            start = time.perf_counter()
            embeddings[name, backend] = embedder.encode(units)
            timing[f"{name} {backend}"] = round(time.perf_counter() - start, 1)
    agreement = {}
    for name in ("all-mpnet-base-v2", "all-MiniLM-L6-v2"):
        c = cosines(embeddings[name, "onnx"], embeddings[name, "torch"])
        agreement[name] = {"units": len(c), "min_cosine": float(c.min()), "below": int((c < THRESHOLD).sum())}

    runs = {
        "news": {b: Reorderer(embedder=(OnnxEmbedder if b == "onnx" else SentenceTransformerEmbedder)(
            "all-mpnet-base-v2")) for b in ("onnx", "torch")},
        args.reader: {b: reader_reorderer(args.reader, b) for b in ("onnx", "torch")},
    }
    orders = {}
    for model, pair in runs.items():
        differ, seed_same = [], None
        for index, document in enumerate(documents):
            perm = shuffle_for(args.seed, index, len(document.units))
            shuffled = [document.units[k] for k in perm]
            found = {b: r.order(shuffled) for b, r in pair.items()}
            if found["onnx"] != found["torch"]:
                differ.append(document.id)
        seed_orders = {b: r.reorder_text(seed_text).permutation for b, r in pair.items()}
        seed_same = seed_orders["onnx"] == seed_orders["torch"]
        orders[model] = {"documents": len(documents), "different": len(differ), "different_ids": differ,
                         "seed_identical": seed_same}

    signature = f"{runs['news']['onnx'].signature()}|compare:onnx-vs-torch|docs{len(documents)}"
    lines = ["# ONNX Runtime against torch: embeddings and orders", "",
             f"Corpus `{args.corpus.name}`, first {len(documents)} documents ({len(units)} distinct paragraphs), "
             f"shuffled with seed {args.seed} as `reorder evaluate` shuffles them.", "",
             "| encoder | paragraphs | min cosine | below 0.99999 |", "| --- | ---: | ---: | ---: |"]
    for name, row in agreement.items():
        lines.append(f"| {name} | {row['units']} | {row['min_cosine']:.7f} | {row['below']} |")
    lines += ["", "| model | documents | orders that differ | seed identical |", "| --- | ---: | ---: | --- |"]
    for model, row in orders.items():
        lines.append(f"| {model} | {row['documents']} | {row['different']} | {row['seed_identical']} |")
    lines += ["", "Encoding all the paragraphs once, seconds (same process, a shared 2-core machine): "
              + ", ".join(f"{k} {v}" for k, v in timing.items()) + "."]
    write_results(RESULTS / "compare_backends", {"agreement": agreement, "orders": orders, "seconds": timing},
                  signature=signature, seed=args.seed, markdown="\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
