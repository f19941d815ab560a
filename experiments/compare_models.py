"""Compare model variants (embedders, training parameters) on news-dev, each with its own tuned weights.

Each variant is trained on the same corpora with the same seed. Its objective weights are tuned on one
slice of the dev file (documents after the first ``--docs``, at most 15 units) and it is evaluated on
another (the first ``--docs`` documents of at most ``--max-units`` units), both shuffled leak-free with
``--seed``. Two weight-free diagnostics come with it: how often the position model's top "first"
unit is the true lead, and the tau of ordering by the precedence model's row sums (Borda).

    python experiments/compare_models.py --train ../shared/corpora/news-train-web.jsonl \\
        --dev ../shared/corpora/news-dev.jsonl \\
        --variant minilm: --variant mpnet:embedder=/path/to/all-mpnet-base-v2 \\
        --variant wide:hidden=512

A variant is ``LABEL:key=value,key=value``; ``embedder`` is a sentence-transformers model (local
directory or name), every other key a :class:`reorder.coherence.CoherenceModel` parameter.
Writes experiments/results/compare_models.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import reorder
from reorder import (
    CachedEmbedder,
    Reorderer,
    default_cache_path,
    fit_model,
    kendall_tau,
    load_embedder,
    read_corpora,
    read_corpus,
    tune_weights,
    write_results,
)

RESULTS = Path(__file__).parent / "results"


def parse_variant(text: str) -> tuple[str, str | None, dict]:
    label, _, spec = text.partition(":")
    embedder, params = None, {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        if key == "embedder":
            embedder = value
            continue
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return label, embedder, params


def diagnostics(reorderer: Reorderer, docs) -> dict[str, float]:
    """Weight-free: position model's first-unit accuracy and the precedence model's Borda tau."""
    first, borda = [], []
    for doc in docs:
        units = list(doc.units)
        scores = reorderer.pairwise_scores(units, skip=("follows",))
        first.append(float(np.argmax(scores.position[:, 0]) == 0))
        order = np.argsort(-scores.precedes.sum(axis=1), kind="stable")
        borda.append(kendall_tau(list(order), list(range(len(units)))))
    return {"position_first": float(np.mean(first)), "borda_tau": float(np.mean(borda))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--tune-docs", type=int, default=200)
    parser.add_argument("--max-units", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N documents of each training corpus")
    parser.add_argument("--name", default="compare_models", help="stem of the result files")
    args = parser.parse_args()
    train = read_corpora(args.train, limit=args.limit)
    dev_all = list(read_corpus(args.dev))
    dev = [d for d in dev_all if len(d.units) <= args.max_units][: args.docs]
    held = {id(d) for d in dev}
    tune = [d for d in dev_all if id(d) not in held and len(d.units) <= 15][: args.tune_docs]
    rows, signatures = [], []
    for spec in args.variant:
        label, embedder_name, params = parse_variant(spec)
        start = time.perf_counter()
        embedder = CachedEmbedder(load_embedder(embedder_name), default_cache_path())
        model = fit_model(train, embedder, **{"random_state": args.seed, **params})
        trained = time.perf_counter() - start
        weights, _ = tune_weights(model, tune, embedder, seed=args.seed)
        reorderer = Reorderer(model=model, embedder=embedder, weights=weights, time_limit=0.5, seed=args.seed)
        evaluation = reorderer.evaluate(dev, seed=args.seed)
        signatures.append(evaluation.signature)
        overall = evaluation.overall
        row = {"variant": label, "embedder": embedder.name, "params": params, "weights": weights,
               **{k: overall[k] for k in ("tau", "first", "pairwise", "pmr")}, **diagnostics(reorderer, dev),
               "train_seconds": trained, "seconds": time.perf_counter() - start, "signature": evaluation.signature}
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "reorder": reorder.__version__,
            "train": [Path(p).name for p in args.train], "limit": args.limit, "dev": Path(args.dev).name,
            "docs": len(dev), "tune_docs": len(tune), "max_units": args.max_units, "seed": args.seed}
    lines = [f"# Model variants on {meta['dev']}", "",
             f"Generated by `python experiments/compare_models.py` ({meta['date']}): trained on "
             f"{', '.join(meta['train'])}{f' (first {args.limit} documents of each)' if args.limit else ''} "
             f"(seed {args.seed}); weights tuned on {len(tune)} other dev documents of "
             f"at most 15 units; evaluated on the first {len(dev)} documents of at most {args.max_units} units, "
             f"shuffled with seed {args.seed}.", "",
             "| variant | embedder | params | weights (f/p/pos) | tau | first | PMR | position-model first "
             "| Borda tau | train s |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        w = r["weights"]
        lines.append(f"| {r['variant']} | {r['embedder']} | {r['params'] or ''} | {w['follows']:g}/{w['precedes']:g}/"
                     f"{w['position']:g} | {r['tau']:.4f} | {r['first']:.3f} | {r['pmr']:.3f} | "
                     f"{r['position_first']:.3f} | {r['borda_tau']:.4f} | {r['train_seconds']:.0f} |")
    # One signature per variant (its embedder and tuned weights), also in each row.
    write_results(RESULTS / args.name, {"meta": meta, "rows": rows}, signature="; ".join(dict.fromkeys(signatures)),
                  seed=args.seed, markdown="\n".join(lines))


if __name__ == "__main__":
    main()
