"""Batch ordering: JSONL corpora in, one result per record out, on this machine or a Dask cluster.

:func:`run_batch` is what ``reorder batch`` does: it reads the inputs as partitions
(:mod:`reorder.partitions`), has an engine order them (:func:`run_local` here, in this process or in
``workers`` joblib processes; :func:`reorder.distributed.run_dask` on Dask; both run
:func:`~reorder.partitions.order_partition`, so the same records give the same results), and writes
the results: to one JSONL stream in input order, or with ``output_dir`` to one part file per
partition and a manifest, skipping the parts a previous run completed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence

from .errors import InvalidInputError
from .partitions import (
    PARTITION_SIZE,
    BatchSummary,
    Manifest,
    Partition,
    expand_inputs,
    order_partition,
    partitions,
    write_part,
)
from .pipeline import Reorderer

__all__ = ["run_batch", "run_local"]

_WORKER_REORDERERS: dict[str, Reorderer] = {}


def _worker_order(params: dict, partition: Partition) -> list[dict]:
    """:func:`order_partition` in a worker process, whose Reorderer is built once and reused."""
    key = json.dumps(params, sort_keys=True)
    if key not in _WORKER_REORDERERS:
        _WORKER_REORDERERS[key] = Reorderer(**params)
    return order_partition(_WORKER_REORDERERS[key], partition)


def run_local(parts: Iterable[Partition], params: dict, *, workers: int = 1,
              reorderer: Reorderer | None = None) -> Iterator[tuple[Partition, list[dict]]]:
    """Order each partition in this process (``workers=1``) or in ``workers`` processes; yields
    ``(partition, results)`` in input order. ``params`` are the Reorderer's keyword arguments
    (JSON-serialisable for worker processes); ``reorderer`` may be passed to reuse a built one."""
    if workers < 1:
        raise InvalidInputError(f"workers must be >= 1; got {workers}")
    if workers == 1:
        reorderer = reorderer or Reorderer(**params)
        for partition in parts:
            yield partition, order_partition(reorderer, partition)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)
    pending: list[Partition] = []

    def tasks():
        for partition in parts:
            pending.append(partition)
            yield delayed(_worker_order)(params, partition)

    for results in parallel(tasks()):
        yield pending.pop(0), results


def run_batch(
    inputs: Sequence[str],
    params: dict,
    *,
    output: str | None = "-",
    output_dir: str | None = None,
    engine: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    partition_size: int = PARTITION_SIZE,
    strict: bool = False,
    progress: Callable[[int], object] | None = None,
) -> BatchSummary:
    """What ``reorder batch`` does: order every record of ``inputs`` and write the results.

    ``output`` is a JSONL file or ``-`` (stdout); with ``output_dir``, part files and a manifest
    instead, and parts already complete are skipped. ``engine`` is "local" or "dask" (see
    :mod:`reorder.distributed`; ``scheduler`` names an existing cluster's scheduler). ``strict``
    turns the first bad record into an InvalidInputError. ``progress(k)`` is told of each record done.
    """
    if engine not in ("local", "dask"):
        raise InvalidInputError(f"engine must be 'local' or 'dask'; got {engine!r}")
    paths = expand_inputs(inputs)
    reorderer = Reorderer(**params)
    summary = BatchSummary(signature=reorderer.signature())
    manifest = None
    if output_dir is not None:
        settings = {"inputs": [os.path.abspath(p) if p != "-" else p for p in paths],
                    "partition_size": partition_size, "signature": summary.signature}
        manifest = Manifest(output_dir, settings)
    seen: set[str] = set()
    todo = _skip_complete(partitions(paths, partition_size), manifest, summary, seen)
    if engine == "dask":
        from .distributed import run_dask

        where = None if output_dir is None else os.path.abspath(output_dir)  # as the workers must see it
        done = run_dask(todo, params, workers=workers, scheduler=scheduler, output_dir=where)
    else:
        done = run_local(todo, params, workers=workers, reorderer=reorderer if workers == 1 else None)
    target = None if manifest is not None else (sys.stdout if output in (None, "-") else open(output, "w",
                                                                                                 encoding="utf-8"))
    finished = False
    try:
        for partition, results, *written in done:
            bad = next((k for k, r in enumerate(results) if "error" in r), None) if strict else None
            if bad is not None:  # the records before it go out; the partition is not recorded as complete
                if target is not None:
                    target.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in results[:bad])
                    target.flush()
                raise InvalidInputError(f"{results[bad]['source']}: {results[bad]['error']}")
            if manifest is not None:  # a Dask worker has written its part; locally, it is written here
                manifest.record(partition, written[0] if written else write_part(output_dir, partition, results))
            else:
                for record in results:
                    target.write(json.dumps(record, ensure_ascii=False) + "\n")
                target.flush()
            summary.add(results)
            if progress is not None:
                progress(len(results))
        finished = True
    finally:
        done.close()  # stops the engine (joblib's queue, the Dask cluster) and closes the inputs
        todo.close()
        if target is not None and target is not sys.stdout:
            target.close()
        if manifest is not None:
            if finished:
                manifest.prune(seen)
            manifest.save(complete=finished)
    return summary


def _skip_complete(parts: Iterator[Partition], manifest: Manifest | None, summary: BatchSummary,
                   seen: set[str]) -> Iterator[Partition]:
    """The partitions still to do (those whose part is not complete), noting every key in ``seen``."""
    with contextlib.closing(parts):
        for partition in parts:
            seen.add(partition.key)
            if manifest is not None and manifest.complete(partition):
                summary.skipped_parts += 1
                entry = manifest.parts[partition.key]
                summary.documents += entry["records"] - entry["errors"]
                summary.errors += entry["errors"]
                continue
            yield partition

