"""Calibrate `reorder score`'s decision "scrambled" and its weak-transition flag on a dev corpus.

For each of the first ``--docs`` documents of the corpus with at least ``--min-units`` content
paragraphs (default: all of them), the original order and one seeded shuffle
(``reorder.evaluation.shuffle_for``) are both assessed exactly as ``reorder score`` assesses a text:
page furniture and headings set aside (``reorder.document.detect_roles``), then ``Reorderer.assess``
on the content paragraphs in that order. The rule is ``order_z < base + slope * max(best_z, 0)``
(``reorder.assessment.scrambled_threshold``); ``best_z`` depends only on the units, so the share of
*all* shuffled versions of a document that a rule flags is the share of its null orders' ``order_z``
(``reorder.assessment.null_order_z``, 1,000 random orders) below its threshold. That expected share
is what the rule is chosen on and reported as "shuffled"; "one shuffle" is the share of the single
seeded shuffles flagged (the same quantity, measured with sampling noise of about 1.2 points at
657 documents). Then:

- the rule with the largest margin ``min(shuffled - 90%, 10% - originals flagged)``, over a grid of
  ``base`` (step 0.01) and ``slope`` (0 to 0.40, step 0.02), and the best constant threshold
  (``slope`` 0) for comparison; each with the shares it flags overall, per length bucket, and in two
  folds (rule chosen on every other document, measured on the rest);
- the shares flagged by the module's current ``SCRAMBLED_Z`` / ``SCRAMBLED_SLOPE``;
- for context, the best constant threshold of each single statistic (``order_z``'s three parts, the
  gap ratio, the p-value, the weighted objective's z), on the one-shuffle rows;
- with ``--must-flag FILE`` (the seed article, which must be called scrambled): that text's numbers
  and whether the recommended rule calls it scrambled;
- for the weak flag, the follows probability below which 10% of the true transitions fall, and the
  share of the shuffled documents' transitions (true adjacencies left out) below it.

    python experiments/calibrate_scrambled.py ../shared/corpora/news-dev.jsonl \\
        --must-flag seeds/russia-syria-withdrawal-2016.txt   # (these are the defaults)

Writes ``experiments/results/calibrate_scrambled.json`` (summary, signature, seed, command; through
``reorder.write_results``) and ``calibrate_scrambled.csv`` (one row per assessed order). Dev data only:
never run it on a test split.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from reorder import (
    Reorderer,
    assessment,
    default_cache_path,
    detect_roles,
    objective_from_scores,
    read_corpus,
    shuffle_for,
    split,
    write_results,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "experiments" / "results"
ORIGINAL_TARGET = 0.10  # at most this share of original documents flagged
SHUFFLED_TARGET = 0.90  # at least this share of shuffled documents flagged
WEAK_SHARE = 0.10  # share of true transitions the weak threshold flags
BUCKETS = ((6, 10), (11, 20), (21, None))
SLOPES = np.round(np.arange(0.0, 0.401, 0.02), 2)

# single statistics, on the one-shuffle rows: column -> direction (+1 flags values above the threshold)
STATISTICS = {"order_z": -1, "z_follows": -1, "z_precedes": -1, "z_position": -1, "gap_ratio": +1,
              "p_value": +1, "z": -1}


class Doc:
    """One document's numbers: its original's and its shuffle's order_z, best_z and null order_z."""

    def __init__(self, n: int, original: float, shuffled: float, best_z: float, nulls: np.ndarray):
        self.n, self.original, self.shuffled, self.best_z = n, original, shuffled, best_z
        self.nulls = np.sort(nulls)


def shares(docs: list[Doc], base: float, slope: float) -> dict:
    """Shares flagged by the rule: originals, all shuffled versions (expected), the one shuffle."""
    if not docs:
        return {"original": float("nan"), "shuffled": float("nan"), "one_shuffle": float("nan"), "docs": 0}
    t = np.array([assessment.scrambled_threshold(d.best_z, base, slope) for d in docs])
    return {
        "original": float(np.mean([d.original < ti for d, ti in zip(docs, t)])),
        "shuffled": float(np.mean([np.searchsorted(d.nulls, ti) / len(d.nulls) for d, ti in zip(docs, t)])),
        "one_shuffle": float(np.mean([d.shuffled < ti for d, ti in zip(docs, t)])),
        "docs": len(docs),
    }


def margin(result: dict) -> float:
    return min(result["shuffled"] - SHUFFLED_TARGET, ORIGINAL_TARGET - result["original"])


