"""Calibrate `reorder score`'s decision "scrambled" and its weak-transition flag on a dev corpus.

For each of the first ``--docs`` documents of the corpus with at least ``--min-units`` content
paragraphs, the original order and one seeded shuffle (``reorder.evaluation.shuffle_for``) are both
assessed exactly as ``reorder score`` assesses a text: page furniture and headings set aside
(``reorder.document.detect_roles``), then ``Reorderer.assess`` on the content paragraphs in that
order. Then:

- for each candidate statistic (the ``order_z`` that ``assess`` uses, its three parts ``z_follows``,
  ``z_precedes`` and ``z_position``, the gap ratio, the p-value, the z-score of the weighted objective), the threshold
  with the largest margin to both targets (originals flagged <= 10%, shuffled >= 90%), and the
  shares flagged at that threshold, overall, per length bucket and in two folds (threshold chosen on
  one half, measured on the other);
- with ``--must-flag FILE`` (the seed article, which must be called scrambled): that text's
  ``order_z`` as ``reorder score`` computes it, and the *recommended* threshold: the largest-margin
  one, or, if that would not flag the file, the smallest multiple of 0.05 above the file's
  ``order_z``, with the shares it flags;
- the shares flagged at the module's current ``SCRAMBLED_Z``;
- for the weak flag, the follows probability below which 10% of the true transitions fall, and the
  share of the shuffled documents' transitions (true adjacencies left out) below it.

    python experiments/calibrate_scrambled.py ../shared/corpora/news-dev.jsonl --docs 300 \
        --must-flag seeds/russia-syria-withdrawal-2016.txt   # (these are the defaults)

Writes ``experiments/results/calibrate_scrambled.json`` (summary, signature, seed, command) and
``calibrate_scrambled.csv`` (one row per assessed order). Dev data only: never run it on a test split.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from reorder import assessment
from reorder.corpus import read_corpus
from reorder.document import detect_roles, split
from reorder.evaluation import shuffle_for
from reorder.pipeline import Reorderer, default_cache_path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "experiments" / "results"
ORIGINAL_TARGET = 0.10  # at most this share of original documents flagged
SHUFFLED_TARGET = 0.90  # at least this share of shuffled documents flagged
WEAK_SHARE = 0.10  # share of true transitions the weak threshold flags
BUCKETS = ((6, 10), (11, 20), (21, None))

# statistic -> (column, direction): +1 flags values above the threshold, -1 below it.
STATISTICS = {"order_z": ("order_z", -1), "z_follows": ("z_follows", -1), "z_precedes": ("z_precedes", -1),
              "z_position": ("z_position", -1), "gap_ratio": ("gap_ratio", +1), "p_value": ("p_value", +1), "z": ("z", -1)}


def flagged(values: np.ndarray, threshold: float, direction: int) -> np.ndarray:
    return values > threshold if direction > 0 else values < threshold


def best_threshold(original: np.ndarray, shuffled: np.ndarray, direction: int) -> tuple[float, float]:
    """The threshold (midpoint between adjacent observed values) with the largest margin
    ``min(shuffled_share - SHUFFLED_TARGET, ORIGINAL_TARGET - original_share)``; and that margin."""
    values = np.unique(np.concatenate([original, shuffled]))
    candidates = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    best, best_margin = float(candidates[0]), -np.inf
    for t in candidates:
        margin = min(
            flagged(shuffled, t, direction).mean() - SHUFFLED_TARGET,
            ORIGINAL_TARGET - flagged(original, t, direction).mean(),
        )
        if margin > best_margin + 1e-12:
            best, best_margin = float(t), float(margin)
    return best, best_margin


def shares(rows: list[dict], column: str, threshold: float, direction: int) -> dict:
    out = {}
    for kind in ("original", "shuffled"):
        values = np.array([r[column] for r in rows if r["kind"] == kind])
        out[kind] = float(flagged(values, threshold, direction).mean()) if len(values) else float("nan")
    out["docs"] = sum(r["kind"] == "original" for r in rows)
    return out


def report(rows: list[dict], column: str, threshold: float, direction: int) -> dict:
    result = {"threshold": threshold, "all": shares(rows, column, threshold, direction), "buckets": {}}
    for lo, hi in BUCKETS:
        name = f"{lo}+" if hi is None else f"{lo}-{hi}"
        subset = [r for r in rows if r["n"] >= lo and (hi is None or r["n"] <= hi)]
        if subset:
            result["buckets"][name] = shares(subset, column, threshold, direction)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(REPO.parent / "shared" / "corpora" / "news-dev.jsonl"),
                        help="A dev corpus (JSONL; default: ../shared/corpora/news-dev.jsonl). Never a test split.")
    parser.add_argument("--docs", type=int, default=300, help="Documents to use (the first ones long enough).")
    parser.add_argument("--skip", type=int, default=0,
                        help="Skip the first SKIP long-enough documents: with the default --docs 300 and "
                             "--skip 300, the module's thresholds are measured on documents not used to choose them.")
    parser.add_argument("--min-units", type=int, default=6, help="Fewest content paragraphs a document needs.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the shuffles and of the null samples.")
    parser.add_argument("--model", default=None, help="Model directory (default: the shipped news model).")
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--must-flag", default=str(REPO / "seeds" / "russia-syria-withdrawal-2016.txt"),
                        metavar="FILE", help="A scrambled text that the recommended threshold must call "
                                             "scrambled (default: the seed article; '' for none).")
    parser.add_argument("--output", default=str(RESULTS / "calibrate_scrambled"), help="Output path without suffix.")
    args = parser.parse_args()

    reorderer = Reorderer(model=args.model, cache=default_cache_path(), time_limit=args.time_limit, seed=args.seed)
    started = time.perf_counter()
    rows: list[dict] = []
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
        if index >= args.skip + args.docs:
            break
        n = len(content)
        perm = shuffle_for(args.seed, index, n)  # shuffled[k] = gold[perm[k]]
        for kind, units in (("original", content), ("shuffled", [content[k] for k in perm])):
            result = reorderer.assess(units)
            z = (result.value - result.random_mean) / result.random_std if result.random_std > 0 else 0.0
            rows.append({
                "id": doc_id, "n": n, "kind": kind, "value": result.value, "best_value": result.best_value,
                "best_optimal": result.best_optimal, "random_mean": result.random_mean,
                "random_std": result.random_std, "p_value": result.p_value, "gap_ratio": result.gap_ratio,
                "z": z, "order_z": result.order_z, "z_follows": result.z_follows, "z_precedes": result.z_precedes,
                "z_position": result.z_position,
                "score": result.score, "scrambled": result.scrambled,
            })
            for t in result.transitions:
                if kind == "original":
                    true_probs.append(t.probability)
                elif perm[t.target] != perm[t.source] + 1:
                    false_probs.append(t.probability)
        if (index + 1) % 25 == 0:
            print(f"{index + 1} documents, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    summary: dict = {
        "corpus": Path(args.corpus).name,
        "docs": sum(r["kind"] == "original" for r in rows),
        "min_units": args.min_units,
        "skip": args.skip,
        "seed": args.seed,
        "signature": reorderer.signature(),
        "command": " ".join(["python", *sys.argv]),
        "git_commit": _git_commit(),
        "targets": {"original_flagged_at_most": ORIGINAL_TARGET, "shuffled_flagged_at_least": SHUFFLED_TARGET},
        "best_found_proven_optimal": float(np.mean([r["best_optimal"] for r in rows])),
        "current": {
            "SCRAMBLED_Z": assessment.SCRAMBLED_Z,
            **report(rows, "order_z", assessment.SCRAMBLED_Z, -1),
        },
        "statistics": {},
    }
    half = {kind: [r for i, r in enumerate(rows) if (i // 2) % 2 == kind] for kind in (0, 1)}
    for name, (column, direction) in STATISTICS.items():
        original = np.array([r[column] for r in rows if r["kind"] == "original"])
        shuffled = np.array([r[column] for r in rows if r["kind"] == "shuffled"])
        threshold, margin = best_threshold(original, shuffled, direction)
        folds = []
        for fit, held in ((half[0], half[1]), (half[1], half[0])):
            t, _ = best_threshold(
                np.array([r[column] for r in fit if r["kind"] == "original"]),
                np.array([r[column] for r in fit if r["kind"] == "shuffled"]),
                direction,
            )
            folds.append({"threshold": t, "held_out": shares(held, column, t, direction)})
        summary["statistics"][name] = {
            "flags": "above" if direction > 0 else "below",
            "margin": margin,
            **report(rows, column, threshold, direction),
            "two_fold": folds,
        }
    recommended = summary["statistics"]["order_z"]["threshold"]
    if args.must_flag:
        document = split(Path(args.must_flag).read_text(encoding="utf-8"))
        content = [u for u, role in zip(document.units, detect_roles(document.units)) if role == "content"]
        must = reorderer.assess(content)
        if must.order_z >= recommended:
            recommended = round(math.floor(must.order_z / 0.05 + 1) * 0.05, 2)
        summary["must_flag"] = {"file": Path(args.must_flag).name, "order_z": must.order_z,
                                "z_follows": must.z_follows, "z_precedes": must.z_precedes, "z_position": must.z_position,
                                "gap_ratio": must.gap_ratio, "p_value": must.p_value, "best_optimal": must.best_optimal}
    summary["recommended"] = report(rows, "order_z", recommended, -1)
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
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    with output.with_suffix(".csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    shown = ("docs", "current", "recommended", "must_flag", "weak_transitions")
    print(json.dumps({k: summary[k] for k in shown if k in summary}, indent=2))
    for name, stats in summary["statistics"].items():
        print(f"{name}: threshold {stats['threshold']:.4g} margin {stats['margin']:+.3f} {stats['all']}")


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    main()
