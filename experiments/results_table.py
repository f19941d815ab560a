"""Regenerate the results table (Markdown + CSV) and the tau-by-length plot under experiments/results/.

Every document is shuffled with the seed before the system sees it (reorder.evaluation). Each
document's scores are computed once and every method is searched on them, so the methods are
compared on identical inputs in one run. Published reference points come from
../shared/corpora/README.md and are marked as such.

    python experiments/results_table.py \\
        --corpus news-dev=../shared/corpora/news-dev.jsonl \\
        --corpus abc-dev=../shared/corpora/abc-dev.jsonl \\
        --corpus nips-test=../shared/corpora/nips-test.jsonl:experiments/models/nips \\
        --corpus roc-test=../shared/corpora/roc-test.jsonl:experiments/models/roc

A corpus given as NAME=PATH uses the shipped news model; NAME=PATH:MODEL_DIR uses that model.
Each corpus's rows go to results/corpus-NAME.json; the table, CSV and plot are rebuilt from every
such file present, so corpora can be run in separate processes (or with --report-only, none).
The ablations (single scores, similarity chain) search with at most --ablation-time-limit seconds.
The similarity chain uses the embedder of the corpus's model.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import reorder
from reorder import (
    SIMILARITY,
    Reorderer,
    default_cache_path,
    evaluate,
    objective_from_scores,
    read_corpus,
    solve,
    write_results,
)
from reorder.metrics import LENGTH_BUCKETS

RESULTS = Path(__file__).parent / "results"
CORPUS_ORDER = {"news-dev": 0, "abc-dev": 1, "nips-test": 2, "roc-test": 3}
METRICS = ("tau", "pmr", "positional", "first", "last", "pairwise")
DEFAULT_METHOD = "full objective (reorder default)"
PUBLISHED = [
    # corpus, system, tau, pmr, note  (../shared/corpora/README.md)
    ("nips-test", "B-TSort (BERT pairs + topological sort, ACL 2020), published", 0.81, 0.326, "GPU fine-tuned BERT"),
    ("nips-test", "BERSON (EMNLP 2020), published", 0.85, 0.480, "GPU fine-tuned BERT"),
    ("roc-test", "exact linear ordering over B-TSort's BERT pair probabilities, published", 0.77, 0.437,
     "GPU fine-tuned BERT"),
    ("news-dev", "BART-base pointer ensemble on CNN-DailyMail <= 20 paragraphs (DocEng 2021), published", 0.47, None,
     "other corpus (CNN-DM), 14 h GPU training"),
]


def default_signature(rows: list[dict]) -> str:
    """The signature of the reorder default's row among ``rows``."""
    return next(r["signature"] for r in rows if r["method"] == DEFAULT_METHOD)


def methods_for(tuned: dict[str, float]) -> dict[str, dict | str]:
    """Each method: a baseline name, or (scorer, weights, search)."""
    one = lambda k: {w: (1.0 if w == k else 0.0) for w in ("follows", "precedes", "position")}  # noqa: E731
    return {
        "random": "random",
        "input order": "input",
        "similarity chain (unsupervised)": {"scorer": "similarity",
                                            "weights": {"follows": 1.0, "precedes": 0.0, "position": 1.0},
                                            "search": "auto"},
        "follows only": {"scorer": "model", "weights": one("follows"), "search": "auto"},
        "precedes only": {"scorer": "model", "weights": one("precedes"), "search": "auto"},
        "position only": {"scorer": "model", "weights": one("position"), "search": "auto"},
        "full objective, heuristic search": {"scorer": "model", "weights": tuned, "search": "heuristic"},
        DEFAULT_METHOD: {"scorer": "model", "weights": tuned, "search": "auto"},
    }


