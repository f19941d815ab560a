"""Read and write corpora: JSONL files with one naturally ordered document per line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInputError


@dataclass(frozen=True)
class CorpusDocument:
    """One document of a corpus: its id, its units in their gold (natural) order, and its headline
    when the record has one (``title``, not among the units)."""

    id: str
    units: tuple[str, ...]
    source: str = ""
    title: str | None = None


def read_corpus(path: str | os.PathLike[str], *, limit: int | None = None) -> Iterator[CorpusDocument]:
    """Yield the documents of a JSONL corpus, streaming.

    Each line is an object with ``paragraphs`` (or ``units`` / ``sentences``): a list of strings in
    their natural order, and optionally ``id``, ``source`` and ``title`` (the headline). Blank lines
    are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"corpus {str(path)!r} is not a file")
    count = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if limit is not None and count >= limit:
                return
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            units = None
            if isinstance(record, dict):
                units = record.get("paragraphs", record.get("units", record.get("sentences")))
            if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
                raise InvalidInputError(
                    f"{path}:{number}: expected an object with a list of strings under 'paragraphs'"
                )
            yield CorpusDocument(
                id=str(record.get("id", f"{path.stem}-{number}")),
                units=tuple(units),
                source=str(record.get("source", "")),
                title=record["title"] if isinstance(record.get("title"), str) and record["title"].strip() else None,
            )
            count += 1


def read_corpora(paths: Iterable[str | os.PathLike[str]], *, limit: int | None = None) -> list[CorpusDocument]:
    """Read several corpora into one list (``limit`` applies to each file)."""
    documents: list[CorpusDocument] = []
    for path in paths:
        documents.extend(read_corpus(path, limit=limit))
    return documents


def write_jsonl(records: Iterable[dict], handle) -> None:
    """Write records as JSON lines (UTF-8 kept readable) to an open text handle, flushing each."""
    for record in records:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
