"""Prototype (not shipped): train the headline detector of ``headline_model.py`` and measure it.

    python experiments/prototypes/headline/train_headline.py ../shared/corpora/news-train.jsonl \\
        ../shared/corpora/news-train-web.jsonl --dev ../shared/corpora/abc-dev.jsonl \\
        --check ../shared/corpora/news-dev.jsonl

Training: every titled document of the training corpora gives its headline (as written, in sentence
case and in title case) as a positive among its paragraphs, and its paragraphs without the title as a
document with no headline; documents without a title give only negatives. ``--dev``'s titles,
shuffled among their bodies, say how often the headline is found (the unit of highest probability,
above the threshold); ``--check`` (no headlines) and ``--dev``'s bodies how often a paragraph is
taken for one. Writes the model to ``--output`` and ``results.{json,md}`` beside this script.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from headline_model import HeadlineModel, fit_headline_model  # beside this script

import reorder

HERE = Path(__file__).parent


def _records(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _best(model, units: list[str]) -> tuple[int, float]:
    p = model.probabilities(units)
    return int(np.argmax(p)), float(np.max(p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="+", help="training corpora (JSONL; titles in 'title')")
    parser.add_argument("--dev", required=True, help="titled corpus measuring the hit rate (not trained on)")
    parser.add_argument("--check", required=True, help="corpus without titles measuring false positives")
    parser.add_argument("-o", "--output", default=str(HERE / "model"))
    parser.add_argument("--max-false", type=float, default=0.01,
                        help="largest share of documents given a false headline")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    documents = []
    for path in args.corpora:
        for record in _records(path):
            title = record.get("title")
            paragraphs = record["paragraphs"]
            if title:
                documents.append((title, paragraphs))
            else:  # no headline: its paragraphs are negatives, among themselves
                documents.append((None, paragraphs))
    titled = [(t, p) for t, p in documents if t]
    untitled = [p for t, p in documents if not t]
    # Every titled document also counts without its title, as a document with no headline among its
    # units: what the detector must leave alone.
    model = fit_headline_model(titled + [(None, p) for _, p in titled] + [(None, p) for p in untitled], threshold=0.5,
                               meta={"corpora": [Path(c).name for c in args.corpora], "seed": args.seed})

    dev = _records(args.dev)
    check = _records(args.check)
    rng = np.random.default_rng(args.seed)
    hits, dev_false, check_false = [], [], []
    for record in dev:
        units = [record["title"], *record["paragraphs"]]
        order = rng.permutation(len(units))
        shuffled = [units[k] for k in order]
        index, p = _best(model, shuffled)
        hits.append((int(order[index]) == 0, p))
        dev_false.append(_best(model, record["paragraphs"])[1])
    for record in check:
        check_false.append(_best(model, record["paragraphs"])[1])
    dev_false, check_false = np.array(dev_false), np.array(check_false)
    rows = []
    for threshold in [*np.round(np.arange(0.05, 0.95, 0.05), 2), 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999]:
        found = np.mean([hit and p >= threshold for hit, p in hits])
        rows.append({"threshold": float(threshold), "headline_found": float(found),
                     "false_dev_bodies": float(np.mean(dev_false >= threshold)),
                     "false_check": float(np.mean(check_false >= threshold))})
    allowed = [r for r in rows if max(r["false_dev_bodies"], r["false_check"]) <= args.max_false]
    chosen = max(allowed, key=lambda r: (r["headline_found"], -r["threshold"])) if allowed else rows[-1]
    model = HeadlineModel(model.mean, model.scale, model.weights, model.bias, chosen["threshold"],
                                           {**model.meta, "threshold_rule": f"false positives <= {args.max_false}",
                                            "dev": Path(args.dev).name, "check": Path(args.check).name})
    model.save(args.output)
    lines = ["# Headline detector", "", f"Trained on {', '.join(Path(c).name for c in args.corpora)} "
             f"({len(titled)} titled documents); threshold chosen so that at most {args.max_false:.0%} of "
             f"{Path(args.check).name} documents and of {Path(args.dev).name} bodies get a headline.", "",
             "| threshold | headline found (dev, title shuffled in) | false: dev bodies | false: check |",
             "| ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['threshold']:g}{' (chosen)' if r is chosen else ''} | {r['headline_found']:.1%} | "
              f"{r['false_dev_bodies']:.1%} | {r['false_check']:.1%} |" for r in rows]
    reorder.write_results(HERE / "results", {"chosen": chosen, "rows": rows, "titled": len(titled)},
                          signature=f"reorder:{reorder.__version__}|headline:v1|seed:{args.seed}", seed=args.seed,
                          markdown="\n".join(lines))
    print(json.dumps(chosen))


if __name__ == "__main__":
    main()
