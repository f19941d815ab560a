"""The Dask engine of ``reorder batch``: partitions ordered on a dask.distributed cluster.

A :class:`ReordererPlugin` builds each worker's :class:`~reorder.pipeline.Reorderer` once, when the
worker joins (so the embedding and coherence models load once per worker, not per task); each task
orders one whole partition with :func:`reorder.partitions.order_partition` and, with an output directory,
writes its part file there itself (the directory must be reachable from every worker: a shared file
system on a real cluster). The client keeps at most ``window`` partitions in flight, so memory stays
bounded however long the inputs are, and yields the results in input order.

By default the cluster is a ``LocalCluster`` of ``workers`` single-threaded worker processes; with
``scheduler`` an existing cluster is used (``tcp://host:8786``). Needs ``pip install "reorder[dask]"``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from .errors import InvalidInputError
from .partitions import Partition, order_partition, write_part
from .pipeline import Reorderer

try:  # optional: reorder works without dask, and says how to get it when --engine dask is asked for
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover
    WorkerPlugin = object

__all__ = ["ReordererPlugin", "local_cluster", "run_dask"]

PLUGIN_NAME = "reorder"


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise InvalidInputError('--engine dask needs dask.distributed: pip install "reorder[dask]"') from exc
    return distributed


class ReordererPlugin(WorkerPlugin):
    """Worker plugin: a Reorderer built from ``params`` when the worker starts, kept as ``worker.reorderer``."""

    name = PLUGIN_NAME

    def __init__(self, params: dict) -> None:
        self.params = params

    def setup(self, worker) -> None:
        worker.reorderer = Reorderer(**self.params)
        worker.reorderer.signature()  # load the models now, not in the first task

    def teardown(self, worker) -> None:
        worker.reorderer = None


def _order_on_worker(partition: Partition, output_dir: str | None):
    from distributed import get_worker

    results = order_partition(get_worker().reorderer, partition)
    entry = write_part(output_dir, partition, results, pending=True) if output_dir is not None else None
    return results, entry


def local_cluster(workers: int, *, quiet: bool = True):
    """The LocalCluster of ``reorder batch --engine dask`` without ``--scheduler``: ``workers``
    processes of one thread each (the encoder's own threads do the parallel work inside a process).
    ``quiet``: the worker processes log only critical messages (their start-up and shutdown chatter is
    not the user's business; a task's failure comes back as its exception)."""
    distributed = _distributed()
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", silence_logs=logging.CRITICAL if quiet else logging.WARNING)


def _shut_down(client, cluster) -> None:
    """Close a run's cluster in the order that leaves nothing half-open: our workers are retired first
    (the scheduler closes each one, so none is left sending heartbeats to a scheduler that has gone,
    which workers report as an ERROR with tracebacks), then the client, then the cluster."""
    try:
        if cluster is not None:
            client.retire_workers(close_workers=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_dask(parts: Iterable[Partition], params: dict, *, workers: int = 2, scheduler: str | None = None,
             output_dir: str | None = None, window: int | None = None) -> Iterator[tuple]:
    """Order each partition on a Dask cluster; yields ``(partition, results, part entry or None)`` in
    input order. ``window``: partitions in flight at most (default: four per worker)."""
    distributed = _distributed()
    if workers < 1:
        raise InvalidInputError(f"workers must be >= 1; got {workers}")
    chatter = logging.getLogger("distributed")
    level = chatter.level
    quiet = not logging.getLogger("reorder").isEnabledFor(logging.INFO)
    if quiet:
        # the cluster's start-up chatter and its shutdown races (a comm closed mid-send) are not the
        # user's business; real failures come back as the tasks' exceptions
        chatter.setLevel(logging.CRITICAL)
    cluster = None if scheduler else local_cluster(workers, quiet=quiet)
    client = distributed.Client(scheduler or cluster)
    try:
        client.register_plugin(ReordererPlugin(params), name=PLUGIN_NAME)
        window = window or 4 * max(len(client.scheduler_info()["workers"]), 1)
        pending: list[tuple[Partition, object]] = []
        source = iter(parts)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < window:
                partition = next(source, None)
                if partition is None:
                    exhausted = True
                    break
                pending.append((partition, client.submit(_order_on_worker, partition, output_dir, pure=False)))
            if pending:
                partition, future = pending.pop(0)
                results, entry = future.result()
                yield partition, results, entry
    finally:
        _shut_down(client, cluster)
        chatter.setLevel(level)
