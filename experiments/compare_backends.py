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
3. does the same for the seed article;
4. measures an int8 variant of the default model's encoder (``onnxruntime.quantization.quantize_dynamic``
   of the exported graph, weights only): its cosines, its orders against the full-precision ones, Kendall
   tau of both against the gold orders, and its encoding time. It is not offered by reorder: this is the
   measurement that would have to justify it.

    python experiments/compare_backends.py --corpus ../shared/corpora/news-dev.jsonl --docs 200

Writes ``experiments/results/compare_backends.md`` and ``.json`` (``reorder.write_results``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from reorder import (
    OnnxEmbedder,
    Reorderer,
    SentenceTransformerEmbedder,
    kendall_tau,
    read_corpus,
    shuffle_for,
    write_results,
)
from reorder.encoder import OnnxEncoder, use_onnx

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
    use_onnx.cache_clear()
    embedder = (OnnxEmbedder if backend == "onnx" else SentenceTransformerEmbedder)("all-mpnet-base-v2")
    reorderer = Reorderer(model=model, embedder=embedder)
    reorderer.scorer  # loads the reader now, on this backend
    os.environ.pop("REORDER_BACKEND")
    use_onnx.cache_clear()
    return reorderer


class Int8Embedder:
    """The default model's encoder with int8 weights (dynamic quantisation of its exported graph), under
    the full-precision model's name so that the coherence model trained on that model accepts it."""

    def __init__(self, full: OnnxEmbedder, directory: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        graph = directory / "model-int8.onnx"
        quantize_dynamic(str(full.encoder.graph), str(graph), weight_type=QuantType.QInt8)
        self.name, self.normalize = full.name, full.normalize
        self.encoder = OnnxEncoder(full.encoder.model_dir, graph, max_length=full.max_length)

    def encode(self, texts):
        return self.encoder.encode(list(texts), normalize=self.normalize)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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

    embedders = {(name, "onnx"): OnnxEmbedder(name) for name in ("all-mpnet-base-v2", "all-MiniLM-L6-v2")}
    embedders.update({(name, "torch"): SentenceTransformerEmbedder(name) for name, _ in list(embedders)})
    scratch = tempfile.TemporaryDirectory()
    embedders["all-mpnet-base-v2", "int8"] = Int8Embedder(embedders["all-mpnet-base-v2", "onnx"], Path(scratch.name))
    embeddings, timing = {}, {}
    for key, embedder in embedders.items():
        start = time.perf_counter()
        embeddings[key] = dict(zip(units, embedder.encode(units)))
        timing[" ".join(key)] = round(time.perf_counter() - start, 1)
        log(f"embedded {len(units)} paragraphs with {' '.join(key)} in {timing[' '.join(key)]} s")
    agreement = {}
    for name, backend in (("all-mpnet-base-v2", "onnx"), ("all-MiniLM-L6-v2", "onnx"), ("all-mpnet-base-v2", "int8")):
        against = "onnx" if backend == "int8" else "torch"
        c = cosines(np.stack([embeddings[name, backend][u] for u in units]),
                    np.stack([embeddings[name, against][u] for u in units]))
        agreement[f"{name} {backend} vs {against}"] = {"units": len(c), "min_cosine": float(c.min()),
                                                       "median_cosine": float(np.median(c)),
                                                       "below": int((c < THRESHOLD).sum())}

    mpnet = "all-mpnet-base-v2"
    runs = {  # each run: (reorderer, the embeddings it is given, or None: it embeds itself)
        "news": {"onnx": (Reorderer(embedder=embedders[mpnet, "onnx"]), embeddings[mpnet, "onnx"]),
                 "torch": (Reorderer(embedder=embedders[mpnet, "torch"]), embeddings[mpnet, "torch"])},
        args.reader: {b: (reader_reorderer(args.reader, b), embeddings[mpnet, b]) for b in ("onnx", "torch")},
        "news, int8 encoder": {"onnx": (Reorderer(embedder=embedders[mpnet, "onnx"]), embeddings[mpnet, "onnx"]),
                               "int8": (Reorderer(embedder=embedders[mpnet, "int8"]), embeddings[mpnet, "int8"])},
    }
    orders = {}
    for model, pair in runs.items():
        differ, taus = [], {b: [] for b in pair}
        for index, document in enumerate(documents):
            perm = shuffle_for(args.seed, index, len(document.units))
            shuffled = [document.units[k] for k in perm]
            found, solutions, objectives = {}, {}, {}
            for b, (reorderer, vectors) in pair.items():
                given = np.stack([vectors[u] for u in shuffled])
                solutions[b] = reorderer.solve(shuffled, embeddings=given)
                found[b] = solutions[b].order
                objectives[b] = reorderer.objective(shuffled, embeddings=given)
                taus[b].append(kendall_tau([int(perm[k]) for k in found[b]], list(range(len(shuffled)))))
            first, second = found.values()
            if first != second:  # why: each order's value under each objective, and how it was found
                differ.append({"id": document.id, "units": len(shuffled),
                               "found": {b: {"method": solutions[b].method, "optimal": bool(solutions[b].optimal)}
                                         for b in pair},
                               "values": {f"{o} order under {b}": float(objectives[b].value(found[o]))
                                          for b in pair for o in pair},
                               "positions_that_differ": sum(a != b for a, b in zip(first, second))})
        first, second = (r.reorder_text(seed_text).permutation for r, _ in pair.values())
        orders[model] = {"compared": list(pair), "documents": len(documents), "different": len(differ),
                         "differences": differ, "seed_identical": first == second,
                         "tau": {b: float(np.mean(t)) for b, t in taus.items()}}
        log(f"{model}: {len(differ)} of {len(documents)} orders differ")
    scratch.cleanup()

    signature = f"{runs['news']['onnx'][0].signature()}|compare:onnx-vs-torch|docs{len(documents)}"
    lines = ["# ONNX Runtime against torch: embeddings and orders", "",
             f"Corpus `{args.corpus.name}`, first {len(documents)} documents ({len(units)} distinct paragraphs), "
             f"shuffled with seed {args.seed} as `reorder evaluate` shuffles them.", "",
             "| encoder | paragraphs | min cosine | median cosine | below 0.99999 |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, row in agreement.items():
        lines.append(f"| {name} | {row['units']} | {row['min_cosine']:.7f} | {row['median_cosine']:.7f} "
                     f"| {row['below']} |")
    lines += ["", "| model | first | second | documents | orders that differ | seed identical | tau first | "
              "tau second |", "| --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for model, row in orders.items():
        first, second = row["compared"]
        lines.append(f"| {model} | {first} | {second} | {row['documents']} | {row['different']} | "
                     f"{row['seed_identical']} | {row['tau'][first]:.3f} | {row['tau'][second]:.3f} |")
    for model, row in orders.items():
        if row["differences"] and "int8" not in model:
            lines += ["", f"Where {model}'s orders differ (an order's objective value under each backend's scores):"]
            for d in row["differences"]:
                lines.append(f"- {d['id']} ({d['units']} units; " + ", ".join(
                    f"{b}: {f['method']}, {'proven optimal' if f['optimal'] else 'not proven optimal'}"
                    for b, f in d["found"].items()) + "; " + ", ".join(
                    f"{k} {v:.6f}" for k, v in d["values"].items()) + f"; {d['positions_that_differ']} positions)")
    lines += ["", "Encoding all the paragraphs once, seconds (same process, a shared 2-core machine): "
              + ", ".join(f"{k} {v}" for k, v in timing.items()) + "."]
    write_results(RESULTS / "compare_backends", {"agreement": agreement, "orders": orders, "seconds": timing},
                  signature=signature, seed=args.seed, markdown="\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
