"""Does reading the whole document help? The perceptrons against the context model and their blends.

A research prototype (see ``README.md`` beside it). Trains the perceptrons (:class:`reorder.CoherenceModel`)
and the set transformer (``ContextModel`` of ``context_model.py`` beside this script) on the same corpora
and embeddings, then for each scorer (perceptrons alone, context model alone, log-linear blends of the
two) tunes the objective's weights on one slice of the dev file and evaluates on another, as
``experiments/compare_models.py`` does:
tuned on dev documents after the first ``--docs`` (at most 15 units), evaluated on the first
``--docs`` documents of at most ``--max-units`` units, both shuffled leak-free with ``--seed``.

    python experiments/prototypes/compare_context.py --train ../shared/corpora/news-train-web.jsonl \\
        --dev ../shared/corpora/news-dev.jsonl --embedder all-mpnet-base-v2

Writes experiments/results/{--name}.{md,json} (through ``reorder.write_results``). Dev data only: never a
test split.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from context_model import BlendedScorer, ContextModel  # experiments/prototypes/context_model.py, beside this script

import reorder
from reorder import (
    CachedEmbedder,
    CoherenceModel,
    SentenceTransformerEmbedder,
    default_cache_path,
    evaluate,
    objective_from_scores,
    read_corpora,
    read_corpus,
    solve,
    tune_weights,
    write_results,
)
from reorder.embedding import embed_unique

RESULTS = Path(__file__).resolve().parent.parent / "results"  # experiments/results


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

        # Assembled by hand: a Reorderer takes only a CoherenceModel or the similarity scorer, not the
        # prototype's ContextModel and BlendedScorer (the perceptrons' row is searched the same way).
        def order(units, scorer=scorer, weights=weights):
            scores = scorer.scores(units, embed_unique(embedder, units))
            solution = solve(objective_from_scores(scores, weights), time_limit=0.5, seed=args.seed)
            return solution.order, solution.optimal

        overall = evaluate(order, dev, seed=args.seed).overall
        row = {"scorer": label, "weights": weights, **{k: overall[k] for k in ("tau", "first", "pairwise", "pmr")},
               "seconds": time.perf_counter() - start}
        rows.append(row)
        print(json.dumps(row), flush=True)

    meta = {"date": time.strftime("%Y-%m-%d"), "reorder": reorder.__version__,
            "train": [Path(p).name for p in args.train], "limit": args.limit, "embedder": embedder.name,
            "dev": Path(args.dev).name, "docs": len(dev), "tune_docs": len(tune), "max_units": args.max_units,
            "seed": args.seed, "context": context.get_params(), "train_seconds": seconds,
            "context_history": context.history_}
    lines = [f"# Perceptrons against the context model on {meta['dev']}", "",
             f"Generated by `python experiments/prototypes/compare_context.py` ({meta['date']}): "
             f"{embedder.name} embeddings; "
             f"trained on {', '.join(meta['train'])}{f' (first {args.limit} documents of each)' if args.limit else ''} "
             f"(seed {args.seed}; perceptrons {seconds['perceptrons']:.0f} s, "
             f"context model {seconds['context']:.0f} s, "
             f"{len(context.history_)} epochs; context model {params or 'defaults'}); "
             f"weights tuned on {len(tune)} other dev documents of at most 15 units; "
             f"evaluated on the first {len(dev)} documents of at most {args.max_units} units, "
             f"shuffled with seed {args.seed}.",
             "", "| scorer | weights (f/p/pos) | tau | first | pairwise | PMR |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        w = r["weights"]
        lines.append(f"| {r['scorer']} | {w['follows']:g}/{w['precedes']:g}/{w['position']:g} | {r['tau']:.4f} | "
                     f"{r['first']:.3f} | {r['pairwise']:.4f} | {r['pmr']:.3f} |")
    # No Reorderer signature exists for the prototype's scorers: the signature says what was run.
    signature = (f"reorder:{reorder.__version__}|method:compare_context|embedder:{embedder.name}|search:auto-0.5s"
                 f"|seed:{args.seed}")
    write_results(RESULTS / args.name, {"meta": meta, "rows": rows}, signature=signature, seed=args.seed,
                  markdown="\n".join(lines))


if __name__ == "__main__":
    main()
