"""Partitions of a batch: records read from JSONL inputs, ordered a partition at a time, written as parts.

The records of the inputs (JSONL files, globs, gzip-compressed ``.gz`` files, or ``-`` for stdin)
are cut into *partitions* of ``partition_size`` records, in input order. A partition is the unit of
work of every engine (:mod:`reorder.batch` locally, :mod:`reorder.distributed` on Dask):
:func:`order_partition` embeds the units of all its documents in one call (batched across documents,
each distinct unit once) and orders each document; a bad record becomes an error record (its source,
line number and a one-line reason) and the partition goes on. :func:`write_part` writes one
partition's results atomically and :class:`Manifest` records the parts complete (with the digest of
their input lines), so that a rerun skips them while their input is unchanged.
"""

from __future__ import annotations

import functools
import glob
import gzip
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidInputError
from .files import write_atomically
from .pipeline import Reorderer

__all__ = ["MANIFEST", "PARTITION_SIZE", "BadRecord", "BatchSummary", "Manifest", "Partition", "expand_inputs",
           "order_partition", "parse_record", "partitions", "write_part"]

PARTITION_SIZE = 200
"""Records per partition by default: large enough to batch the embedding well, small enough that a
killed run loses little and a worker's memory stays small."""
MANIFEST = "manifest.json"
SAVE_EVERY_S = 5.0
"""The manifest is rewritten at most this often while a run goes on (and at its end): a part done in
the seconds before a kill is done again by the rerun, never taken as complete without its file."""
_UNIT_KEYS = ("paragraphs", "units", "sentences")


@dataclass(frozen=True)
class Partition:
    """Consecutive records of one input: ``records`` holds ``(line number, line)`` pairs."""

    source: int
    index: int
    path: str
    records: tuple[tuple[int, str], ...]

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the partition's input lines: a part is complete only for the same input."""
        data = "".join(line for _, line in self.records).encode("utf-8", "surrogateescape")
        return hashlib.sha256(data).hexdigest()

    @property
    def key(self) -> str:
        return f"{self.source:05d}-{self.index:06d}"


@dataclass
class BatchSummary:
    """What a batch run did: records ordered, error records (the first few kept), parts skipped."""

    documents: int = 0
    errors: int = 0
    parts: int = 0
    skipped_parts: int = 0
    first_errors: list[dict] = field(default_factory=list)
    signature: str = ""

    def report(self) -> list[str]:
        """The summary in a few lines: counts, then the first error records."""
        skipped = f", {self.skipped_parts} already complete" if self.skipped_parts else ""
        lines = [f"reorder: {self.documents} documents ordered, {self.errors} errors, "
                 f"{self.parts + self.skipped_parts} parts{skipped}"]
        return lines + [f"  {record['source']}: {record['error']}" for record in self.first_errors]

    def add(self, results: Sequence[dict]) -> None:
        self.parts += 1
        for record in results:
            if "error" in record:
                self.errors += 1
                if len(self.first_errors) < 5:
                    self.first_errors.append(record)
            else:
                self.documents += 1


# --- inputs -------------------------------------------------------------------------------------------


def expand_inputs(inputs: Sequence[str]) -> list[str]:
    """The input files named by ``inputs`` (paths, globs, ``-``), in the order given, globs sorted."""
    paths: list[str] = []
    if list(inputs).count("-") > 1:
        raise InvalidInputError("'-' (stdin) can be given once")
    for item in inputs:
        if item == "-" or Path(item).is_file() or not glob.has_magic(item):
            if item != "-" and not Path(item).is_file():
                raise InvalidInputError(f"{item}: no such file")
            paths.append(item)
            continue
        matched = sorted(glob.glob(item))
        if not matched:
            raise InvalidInputError(f"{item}: no file matches this pattern")
        paths.extend(matched)
    if not paths:
        raise InvalidInputError("no input given")
    return paths


def _open(path: str):
    """The input as bytes (so that one undecodable line is one error record, not the end of the run)."""
    if path == "-":
        return getattr(sys.stdin, "buffer", None) or io.BytesIO(sys.stdin.read().encode("utf-8", "surrogateescape"))
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def partitions(paths: Sequence[str], size: int = PARTITION_SIZE) -> Iterator[Partition]:
    """The non-blank records of each input, ``size`` at a time, read lazily."""
    if size < 1:
        raise InvalidInputError(f"partition size must be >= 1; got {size}")
    for source, path in enumerate(paths):
        handle = _open(path)
        try:
            chunk: list[tuple[int, str]] = []
            index = 0
            for number, raw in enumerate(handle, 1):
                line = raw.decode("utf-8", "surrogateescape")  # bad bytes are reported by parse_record
                if not line.strip():
                    continue
                chunk.append((number, line))
                if len(chunk) == size:
                    yield Partition(source, index, path, tuple(chunk))
                    chunk, index = [], index + 1
            if chunk:
                yield Partition(source, index, path, tuple(chunk))
        except (OSError, EOFError) as exc:
            raise InvalidInputError(f"{path}: cannot be read ({exc})") from exc
        finally:
            if path != "-":  # stdin stays open: it is the caller's
                handle.close()


class BadRecord(InvalidInputError):
    """A record that cannot be ordered; ``record_id`` is its id (its line number when it has none)."""

    def __init__(self, reason: str, record_id: object) -> None:
        super().__init__(reason)
        self.record_id = record_id


