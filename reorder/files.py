"""Files as the command line reads and writes them: a text exactly as its bytes decode, and an
atomic replace so that a crash leaves the old file or the new one, whole."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from .errors import InvalidInputError

__all__ = ["read_text", "write_atomically", "write_output"]

_WIDE_ENCODINGS = ("utf16", "utf32", "utf16le", "utf16be", "utf32le", "utf32be")


def read_text(path: str, encoding: str) -> str:
    """Read a whole file (or stdin for '-') exactly, line endings included; clear errors for bad bytes."""
    if path == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        p = Path(path)
        if p.is_dir():
            raise InvalidInputError(f"{path} is a directory; give a text file")
        if not p.exists():
            raise InvalidInputError(f"{path}: no such file")
        data = p.read_bytes()
        name = path
    if b"\x00" in data and encoding.lower().replace("-", "").replace("_", "") not in _WIDE_ENCODINGS:
        raise InvalidInputError(f"{name} contains NUL bytes: it looks like a binary file, not text")
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise InvalidInputError(f"unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{name} is not valid {encoding}: byte 0x{data[exc.start]:02x} at offset {exc.start}; "
            "pass the file's encoding with --encoding (e.g. --encoding latin-1)"
        ) from exc
    except UnicodeError as exc:  # codecs such as punycode and idna raise the base class
        raise InvalidInputError(
            f"{name} cannot be decoded as {encoding} ({' '.join(str(exc).split())}); "
            "pass the file's encoding with --encoding (e.g. --encoding utf-8)"
        ) from exc


def write_atomically(path: Path, data: bytes, backup: str | None = None) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves either the old or the new file, whole.

    The data go to a temporary file in the same directory, which is flushed to disk and renamed over
    the original (a rename within one file system is atomic). With ``backup``, the original is first
    copied to ``path + backup``.
    """
    directory = path.resolve().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        if backup:
            shutil.copy2(path, str(path) + backup)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_output(text: str, output: str | None, encoding: str) -> None:
    """Write ``text`` in ``encoding`` to stdout (``output`` None or "-") or atomically to the file ``output``."""
    data = text.encode(encoding, errors="surrogateescape")
    if output is None or output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomically(Path(output), data)