def best_rule(docs: list[Doc], slopes=SLOPES) -> tuple[float, float]:
    """The (base, slope) with the largest margin; bases on a 0.01 grid."""
    best, best_margin = (0.0, 0.0), -np.inf
    for slope in slopes:
        for base in np.round(np.arange(-1.0, 3.0, 0.01), 2):
            m = margin(shares(docs, base, slope))
            if m > best_margin + 1e-12:
                best, best_margin = (float(base), float(slope)), m
    return best


def report(docs: list[Doc], base: float, slope: float) -> dict:
    result = {"base": base, "slope": slope, "all": shares(docs, base, slope), "buckets": {}}
    result["margin"] = margin(result["all"])
    for lo, hi in BUCKETS:
        name = f"{lo}+" if hi is None else f"{lo}-{hi}"
        subset = [d for d in docs if d.n >= lo and (hi is None or d.n <= hi)]
        if subset:
            result["buckets"][name] = shares(subset, base, slope)
    return result


def chosen(docs: list[Doc], slopes) -> dict:
    """The largest-margin rule on all the documents, and on each half measured on the other."""
    base, slope = best_rule(docs, slopes)
    folds = []
    halves = (docs[0::2], docs[1::2])
    for fit, held in ((halves[0], halves[1]), (halves[1], halves[0])):
        b, s = best_rule(fit, slopes)
        folds.append({"base": b, "slope": s, "held_out": shares(held, b, s)})
    pooled = {k: float(np.mean([f["held_out"][k] for f in folds])) for k in ("original", "shuffled", "one_shuffle")}
    return {**report(docs, base, slope), "two_fold": folds, "two_fold_mean": pooled}