def run_corpus(name: str, path: str, model: str | None, *, limit: int | None, seed: int, time_limit: float,
               ablation_time_limit: float):
    reorderer = Reorderer(model=model, cache=default_cache_path(), seed=seed, time_limit=time_limit)
    # The unsupervised baseline reads the same embeddings as the model, so only the scores differ.
    similarity = Reorderer(model=SIMILARITY, embedder=reorderer.embedder_.name, cache=default_cache_path(), seed=seed,
                           time_limit=time_limit)
    documents = list(read_corpus(path, limit=limit))
    tuned = reorderer.weights_
    # Assembled by hand from public pieces: each document's scores are computed once (pairwise_scores) and
    # every method's weights and search are applied to them (objective_from_scores, solve), where one
    # Reorderer.evaluate per method would embed and score every document again.
    scores: dict[tuple[str, tuple[str, ...]], object] = {}

    def scores_of(kind: str, units):
        key = (kind, tuple(units))
        if key not in scores:
            source = reorderer if kind == "model" else similarity
            scores[key] = source.pairwise_scores(units)
        return scores[key]

    rows = []
    for label, spec in methods_for(tuned).items():
        if isinstance(spec, str):
            fn = spec
            signature = f"reorder:{reorder.__version__}|method:{spec}|seed:{seed}"
        else:
            limit_s = time_limit if label.startswith("full objective") else min(time_limit, ablation_time_limit)

            def fn(units, spec=spec, limit_s=limit_s):
                objective = objective_from_scores(scores_of(spec["scorer"], units), spec["weights"])
                solution = solve(objective, method=spec["search"], time_limit=limit_s, seed=seed)
                return solution.order, solution.optimal

            base = reorderer if spec["scorer"] == "model" else similarity
            # The signature of a Reorderer set up as this method is (its weights and search).
            signature = Reorderer(model=base.model, embedder=base.embedder, method=spec["search"], time_limit=limit_s,
                                  weights=spec["weights"], cache=base.cache, seed=seed).signature()
        bar = tqdm(total=len(documents), desc=f"{name}: {label}", unit="doc", leave=False)
        result = evaluate(fn, documents, seed=seed, progress=bar.update, signature=signature)
        bar.close()
        overall = result.overall
        row = {"corpus": name, "method": label, **{m: overall[m] for m in METRICS}, "docs": overall["docs"],
               "proven": result.to_dict()["proven_optimal"], "seconds": result.seconds, "signature": signature,
               "buckets": {b: v["tau"] for b, v in result.buckets.items()}}
        rows.append(row)
        print(f"{name:<10} {label:<36} tau {row['tau']:.4f} pmr {row['pmr']:.4f} first {row['first']:.4f}", flush=True)
        if label.startswith("full objective (reorder"):
            by_n: dict[int, list[float]] = {}
            for r in result.rows:
                by_n.setdefault(r["n"], []).append(r["tau"])
            row["tau_by_n"] = {n: float(np.mean(v)) for n, v in sorted(by_n.items())}
    return rows


