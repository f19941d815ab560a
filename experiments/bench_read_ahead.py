"""What reading ahead saves a fine-tuned reader in ``reorder evaluate``: seconds with and without, in one run.

    python experiments/bench_read_ahead.py ../shared/corpora/roc-test.jsonl --model DIR [--docs 500]

The same first ``--docs`` documents are evaluated twice with the same model (seed 0): once with the
reader encoding each document's units as the document is ordered, once with the units of each chunk of
256 documents encoded ahead in batches of similar length (what :meth:`reorder.Reorderer.evaluate` does).
The coherence model's embeddings are computed (or found in ``--cache``) beforehand, so both runs look them
up alike. Reports both wall times, their ratio, and whether every predicted order is the same. Writes
``experiments/results/bench_read_ahead.{json,md}`` (or ``--results``).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import reorder
from reorder.evaluation import evaluate

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--model", required=True, help="a model directory with a fine-tuned reader")
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=reorder.default_cache_path(), help="embedding cache")
    parser.add_argument("--results", type=Path, default=RESULTS / "bench_read_ahead")
    args = parser.parse_args()

    documents = list(itertools.islice(reorder.read_corpus(args.corpus), args.docs))
    reorderer = reorder.Reorderer(args.model, seed=0, cache=args.cache)
    read_ahead = getattr(reorderer.scorer, "read_ahead", None)
    if read_ahead is None:
        raise SystemExit(f"{args.model}: no fine-tuned reader to read ahead")
    reorderer.embed([u for doc in documents for u in doc.units])  # the embeddings, once, for both runs

    def order(units):
        solution = reorderer.solve(units)
        return solution.order, solution.optimal

    runs = {}
    for name, ahead in (("per document", None), ("read ahead", read_ahead)):
        start = time.perf_counter()
        result = evaluate(order, documents, seed=0, read_ahead=ahead, signature=reorderer.signature())
        runs[name] = {"seconds": time.perf_counter() - start, "tau": result.overall["tau"],
                      "predicted": [row["predicted"] for row in result.rows]}
    same = runs["per document"]["predicted"] == runs["read ahead"]["predicted"]
    ratio = runs["per document"]["seconds"] / runs["read ahead"]["seconds"]
    lines = [f"# Reading ahead: {args.corpus.name}, first {len(documents)} documents, model {Path(args.model).name}",
             "", "| run | seconds | tau |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {run['seconds']:.1f} | {run['tau']:.4f} |" for name, run in runs.items()]
    lines += ["", f"Reading ahead is {ratio:.2f}x as fast; the predicted orders are "
              f"{'all the same' if same else 'not all the same'}."]
    payload = {"corpus": str(args.corpus), "documents": len(documents), "model": str(args.model),
               "ratio": ratio, "same_orders": same,
               "runs": {name: {k: v for k, v in run.items() if k != "predicted"} for name, run in runs.items()}}
    reorder.write_results(args.results, payload, signature=reorderer.signature(), seed=0, markdown="\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