def single_statistic_threshold(rows: list[dict], column: str, direction: int) -> dict:
    original = np.array([r[column] for r in rows if r["kind"] == "original"])
    shuffled = np.array([r[column] for r in rows if r["kind"] == "shuffled"])
    flag = (lambda v, t: v > t) if direction > 0 else (lambda v, t: v < t)
    values = np.unique(np.concatenate([original, shuffled]))
    best = (-np.inf, None, None, None)
    for t in np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]]):
        o, s = float(flag(original, t).mean()), float(flag(shuffled, t).mean())
        m = min(s - SHUFFLED_TARGET, ORIGINAL_TARGET - o)
        if m > best[0] + 1e-12:
            best = (m, float(t), o, s)
    return {"flags": "above" if direction > 0 else "below", "margin": best[0], "threshold": best[1],
            "original": best[2], "one_shuffle": best[3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(REPO.parent / "shared" / "corpora" / "news-dev.jsonl"),
                        help="A dev corpus (JSONL; default: ../shared/corpora/news-dev.jsonl). Never a test split.")
    parser.add_argument("--docs", type=int, default=None,
                        help="Documents to use (the first long-enough ones; default all).")
    parser.add_argument("--skip", type=int, default=0, help="Skip the first SKIP long-enough documents.")
    parser.add_argument("--min-units", type=int, default=6, help="Fewest content paragraphs a document needs.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the shuffles and of the null samples.")
    parser.add_argument("--model", default=None, help="Model directory (default: the shipped news model).")
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--must-flag", default=str(REPO / "seeds" / "russia-syria-withdrawal-2016.txt"),
                        metavar="FILE", help="A scrambled text that the recommended rule must call "
                                             "scrambled (default: the seed article; '' for none).")
    parser.add_argument("--output", default=str(RESULTS / "calibrate_scrambled"), help="Output path without suffix.")
    args = parser.parse_args()

    reorderer = Reorderer(model=args.model, cache=default_cache_path(), time_limit=args.time_limit, seed=args.seed)
    started = time.perf_counter()
    rows: list[dict] = []
    docs: list[Doc] = []
    true_probs: list[float] = []
    false_probs: list[float] = []
    documents = (
        (d.id, [u for u, role in zip(d.units, detect_roles(d.units)) if role == "content"])
        for d in read_corpus(args.corpus)
    )
    documents = ((doc_id, content) for doc_id, content in documents if len(content) >= args.min_units)
    for index, (doc_id, content) in enumerate(documents):
        if index < args.skip:
            continue
        if args.docs is not None and index >= args.skip + args.docs:
            break
        n = len(content)
        perm = shuffle_for(args.seed, index, n)  # shuffled[k] = gold[perm[k]]
        found = {}
        for kind, units in (("original", content), ("shuffled", [content[k] for k in perm])):
            result = found[kind] = reorderer.assess(units)
            z = (result.value - result.random_mean) / result.random_std if result.random_std > 0 else 0.0
            rows.append({
                "id": doc_id, "n": n, "kind": kind, "value": result.value, "best_value": result.best_value,
                "best_optimal": result.best_optimal, "random_mean": result.random_mean,
                "random_std": result.random_std, "p_value": result.p_value, "gap_ratio": result.gap_ratio,
                "z": z, "order_z": result.order_z, "z_follows": result.z_follows, "z_precedes": result.z_precedes,
                "z_position": result.z_position, "best_z": result.best_z, "threshold": result.threshold,
                "score": result.score, "scrambled": result.scrambled,
            })
            for t in result.transitions:
                if kind == "original":
                    true_probs.append(t.probability)
                elif perm[t.target] != perm[t.source] + 1:
                    false_probs.append(t.probability)
        # The null orders' order_z needs the scores themselves, which Reorderer.assess keeps to itself:
        # the original's scores again (embeddings cached) and the objective made from them.
        scores = reorderer.pairwise_scores(content)
        nulls = assessment.null_order_z(objective_from_scores(scores, reorderer.weights_), scores,
                                        seed=reorderer.seed)
        docs.append(Doc(n, found["original"].order_z, found["shuffled"].order_z, found["original"].best_z, nulls))
        if len(docs) % 25 == 0:
            print(f"{len(docs)} documents, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    summary: dict = {
        "corpus": Path(args.corpus).name,
        "docs": len(docs),
        "min_units": args.min_units,
        "skip": args.skip,
        "git_commit": _git_commit(),
        "targets": {"original_flagged_at_most": ORIGINAL_TARGET, "shuffled_flagged_at_least": SHUFFLED_TARGET},
        "best_found_proven_optimal": float(np.mean([r["best_optimal"] for r in rows])),
        "current": report(docs, assessment.SCRAMBLED_Z, assessment.SCRAMBLED_SLOPE),
        "recommended": chosen(docs, SLOPES),
        "best_constant": chosen(docs, [0.0]),
        "single_statistics": {c: single_statistic_threshold(rows, c, d) for c, d in STATISTICS.items()},
    }
    if args.must_flag:
        document = split(Path(args.must_flag).read_text(encoding="utf-8"))
        content = [u for u, role in zip(document.units, detect_roles(document.units)) if role == "content"]
        must = reorderer.assess(content)
        rule = summary["recommended"]
        summary["must_flag"] = {
            "file": Path(args.must_flag).name, "order_z": must.order_z, "best_z": must.best_z,
            "z_follows": must.z_follows, "z_precedes": must.z_precedes, "z_position": must.z_position,
            "p_value": must.p_value, "best_optimal": must.best_optimal,
            "current_threshold": must.threshold, "scrambled_now": must.scrambled,
            "recommended_threshold": assessment.scrambled_threshold(must.best_z, rule["base"], rule["slope"]),
        }
        summary["must_flag"]["scrambled_by_recommended"] = must.order_z < summary["must_flag"]["recommended_threshold"]
    true_arr, false_arr = np.array(true_probs), np.array(false_probs)
    weak = float(np.quantile(true_arr, WEAK_SHARE))
    summary["weak_transitions"] = {
        "threshold_10pct_of_true": weak,
        "true_flagged": float((true_arr < weak).mean()),
        "shuffled_flagged": float((false_arr < weak).mean()),
        "current": {
            "WEAK_TRANSITION_PROBABILITY": assessment.WEAK_TRANSITION_PROBABILITY,
            "true_flagged": float((true_arr < assessment.WEAK_TRANSITION_PROBABILITY).mean()),
            "shuffled_flagged": float((false_arr < assessment.WEAK_TRANSITION_PROBABILITY).mean()),
        },
        "true_median": float(np.median(true_arr)),
        "shuffled_median": float(np.median(false_arr)),
    }
    summary["seconds"] = time.perf_counter() - started

    output = Path(args.output)
    write_results(output, summary, signature=reorderer.signature(), seed=args.seed)  # also its command line
    with output.with_suffix(".csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name in ("current", "recommended", "best_constant"):
        rule = summary[name]
        line = f"{name}: base {rule['base']:.2f} slope {rule['slope']:.2f} margin {rule['margin']:+.3f} {rule['all']}"
        if "two_fold_mean" in rule:
            line += f" two-fold held out {rule['two_fold_mean']}"
        print(line)
    print(json.dumps({k: summary[k] for k in ("must_flag", "weak_transitions") if k in summary}, indent=2))


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    main()
