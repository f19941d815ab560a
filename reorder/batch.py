"""Batch ordering: stream a JSONL corpus through the Reorderer, with parallel workers.

Each worker process builds its Reorderer (and so loads the embedding and coherence models) once and
keeps it for every document it is given; documents are read and results written lazily, in input
order, so memory stays flat however long the corpus is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .errors import InvalidInputError
from .pipeline import Reorderer

_WORKER_REORDERERS: dict[str, object] = {}


def _units_of(record: dict, number: int) -> list[str]:
    units = record.get("paragraphs", record.get("units", record.get("sentences")))
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
        raise InvalidInputError(f"line {number}: expected an object with a list of strings under 'paragraphs'")
    return units


def _order_one(params_key: str, number: int, line: str) -> dict:
    """Order one JSONL record in a worker; the Reorderer is built on first use and then reused."""
    reorderer = _WORKER_REORDERERS.get(params_key)
    if reorderer is None:
        reorderer = _WORKER_REORDERERS[params_key] = Reorderer(**json.loads(params_key))
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"line {number}: not valid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise InvalidInputError(f"line {number}: expected a JSON object")
    units = _units_of(record, number)
    solution = reorderer.solve(units)
    return {
        "id": record.get("id", number),
        "permutation": list(solution.order),
        "objective": float(solution.value),
        "optimal": bool(solution.optimal),
        "method": solution.method,
        "signature": reorderer.signature(),
    }


def order_jsonl(lines: Iterable[str], *, params: dict, workers: int = 1) -> Iterator[dict]:
    """Yield one result per non-blank JSONL line, in input order.

    Parameters
    ----------
    lines : iterable of str
        JSONL records with ``paragraphs`` (or ``units`` / ``sentences``) and optionally ``id``.
    params : dict
        Keyword arguments of :class:`~reorder.pipeline.Reorderer` (JSON-serialisable: model and
        embedder as paths or names).
    workers : int
        Worker processes (1: in this process).
    """
    if workers < 1:
        raise InvalidInputError(f"workers must be >= 1; got {workers}")
    key = json.dumps(params, sort_keys=True)
    numbered = ((number, line) for number, line in enumerate(lines, 1) if line.strip())
    if workers == 1:
        for number, line in numbered:
            yield _order_one(key, number, line)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)
    yield from parallel(delayed(_order_one)(key, number, line) for number, line in numbered)
