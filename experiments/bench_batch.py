"""Throughput of ``reorder batch``: documents per second on news-dev under each engine, in one run.

    python experiments/bench_batch.py ../shared/corpora/news-dev.jsonl [--docs 60] [--model news]

Each configuration orders the same first ``--docs`` documents (as given, unshuffled: the order does
not change the cost) with no embedding cache, so every run embeds every unit, as a batch over new
documents does; the figures are the wall time of :func:`reorder.batch.run_batch`, models loaded
inside it (per worker). Reported as documents per second and as ratios to "local, 1 worker" measured
in the same run (the machines are noisy: compare ratios, not seconds across runs). The encoder runs
on ONNX Runtime (the default); one more configuration runs "local, 1 worker" on the old torch path
(``REORDER_BACKEND=torch``), and every configuration's permutations are compared with those of
"local, 1 worker". Writes ``experiments/results/bench_batch.{json,md}``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import reorder
from reorder.batch import run_batch
from reorder.encoder import use_onnx

RESULTS = Path(__file__).parent / "results"
CONFIGS = [
    ("local, 1 worker, torch encoder (REORDER_BACKEND=torch)", {"engine": "local", "workers": 1, "backend": "torch"}),
    ("local, 1 worker, one document per embedding call", {"engine": "local", "workers": 1, "partition_size": 1}),
    ("local, 1 worker", {"engine": "local", "workers": 1}),
    ("local, 2 workers", {"engine": "local", "workers": 2}),
    ("dask LocalCluster, 2 workers", {"engine": "dask", "workers": 2}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--model", default=None, help="coherence model (default: the shipped news model)")
    parser.add_argument("--partition-size", type=int, default=10,
                        help="records per partition (small, so that 2 workers have several partitions each)")
    args = parser.parse_args()
    with open(args.corpus, encoding="utf-8") as handle:
        lines = [line for _, line in zip(range(args.docs), handle)]
    units = sum(len(json.loads(line)["paragraphs"]) for line in lines)
    params = {"model": args.model, "embedder": None, "method": "auto", "time_limit": 1.0, "seed": 0,
              "cache": None, "weights": None}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "docs.jsonl")
        Path(corpus).write_text("".join(lines), encoding="utf-8")
        permutations = {}
        for label, config in CONFIGS:
            config = {"partition_size": args.partition_size, "backend": "onnx", **config}
            os.environ["REORDER_BACKEND"] = config["backend"]  # read by this process and its workers
            use_onnx.cache_clear()
            start = time.perf_counter()
            with redirect_stdout(io.StringIO()) as out:
                summary = run_batch([corpus], params, output="-",
                                    **{k: v for k, v in config.items() if k != "backend"})
            seconds = time.perf_counter() - start
            permutations[label] = [json.loads(line).get("permutation") for line in out.getvalue().splitlines()]
            rows.append({"config": label, **config, "documents": summary.documents, "seconds": seconds,
                         "docs_per_s": summary.documents / seconds})
            print(f"{label:<50} {seconds:7.1f} s  {summary.documents / seconds:6.2f} docs/s", flush=True)
    os.environ.pop("REORDER_BACKEND")
    use_onnx.cache_clear()
    base = next(r for r in rows if r["config"] == "local, 1 worker")["docs_per_s"]
    for row in rows:
        row["ratio_to_local_1"] = row["docs_per_s"] / base
        row["same_orders"] = permutations[row["config"]] == permutations["local, 1 worker"]
    lines_md = ["# reorder batch throughput", "",
                f"The first {args.docs} documents of {Path(args.corpus).name} ({units} paragraphs), no embedding "
                f"cache, {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), one run.", "",
                "| configuration | partition size | seconds | documents/s | ratio to local, 1 worker "
                "| same orders |",
                "| --- | ---: | ---: | ---: | ---: | --- |"]
    lines_md += [f"| {r['config']} | {r['partition_size']} | {r['seconds']:.1f} | {r['docs_per_s']:.2f} | "
                 f"{r['ratio_to_local_1']:.2f} | {r['same_orders']} |" for r in rows]
    signature = reorder.Reorderer(model=args.model).signature()
    reorder.write_results(RESULTS / "bench_batch", {"docs": args.docs, "paragraphs": units, "rows": rows,
                                                    "cpu_count": os.cpu_count()},
                          signature=signature, seed=0, markdown="\n".join(lines_md))


if __name__ == "__main__":
    main()
