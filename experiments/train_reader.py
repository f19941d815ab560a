"""Train the fine-tuned pair reader (issue 14) and ship it combined with the news model.

    python experiments/train_reader.py ../shared/corpora -o reorder/models/news-reader

1. Fine-tune low-rank adapters and a pair head over the packaged all-MiniLM-L6-v2 on the natural
   order of the ``--train`` files (default: news-train and news-train-web;
   :func:`reorder.finetuned.fine_tune`) for ``--minutes`` of CPU time; the run checkpoints to
   ``--checkpoint`` every ``--every`` CPU minutes and resumes from it when rerun (so it may span
   sessions; a finished run is not trained further).
2. Tune on the ``--dev`` file (default news-dev), even-numbered records only (the odd ones stay for
   measuring): the mix of the coherence model's and the reader's log-probabilities and the
   objective's weights, by the mean Kendall tau of reorder's search over the records of 3 to
   ``--max-units`` units, each shuffled with ``shuffle_for(0, 2k, n)`` (k: the document's rank among
   those tuned on); ``--reader-mix`` and ``--position`` set the grid's reader scales and position
   weights. A corpus with no dev split (ROCStories) may be both: then the records tuned on (the
   first ``--tune-docs`` even records of 3 to ``--max-units`` units) are left out of training, so
   the reader is never tuned on what it was trained on, and it trains on all the others.
3. Write the model directory: ``reader.safetensors`` (adapters and head, float16) and ``reader.json``
   (what it was trained on, the mix, the weights, and ``combine.model``: the coherence model it is
   combined with, ``../news``), plus ``OUT.tuning.md``/``.json`` beside ``--results``.

The learning curve of the same training (``experiments/learning_curve.py --design lora``) writes the
same checkpoint format, so ``--checkpoint`` may point at one of its runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
from pathlib import Path

import numpy as np

import reorder
from reorder import kendall_tau, objective_from_scores, read_corpus, shuffle_for, solve
from reorder.embedding import DEFAULT_MODEL, default_model_path
from reorder.finetuned import CombinedScorer, PairReader, fine_tune

MIX_GRID = {"model": (1.0,), "reader": (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)}  # scale: the weights below
WEIGHT_GRID = {"follows": (0.0, 0.5, 1.0), "precedes": (1.0,), "position": (0.0, 0.5, 1.0, 2.0, 4.0)}


def _tune(reader, dev, model_dir: Path, cache: Path | None, mix_grid: dict,
          weight_grid: dict) -> tuple[dict, dict, list[dict]]:
    base = reorder.Reorderer(model_dir, roles=False, cache=cache)
    scorer = base.scorer
    rows = []
    for k, units in enumerate(dev):
        perm = shuffle_for(0, 2 * k, len(units))  # seeded by the tuned document's rank k (not its record index)
        shuffled = [units[i] for i in perm]
        rows.append((perm, scorer.scores(shuffled, base.embed(shuffled)), reader.scores(shuffled)))
    table = []
    for a, b in itertools.product(mix_grid["model"], mix_grid["reader"]):
        combined = CombinedScorer(scorer, reader, {"model": a, "reader": b}, {})
        mixed = [(perm, combined.combine(base_scores, read)) for perm, base_scores, read in rows]
        for f, p, pos in itertools.product(*weight_grid.values()):
            weights = {"follows": f, "precedes": p, "position": pos}
            taus = []
            for perm, scores in mixed:
                order = solve(objective_from_scores(scores, weights), time_limit=0.3, seed=0).order
                taus.append(kendall_tau([int(perm[i]) for i in order], list(range(len(perm)))))
            table.append({"mix": {"model": a, "reader": b}, "weights": weights, "tau": float(np.mean(taus))})
            logging.info("mix %s/%s weights %s: tau %.4f", a, b, weights, table[-1]["tau"])
    best = max(table, key=lambda row: row["tau"])
    return best["mix"], best["weights"], table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("reorder/models/news-reader"))
    parser.add_argument("--checkpoint", type=Path, default=Path("experiments/models/reader/checkpoint.pt"))
    parser.add_argument("--minutes", type=float, default=90.0, help="CPU minutes of training in all")
    parser.add_argument("--every", type=float, default=15.0, help="CPU minutes between checkpoints")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--spread", type=float, default=0.0,
                        help="share of steps that draw --window units from the whole document instead of a window")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N documents (smoke tests)")
    parser.add_argument("--train", nargs="+", default=["news-train.jsonl", "news-train-web.jsonl"],
                        help="ordered corpora in CORPORA to fine-tune on")
    parser.add_argument("--dev", default="news-dev.jsonl",
                        help="corpus in CORPORA whose even records are tuned on (not trained on, if in --train)")
    parser.add_argument("--tune-docs", type=int, default=300, help="even --dev records tuned on")
    parser.add_argument("--max-units", type=int, default=15)
    parser.add_argument("--model", type=Path, default=Path("reorder/models/news"),
                        help="the coherence model the reader is combined with")
    parser.add_argument("--cache", type=Path, default=reorder.default_cache_path())
    parser.add_argument("--results", type=Path, default=Path("experiments/results/reader"))
    parser.add_argument("--reader-mix", type=float, nargs="+", default=MIX_GRID["reader"],
                        help="the reader's scales tried (the coherence model's is 1)")
    parser.add_argument("--position", type=float, nargs="+", default=WEIGHT_GRID["position"],
                        help="the objective's position weights tried")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    torch.manual_seed(args.seed)  # the head's initial weights
    reader = PairReader.build(default_model_path(), rank=args.rank, hidden=args.hidden,
                              base_name=DEFAULT_MODEL)
    records = [list(d.units) for d in read_corpus(args.corpora / args.dev)]
    tuned = [k for k in range(0, len(records), 2) if 3 <= len(records[k]) <= args.max_units][: args.tune_docs]
    held = set(tuned)
    kept = [units for k, units in enumerate(records) if k not in held]
    training = []
    for name in args.train:  # the --dev records tuned on are never trained on
        training += kept if name == args.dev else [list(d.units) for d in read_corpus(args.corpora / name)]
    training = training[: args.limit]
    left_out = len(tuned) if args.dev in args.train else 0
    state = fine_tune(reader, training, args.checkpoint, minutes=args.minutes, every=args.every, lr=args.lr,
                      window=args.window, spread=args.spread, seed=args.seed,
                      callback=lambda s: logging.info("step %d, %.1f CPU min, loss %.4f", s["step"],
                                                      s["cpu_s"] / 60, s["loss"]))
    dev = [records[k] for k in tuned]
    mix_grid = {**MIX_GRID, "reader": tuple(args.reader_mix)}
    weight_grid = {**WEIGHT_GRID, "position": tuple(args.position)}
    mix, weights, table = _tune(reader, dev, args.model, args.cache, mix_grid, weight_grid)
    relative = os.path.relpath(args.model.resolve(), args.output.resolve())
    extra = {"name": args.output.name, "combine": {"model": str(relative), "mix": mix}, "objective": weights,
             "training": {"corpora": list(args.train), "documents": len(training), "left_out": left_out,
                          "minutes": args.minutes,
                          "steps": state["step"], "pairs": state["pairs"], "lr": args.lr, "window": args.window,
                          "spread": args.spread,
                          "seed": args.seed, "limit": args.limit},
             "tuning": {"records": f"{args.dev} even", "documents": len(dev), "max_units": args.max_units,
                        "reader_mix": list(mix_grid["reader"]), "position": list(weight_grid["position"])}}
    reader.save(args.output, extra=extra)
    lines = [f"# Tuning the combined model ({args.dev}, even records)", "",
             f"{len(dev)} documents of 3-{args.max_units} units; best mix {mix}, weights {weights}.", "",
             "| mix model | mix reader | follows | position | tau |", "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['mix']['model']} | {r['mix']['reader']} | {r['weights']['follows']} | "
              f"{r['weights']['position']} | {r['tau']:.4f} |" for r in sorted(table, key=lambda r: -r["tau"])[:12]]
    reorder.write_results(args.results, {"table": table, "mix": mix, "weights": weights, "training": extra["training"]},
                          signature=f"reorder:{reorder.__version__}|reader:{args.output.name}|seed:{args.seed}",
                          seed=args.seed, markdown="\n".join(lines))
    print(json.dumps({"output": str(args.output), "mix": mix, "weights": weights}))


if __name__ == "__main__":
    main()
