"""Does reading the whole document help? The perceptrons against the context model and their blends.

Trains the perceptrons (:class:`reorder.coherence.CoherenceModel`) and the set transformer
(:class:`reorder.context.ContextModel`) on the same corpora and embeddings, then for each scorer
(perceptrons alone, context model alone, log-linear blends of the two) tunes the objective's weights
on one slice of the dev file and evaluates on another, as ``experiments/compare_models.py`` does:
tuned on dev documents after the first ``--docs`` (at most 15 units), evaluated on the first
``--docs`` documents of at most ``--max-units`` units, both shuffled leak-free with ``--seed``.

    python experiments/compare_context.py --train ../shared/corpora/news-train-web.jsonl \
        --dev ../shared/corpora/news-dev.jsonl --embedder all-mpnet-base-v2

Writes experiments/results/{--name}.{md,json}. Dev data only: never a test split.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import reorder
from reorder.coherence import CoherenceModel
from reorder.corpus import read_corpora, read_corpus
from reorder.embedding import CachedEmbedder, SentenceTransformerEmbedder, embed_unique
from reorder.evaluation import evaluate
from reorder.pipeline import default_cache_path, objective_from_scores
from reorder.search import solve
from reorder.training import tune_weights

from context_model import BlendedScorer, ContextModel  # experiments/context_model.py, beside this script

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N documents of each training corpus")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--tune-docs", type=int, default=200)
    parser.add_argument("--max-units", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blends", default="0.5", help="comma-separated context shares of the blends")
    parser.add_argument("--context", default="", help="ContextModel parameters, key=value,key=value")
    parser.add_argument("--perceptrons", default=None, metavar="DIR",
                        help="load the perceptrons from this model directory instead of training them "
                             "(written there when it does not exist yet)")
    parser.add_argument("--name", default="compare_context")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    params = {k: json.loads(v) for k, v in (item.split("=") for item in filter(None, args.context.split(",")))}

    train = read_corpora(args.train, limit=args.limit)
    dev_all = list(read_corpus(args.dev))
    dev = [d for d in dev_all if len(d.units) <= args.max_units][: args.docs]
    held = {id(d) for d in dev}
    tune = [d for d in dev_all if id(d) not in held and len(d.units) <= 15][: args.tune_docs]
    embedder = CachedEmbedder(SentenceTransformerEmbedder(args.embedder), default_cache_path())
    pairs = [(list(d.units), embed_unique(embedder, d.units)) for d in train]

    start = time.perf_counter()
    if args.perceptrons and Path(args.perceptrons).is_dir():
        perceptrons, _ = CoherenceModel.load(args.perceptrons)
    else:
        perceptrons = CoherenceModel(random_state=args.seed).fit(pairs, embedder_name=embedder.name)
        if args.perceptrons:
            perceptrons.save(args.perceptrons)
    seconds = {"perceptrons": time.perf_counter() - start}
    start = time.perf_counter()
    context = ContextModel(random_state=args.seed, **params).fit(pairs)
    seconds["context"] = time.perf_counter() - start

    scorers = {"perceptrons": perceptrons, "context": context}
    for share in (float(s) for s in args.blends.split(",") if s):
        scorers[f"blend {share:g}"] = BlendedScorer(perceptrons, context, share)
    rows = []
    for label, scorer in scorers.items():
        start = time.perf_counter()
        weights, _ = tune_weights(scorer, tune, embedder, seed=args.seed)

        def order(units, scorer=scorer, weights=weights):
            scores = scorer.scores(units, embed_unique(embedder, units))
            solution = solve(objective_from_scores(scores, weights), time_limit=0.5, seed=args.seed)
            return solution.order, solution.optimal

        overall = evaluate(order, dev, seed=args.seed).overall
        row = {"scorer": label, "weights": weights, **{k: overall[k] for k in ("tau", "first", "pairwise", "pmr")},
               "seconds": time.perf_counter() - start}
        rows.append(row)
        print(json.dumps(row), flush=True)

    meta = {"date": time.strftime("%Y-%m-%d"), "reorder": reorder.__version__, "train": [Path(p).name for p in args.train],
            "limit": args.limit, "embedder": embedder.name, "dev": Path(args.dev).name, "docs": len(dev),
            "tune_docs": len(tune), "max_units": args.max_units, "seed": args.seed, "context": context.get_params(),
            "train_seconds": seconds, "context_history": context.history_}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1), encoding="utf-8")
    lines = [f"# Perceptrons against the context model on {meta['dev']}", "",
             f"Generated by `python experiments/compare_context.py` ({meta['date']}): {embedder.name} embeddings; "
             f"trained on {', '.join(meta['train'])}{f' (first {args.limit} documents of each)' if args.limit else ''} "
             f"(seed {args.seed}; perceptrons {seconds['perceptrons']:.0f} s, context model {seconds['context']:.0f} s, "
             f"{len(context.history_)} epochs; context model {params or 'defaults'}); weights tuned on {len(tune)} other dev documents of at most 15 units; "
             f"evaluated on the first {len(dev)} documents of at most {args.max_units} units, shuffled with seed {args.seed}.",
             "", "| scorer | weights (f/p/pos) | tau | first | pairwise | PMR |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        w = r["weights"]
        lines.append(f"| {r['scorer']} | {w['follows']:g}/{w['precedes']:g}/{w['position']:g} | {r['tau']:.4f} | "
                     f"{r['first']:.3f} | {r['pairwise']:.4f} | {r['pmr']:.3f} |")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