def write_outputs(rows: list[dict], meta: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    bucket_names = [f"{lo}+" if hi is None else f"{lo}-{hi}" for lo, hi in LENGTH_BUCKETS]
    with open(RESULTS / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["corpus", "method", *METRICS, "docs", "proven_optimal", "seconds",
                         *[f"tau_{b}" for b in bucket_names], "signature"])
        for r in rows:
            writer.writerow([r["corpus"], r["method"], *[f"{r[m]:.4f}" for m in METRICS], int(r["docs"]),
                             f"{r['proven']:.3f}", f"{r['seconds']:.1f}",
                             *[f"{r['buckets'][b]:.4f}" if b in r["buckets"] else "" for b in bucket_names],
                             r["signature"]])
        for corpus, system, tau, pmr, note in PUBLISHED:
            writer.writerow([corpus, system, f"{tau:.4f}", "" if pmr is None else f"{pmr:.4f}", "", "", "", "", "",
                             "", "", *[""] * len(bucket_names), note])
    lines = [
        "# Results",
        "",
        f"Generated by `python experiments/results_table.py` ({meta['date']}, reorder {reorder.__version__}, "
        f"seed {meta['seed']}, search time limit {meta['time_limit']} s for the full objective, "
        f"{meta['ablation_time_limit']} s for the ablations). Every document is shuffled with the seed "
        "before the system sees it. tau = Kendall tau, PMR = perfect match ratio, first/last = first/last-unit "
        "accuracy, all macro-averaged over documents. Published rows are quoted from ../shared/corpora/README.md, "
        "not re-run.",
        "",
    ]
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        lines += [f"## {corpus}", "", "| method | tau | PMR | positional | first | last | pairwise | "
                  + " | ".join(f"tau {b}" for b in bucket_names) + " | proven optimal |",
                  "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(bucket_names) + "---:|"]
        for r in (r for r in rows if r["corpus"] == corpus):
            lines.append(f"| {r['method']} | " + " | ".join(f"{r[m]:.3f}" for m in METRICS) + " | "
                         + " | ".join(f"{r['buckets'][b]:.3f}" if b in r["buckets"] else "" for b in bucket_names)
                         + f" | {r['proven']:.0%} |")
        for c, system, tau, pmr, note in PUBLISHED:
            if c == corpus:
                lines.append(f"| *{system}* ({note}) | {tau:.2f} | " + ("" if pmr is None else f"{pmr:.3f}")
                             + " |" + " |" * (5 + len(bucket_names)))
        docs = int(next(r["docs"] for r in rows if r["corpus"] == corpus))
        lines += ["", f"{docs} documents. Signatures: see results.csv.", ""]
    # One signature per corpus (its model); each row's own is in results.csv.
    signature = "; ".join(dict.fromkeys(default_signature([r]) for r in rows if r["method"] == DEFAULT_METHOD))
    write_results(RESULTS / "results", {"meta": meta, "rows": rows}, signature=signature, seed=meta["seed"],
                  markdown="\n".join(lines))
    plot(rows)


def plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        if "tau_by_n" not in r:
            continue
        points = sorted((int(n), tau) for n, tau in r["tau_by_n"].items())
        ns, taus = [n for n, _ in points], [tau for _, tau in points]
        ax.plot(ns, taus, marker="o", markersize=3, linewidth=1, label=r["corpus"])
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("units in the document (n, log scale)")
    ax.set_ylabel("mean Kendall tau")
    ax.set_title("reorder (default objective): tau against document length")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "tau_by_n.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", default=[], help="NAME=PATH[:MODEL_DIR]")
    parser.add_argument("--report-only", action="store_true",
                        help="Rebuild the table and plot from results/corpus-*.json")
    parser.add_argument("--ablation-time-limit", type=float, default=0.3)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=1.0)
    args = parser.parse_args()
    if not args.corpus and not args.report_only:
        parser.error("give at least one --corpus, or --report-only")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for spec in args.corpus:
        name, _, rest = spec.partition("=")
        path, _, model = rest.partition(":")
        rows = run_corpus(name, path, model or None, limit=args.limit, seed=args.seed, time_limit=args.time_limit,
                          ablation_time_limit=args.ablation_time_limit)
        meta = {"date": time.strftime("%Y-%m-%d"), "seed": args.seed, "time_limit": args.time_limit,
                "ablation_time_limit": args.ablation_time_limit, "limit": args.limit, "corpus": spec}
        write_results(RESULTS / f"corpus-{name}", {"meta": meta, "rows": rows}, signature=default_signature(rows),
                      seed=args.seed)
    rows, metas = [], []
    for part in sorted(RESULTS.glob("corpus-*.json"), key=lambda p: CORPUS_ORDER.get(p.stem[7:], 99)):
        data = json.loads(part.read_text(encoding="utf-8"))
        rows += data["rows"]
        metas.append(data["meta"])
    write_outputs(rows, {"date": max(m["date"] for m in metas), "seed": metas[0]["seed"],
                         "time_limit": metas[0]["time_limit"], "ablation_time_limit": metas[0]["ablation_time_limit"],
                         "runs": metas})


if __name__ == "__main__":
    main()