def parse_record(line: str, number: int) -> tuple[object, list[str]]:
    """``(id, units)`` of the JSONL record on line ``number`` (the id defaults to the line number);
    raises :class:`BadRecord` with a one-line reason."""
    bad = next((c for c in line if "\udc80" <= c <= "\udcff"), None)
    if bad is not None:
        raise BadRecord(f"not valid UTF-8 (byte 0x{ord(bad) - 0xdc00:02x})", number)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not valid JSON ({exc.msg})", number) from exc
    if not isinstance(record, dict):
        raise BadRecord("expected a JSON object", number)
    record_id = record.get("id", number)
    key = next((k for k in _UNIT_KEYS if k in record), None)
    units = record.get(key) if key else None
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
        raise BadRecord("expected an object with a list of strings under 'paragraphs'", record_id)
    if not units:
        raise BadRecord("the document has no units", record_id)
    return record_id, units


# --- the per-partition work, the same under every engine ---------------------------------------------


def order_partition(reorderer: Reorderer, partition: Partition) -> list[dict]:
    """One result per record of ``partition``, in order: the order found, or an error record.

    The units of every good record are embedded in one call (each distinct unit once), and read ahead
    by a fine-tuned reader.
    """
    parsed: list[tuple[int, object, list[str] | None, str | None]] = []
    for number, line in partition.records:
        try:
            record_id, units = parse_record(line, number)
            parsed.append((number, record_id, units, None))
        except BadRecord as exc:
            parsed.append((number, exc.record_id, None, str(exc)))
    everything = list(dict.fromkeys(u for _, _, units, _ in parsed if units for u in units))
    rows = {}
    if everything:
        embedded = reorderer.embed(everything)
        rows = {unit: k for k, unit in enumerate(everything)}
        reorderer.scorer.read_ahead(everything)  # a fine-tuned reader encodes the partition's units in batches
    signature = reorderer.signature()
    results = []
    for number, record_id, units, error in parsed:
        if error is not None:
            results.append({"id": record_id, "source": partition.path, "line": number,
                            "error": f"line {number}: {error}", "signature": signature})
            continue
        solution, heading = reorderer._solve(units, None, embedded[[rows[u] for u in units]])
        results.append({"id": record_id, "permutation": list(solution.order), "heading": heading,
                        "objective": float(solution.value), "optimal": bool(solution.optimal),
                        "method": solution.method, "signature": signature})
    return results


# --- outputs -------------------------------------------------------------------------------------------


def part_name(partition: Partition) -> str:
    return f"part-{partition.key}.jsonl"


def write_part(directory: str | os.PathLike[str], partition: Partition, results: Sequence[dict], *,
               pending: bool = False) -> dict:
    """Write one partition's results atomically; returns its manifest entry. With ``pending`` the file
    is ``.pending-<name>`` until :meth:`Manifest.record` gives it its name (a Dask worker writes its
    part, and only the client, which keeps the manifest, says that it is complete)."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results).encode("utf-8")
    path = Path(directory) / part_name(partition)
    write_atomically(path.with_name(f".pending-{path.name}") if pending else path, data)
    errors = sum("error" in r for r in results)
    return {"file": path.name, "source": partition.path, "first_line": partition.records[0][0],
            "records": len(results), "errors": errors, "sha256": hashlib.sha256(data).hexdigest(),
            "input_sha256": partition.digest}


class Manifest:
    """``manifest.json`` of an output directory: the run's settings and the parts complete so far."""

    def __init__(self, directory: str | os.PathLike[str], settings: dict) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / MANIFEST
        self.settings = settings
        self.parts: dict[str, dict] = {}
        self._saved = float("-inf")
        if self.path.is_file():
            try:
                saved = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise InvalidInputError(f"{self.path}: unreadable manifest ({exc}); use a new --output-dir") from exc
            if saved.get("settings") != settings:
                raise InvalidInputError(
                    f"{self.directory} holds the results of another run ({saved.get('settings')}); "
                    "use a new --output-dir or the same inputs and options")
            self.parts = {key: entry for key, entry in saved.get("parts", {}).items() if self._intact(entry)}

    def _intact(self, entry: dict) -> bool:
        path = self.directory / entry.get("file", "")
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == entry.get("sha256")

    def complete(self, partition: Partition) -> bool:
        """Whether the part of ``partition`` is written, intact, from the same input lines."""
        entry = self.parts.get(partition.key)
        return entry is not None and entry.get("input_sha256") == partition.digest

    def record(self, partition: Partition, entry: dict) -> None:
        """Take a part as complete (renaming a pending one); the manifest is saved every few seconds."""
        pending = self.directory / f".pending-{entry['file']}"
        if pending.exists():
            os.replace(pending, self.directory / entry["file"])
        self.parts[partition.key] = entry
        if time.monotonic() - self._saved >= SAVE_EVERY_S:
            self.save()

    def prune(self, seen: set[str]) -> None:
        """Forget (and delete) the parts of partitions the inputs no longer have, and pending files."""
        for key in [k for k in self.parts if k not in seen]:
            (self.directory / self.parts.pop(key)["file"]).unlink(missing_ok=True)
        for pending in self.directory.glob(".pending-part-*"):
            pending.unlink(missing_ok=True)

    def save(self, *, complete: bool = False) -> None:
        """Write the manifest atomically; ``complete`` marks a run that went through every partition."""
        counts = {"records": sum(e["records"] for e in self.parts.values()),
                  "errors": sum(e["errors"] for e in self.parts.values())}
        payload = {"settings": self.settings, "counts": counts, "parts": dict(sorted(self.parts.items()))}
        if complete:
            payload["complete"] = True
        write_atomically(self.path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
        self._saved = time.monotonic()


