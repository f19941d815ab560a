"""Run a transformer encoder through ONNX Runtime: its graph exported once, tokenized in Rust, pooled in numpy.

Loading sentence-transformers means importing torch and transformers, which costs several seconds
before a single unit is read; ONNX Runtime and the ``tokenizers`` library load in a fraction of that
and compute the same embeddings (cosine >= 0.99999 with the torch path, see tests/test_encoder.py).

The graph is never downloaded: :func:`export_encoder` traces the model's own weights with torch (the
one time torch is imported at inference) into the cache directory the caller names, in a temporary
folder renamed into place, with ``manifest.json`` recording the SHA-256 of the graph and of the weights
it came from. Later runs find it by a key made of the weights' path, size and modification time, so
that finding it costs no hashing of hundreds of megabytes.

:class:`OnnxEncoder` runs one pass over a batch and gives both the mean-pooled embedding of each text
(``encode``, as sentence-transformers' Pooling and Normalize modules compute it) and its token states
(``encode_tokens``), so a scorer that reads tokens costs no second encoder run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .errors import ModelError

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1
"""Bumped when the exported graph's inputs, outputs or export settings change: older caches are ignored."""
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "token_states"
BACKENDS = ("auto", "onnx", "torch")
"""The values of ``REORDER_BACKEND`` (see :func:`use_onnx`)."""


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime and the tokenizers library can be imported (cheap: imports nothing heavy)."""
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None and find_spec("tokenizers") is not None


@functools.cache
def use_onnx() -> bool:
    """Whether inference runs through ONNX Runtime: ``REORDER_BACKEND`` is "auto" (the default: where
    onnxruntime and tokenizers are installed, with one warning where they are not), "onnx" (required)
    or "torch" (sentence-transformers and torch, the path the shipped models were trained on)."""
    backend = os.environ.get("REORDER_BACKEND", "auto")
    if backend not in BACKENDS:
        raise ModelError(f"REORDER_BACKEND must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "torch":
        return False
    if onnxruntime_available():
        return True
    if backend == "onnx":
        raise ModelError("REORDER_BACKEND=onnx, but onnxruntime or tokenizers is not installed "
                         "(pip install onnxruntime tokenizers)")
    logger.warning("onnxruntime is not installed: running the encoder with torch, which loads several seconds "
                   "slower (pip install onnxruntime tokenizers)")
    return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def export_key(sources: Sequence[Path]) -> str:
    """A short key naming an export of ``sources`` (files): their resolved paths, sizes and mtimes.

    Cheap by design (no hashing of the weights): a reinstalled or replaced file changes its mtime,
    and the manifest beside the graph records the real SHA-256 of what was exported."""
    digest = hashlib.sha256(f"format{EXPORT_FORMAT}".encode())
    for source in sources:
        stat = source.stat()
        digest.update(f"|{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def export_encoder(build: Callable[[], object], target: Path, sources: Sequence[Path]) -> Path:
    """Export the torch encoder that ``build()`` returns to ``target/model.onnx``, once; return that path.

    ``build`` is called only when the graph is not there yet, so torch is imported only then. The
    graph takes ``input_ids`` and ``attention_mask`` (int64, shape (batch, tokens)) and gives
    ``token_states`` (float32, (batch, tokens, dimension)): the encoder's last hidden states. An
    interrupted or concurrent export never leaves a half-written graph behind.
    """
    graph = target / "model.onnx"
    if (target / "manifest.json").is_file() and graph.is_file():
        return graph
    logger.warning("exporting the encoder to ONNX once, into %s (about 10 s; later runs load it directly)", target)
    import torch

    encoder = build()
    if hasattr(encoder, "set_attn_implementation"):  # trace plain attention, not a fused kernel's dispatch
        encoder.set_attn_implementation("eager")
    encoder.eval()

    class States(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
        axes = {"batch": 0, "tokens": 1}
        dynamic = {name: {v: k for k, v in axes.items()} for name in (*INPUTS, OUTPUT)}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes it treats as constant
            torch.onnx.export(States(encoder), example, str(scratch / "model.onnx"), dynamo=False,
                              input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=dynamic,
                              opset_version=OPSET)
        manifest = {
            "format": EXPORT_FORMAT,
            "opset": OPSET,
            "torch": torch.__version__,
            "sha256": _sha256(scratch / "model.onnx"),
            "sources": {str(s.resolve()): _sha256(s) for s in sources},
        }
        (scratch / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(scratch, target)
        except OSError:
            if not (target / "manifest.json").is_file():  # not a concurrent export that finished first
                raise
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"could not export the encoder to ONNX in {target}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _remove_superseded(target, manifest["sources"])
    return graph


def _remove_superseded(target: Path, sources: dict) -> None:
    """Delete earlier exports of the same source files (since replaced: another key) beside ``target``,
    so that reinstalling a model does not leave a stale graph of hundreds of MB behind each time."""
    for sibling in target.parent.iterdir():
        if sibling == target or sibling.name.startswith("."):
            continue
        try:
            earlier = json.loads((sibling / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(earlier, dict) and set(earlier.get("sources", {})) == set(sources):
            shutil.rmtree(sibling, ignore_errors=True)


def _pad_token(model_dir: Path, tokenizer_json: dict) -> str:
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        pad = json.loads(config.read_text(encoding="utf-8")).get("pad_token")
        if isinstance(pad, dict):  # an AddedToken written out
            pad = pad.get("content")
        if isinstance(pad, str):
            return pad
    padding = tokenizer_json.get("padding") or {}
    return padding.get("pad_token", "[PAD]")


class OnnxEncoder:
    """A transformer encoder run by ONNX Runtime over the tokens of a local model directory.

    Parameters
    ----------
    model_dir : Path
        A Hugging Face model directory with ``tokenizer.json`` (tokenizer) and ``config.json``.
    graph : Path
        The exported graph (see :func:`export_encoder`).
    max_length : int
        Tokens per text, special tokens included; longer texts are truncated, as the torch path does.
    batch_size : int
        Texts per pass; texts are batched by length so that short ones are not padded to long ones.
    threads : int or None
        ONNX Runtime's intra-op threads (None: its default, one per physical core).
    """

    def __init__(self, model_dir: str | os.PathLike[str], graph: str | os.PathLike[str], *, max_length: int,
                 batch_size: int = 32, threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.graph = Path(graph)
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self._session = None
        self._tokenizer = None

    def _load(self):
        if self._session is None:
            try:
                import onnxruntime
                from tokenizers import Tokenizer

                text = (self.model_dir / "tokenizer.json").read_text(encoding="utf-8")
                tokenizer = Tokenizer.from_str(text)
                pad = _pad_token(self.model_dir, json.loads(text))
                pad_id = tokenizer.token_to_id(pad)
                tokenizer.enable_truncation(self.max_length)  # overrides the file's own settings, as torch's path does
                tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
                options = onnxruntime.SessionOptions()
                if self.threads is not None:
                    options.intra_op_num_threads = self.threads
                options.log_severity_level = 3  # errors only: its warnings are about graph rewrites
                # Pre-packed weights are a second copy of them: about 200 MB more for mpnet, no faster here.
                options.add_session_config_entry("session.disable_prepacking", "1")
                session = onnxruntime.InferenceSession(str(self.graph), options, providers=["CPUExecutionProvider"])
            except ModelError:
                raise
            except Exception as exc:  # onnxruntime and tokenizers raise their own kinds
                raise ModelError(f"could not load the ONNX encoder {self.graph} ({exc}); delete its folder "
                                 "to export it again") from exc
            self._tokenizer, self._session = tokenizer, session
        return self._tokenizer, self._session

    @property
    def dimension(self) -> int:
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        return int(config["hidden_size"])

    def _passes(self, texts: Sequence[str], batch_size: int):
        """Yield ``(indices, states, mask)`` per batch: states (b, t, d) float32, mask (b, t) of 0/1."""
        tokenizer, session = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            encoded = tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            states = session.run([OUTPUT], {"input_ids": ids, "attention_mask": mask})[0]
            yield chunk, states, mask

    def encode(self, texts: Sequence[str], *, normalize: bool = True, batch_size: int | None = None) -> np.ndarray:
        """Mean-pooled token states of ``texts``: float32 of shape (len(texts), dimension), L2-normalised
        when ``normalize``; ``batch_size`` texts per pass (default: this encoder's)."""
        return self.encode_tokens(texts, normalize=normalize, tokens=False, batch_size=batch_size)[0]

    def encode_tokens(self, texts: Sequence[str], *, normalize: bool = True, tokens: bool = True,
                      batch_size: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """One pass over ``texts``: their pooled embeddings (as :meth:`encode`) and each text's token
        states, an array of shape (its tokens, dimension) with the special tokens included (an empty
        list when not ``tokens``)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        pooled, states_of = None, [None] * len(texts)
        for chunk, states, mask in self._passes(texts, batch_size or self.batch_size):
            if pooled is None:  # the graph's own width
                pooled = np.zeros((len(texts), states.shape[-1]), dtype=np.float32)
            weights = mask[..., None].astype(np.float32)
            means = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if normalize:
                means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
            pooled[chunk] = means
            if tokens:
                for row, i in enumerate(chunk):
                    states_of[i] = states[row, : int(mask[row].sum())].copy()
        return pooled, states_of if tokens else []
