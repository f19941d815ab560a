"""Coherence models: scikit-learn classifiers that turn unit and pair features into probabilities.

Three scores, each a probability learned from naturally ordered text:

- ``follows[i, j]``: unit j comes immediately after unit i;
- ``precedes[i, j]``: unit i comes somewhere before unit j (made consistent: p_ij + p_ji = 1);
- ``position[i]``: probabilities that unit i is the first, a middle or the last unit.

Each is a one-hidden-layer perceptron (:class:`sklearn.neural_network.MLPClassifier`) over
standardised features (see :mod:`reorder.features`). A model is an ensemble of ``n_members`` such
triples, each fitted on its own sample of pairs and its own held-out documents from its own seed;
their probabilities are averaged in log (follows, position) or logit (precedes) space. Single
perceptrons trained with different seeds differ by about 0.02 in news-dev tau; their average is
better than any of them: five of hidden width 128 (the defaults) beat three of width 256
(``experiments/results/compare_ensemble.md``). Fitting uses scikit-learn;
prediction runs the same arithmetic in numpy from plain arrays, so a saved model is a JSON file plus
an ``.npz`` of arrays that loads with ``allow_pickle=False``: loading a model never executes code.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ._version import __version__
from .errors import InvalidInputError, ModelError, NotFittedError
from .features import (
    FEATURE_VERSION,
    PAIR_DIM,
    UNIT_DIM,
    ablation_masks,
    lexicon,
    pair_cues,
    unit_cues,
    unit_features,
)

logger = logging.getLogger(__name__)

PROBABILITY_FLOOR = 1e-6
"""Probabilities are clipped to at least this wherever their logarithm is taken."""

MODEL_FORMAT = 1
HELD_OUT_SHARE = 0.1
"""Share of training documents held out to decide when to stop training."""
POSITION_CLASSES = ("first", "middle", "last")
"""The classes of the position score, in the order of ``PairwiseScores.position``'s columns."""
SIMILARITY = "similarity"
"""Model name of :class:`SimilarityScorer`, the unsupervised scorer."""


@dataclass(frozen=True)
class PairwiseScores:
    """The three learned scores of one document's units.

    Attributes
    ----------
    follows : ndarray of shape (n, n)
        P(j immediately after i); the diagonal is 0.
    precedes : ndarray of shape (n, n)
        P(i before j), with precedes + precedes.T == 1 off the diagonal; the diagonal is 0.5.
    position : ndarray of shape (n, 3)
        P(first), P(middle), P(last) of each unit; rows sum to 1.
    """

    follows: np.ndarray
    precedes: np.ndarray
    position: np.ndarray


@dataclass
class _Perceptron:
    """A fitted one-hidden-layer perceptron as plain arrays (standardisation folded in)."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w1_scale: np.ndarray | None = None
    """Per-column scale of w1's int8 codes (w1 == codes * w1_scale exactly); None for a float16 w1."""

    @classmethod
    def fit(cls, train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, *, hidden: int,
            max_iter: int, random_state: int, alpha: float):
        """Fit on the training rows; stop when the log-loss on the validation rows stops falling.

        The validation rows come from whole held-out *documents*: rows of one document are alike, so
        a random row split would reward memorising documents and stop too late. Both arrays are
        standardised in place (they can be gigabytes: no copies).
        """
        from sklearn.metrics import log_loss
        from sklearn.neural_network import MLPClassifier

        mean = train_x.mean(axis=0, dtype=np.float64)
        std = train_x.std(axis=0, dtype=np.float64)
        scale = np.where(std > 1e-12, std, 1.0)
        for block in (train_x, val_x):  # in place, a slab of rows at a time
            for start in range(0, len(block), 65536):
                block[start : start + 65536] -= mean.astype(np.float32)
                block[start : start + 65536] /= scale.astype(np.float32)
        clf = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            alpha=alpha,
            batch_size=256,
            learning_rate_init=1e-3,
            random_state=random_state,
        )
        classes = np.unique(np.concatenate([train_y, val_y]))
        best_loss, best, stale = np.inf, None, 0
        for epoch in range(max_iter):
            clf.partial_fit(train_x, train_y, classes=classes)
            if len(val_y) == 0:
                best = ([c.copy() for c in clf.coefs_], [b.copy() for b in clf.intercepts_])
                continue
            loss = log_loss(val_y, clf.predict_proba(val_x), labels=classes)
            if loss < best_loss - 1e-4:
                best_loss, best, stale = loss, ([c.copy() for c in clf.coefs_], [b.copy() for b in clf.intercepts_]), 0
            else:
                stale += 1
                if stale >= 2:
                    break
        clf.coefs_, clf.intercepts_ = best
        logger.info("perceptron: %d epochs, held-out log-loss %.4f, accuracy %.3f", epoch + 1, best_loss,
                    clf.score(val_x, val_y) if len(val_y) else float("nan"))
        # The first layer is stored as int8 with a scale per hidden unit, the second as float16
        # (a quarter and a half of float32); round them now so that a saved and reloaded model
        # scores exactly like the one in memory.
        codes, w1_scale = _quantize(clf.coefs_[0])
        return cls(
            mean=mean.astype(np.float32),
            scale=scale.astype(np.float32),
            w1=_dequantize(codes, w1_scale),
            b1=clf.intercepts_[0].astype(np.float32),
            w2=clf.coefs_[1].astype(np.float16).astype(np.float32),
            b2=clf.intercepts_[1].astype(np.float32),
            w1_scale=w1_scale,
        )

    def hidden_input(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.w1 + self.b1

    def output(self, pre_activation: np.ndarray) -> np.ndarray:
        """Probabilities from the hidden layer's pre-activation: (m, 1) binary P(1), or (m, k) softmax."""
        logits = np.maximum(pre_activation, 0.0) @ self.w2 + self.b2
        if logits.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0], -50, 50)))
        logits = logits - logits.max(axis=1, keepdims=True)
        expo = np.exp(logits)
        return expo / expo.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.output(self.hidden_input(x))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to save: w1 as int8 plus a float32 scale per column, w2 as float16 (see :meth:`fit`)."""
        if self.w1_scale is None:
            codes, scale = _quantize(self.w1)
        else:  # exact: w1 holds codes * scale
            codes, scale = np.rint(self.w1 / self.w1_scale).astype(np.int8), self.w1_scale
        return {
            f"{prefix}.mean": self.mean, f"{prefix}.scale": self.scale, f"{prefix}.w1q": codes,
            f"{prefix}.w1s": scale, f"{prefix}.b1": self.b1, f"{prefix}.w2": self.w2.astype(np.float16),
            f"{prefix}.b2": self.b2,
        }

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> "_Perceptron":
        """Read the arrays of :meth:`arrays` (or, from models saved before int8, a float16 ``w1``)."""
        values = {k: np.asarray(arrays[f"{prefix}.{k}"], dtype=np.float32) for k in ("mean", "scale", "b1", "w2", "b2")}
        if f"{prefix}.w1" in arrays:
            values["w1"] = np.asarray(arrays[f"{prefix}.w1"], dtype=np.float32)
        else:
            codes, scale = np.asarray(arrays[f"{prefix}.w1q"]), np.asarray(arrays[f"{prefix}.w1s"], dtype=np.float32)
            if codes.dtype != np.int8 or scale.shape != codes.shape[1:]:
                raise ValueError(f"{prefix}.w1q must be int8 with one scale per column")
            values["w1"], values["w1_scale"] = _dequantize(codes, scale), scale
        return cls(**values)


def _quantize(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 codes of a weight matrix, one float32 scale per column (hidden unit)."""
    w = np.asarray(w, dtype=np.float32)
    scale = np.abs(w).max(axis=0) / 127.0 if w.size else np.zeros(w.shape[1:], np.float32)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), scale


def _dequantize(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return codes.astype(np.float32) * scale


@dataclass
class _Member:
    """One fitted triple of perceptrons."""

    follows: _Perceptron
    precedes: _Perceptron
    position: _Perceptron

    def arrays(self, k: int) -> dict[str, np.ndarray]:
        return {key: value for name in _SCORES for key, value in getattr(self, name).arrays(_prefix(name, k)).items()}

    @classmethod
    def from_arrays(cls, arrays, k: int) -> "_Member":
        return cls(*(_Perceptron.from_arrays(arrays, _prefix(name, k)) for name in _SCORES))


_SCORES = ("follows", "precedes", "position")


def _prefix(name: str, member: int) -> str:
    """Array-name prefix of one score's perceptron of one member (member 0 keeps the bare name, as
    in models saved before ensembles)."""
    return name if member == 0 else f"member{member}.{name}"


def log_probability(p: np.ndarray) -> np.ndarray:
    """``log p``, with ``p`` floored at :data:`PROBABILITY_FLOOR` so that no score is -inf: the one place
    the floor is applied, for the ensemble, the objective and the combined reader alike."""
    return np.log(np.clip(p, PROBABILITY_FLOOR, 1.0))


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))``, with ``p`` kept :data:`PROBABILITY_FLOOR` away from 0 and 1."""
    p = np.clip(p, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return np.log(p) - np.log1p(-p)


def _pair_rows(emb: np.ndarray, ucues: np.ndarray, pcues: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Pair feature rows [u_i, u_j, u_i*u_j, pair cues, cues_i, cues_j] for the given pairs."""
    return np.hstack(
        [emb[rows], emb[cols], emb[rows] * emb[cols], pcues[rows, cols], ucues[rows], ucues[cols]]
    ).astype(np.float32)


def _pair_matrix(model: _Perceptron, emb: np.ndarray, ucues: np.ndarray, pcues: np.ndarray) -> np.ndarray:
    """P for every ordered pair, shape (n, n), computed block-wise so that memory stays O(n * hidden * chunk)."""
    n, d = emb.shape
    c = ucues.shape[1]
    p = pcues.shape[2]
    w1 = model.w1 / model.scale[:, None]
    shift = model.b1 - (model.mean / model.scale) @ model.w1
    blocks = np.cumsum([0, d, d, d, p, c, c])
    w_u, w_v, w_uv, w_p, w_ci, w_cj = (w1[blocks[k] : blocks[k + 1]] for k in range(6))
    from_i = emb @ w_u + ucues @ w_ci + shift  # (n, h)
    from_j = emb @ w_v + ucues @ w_cj  # (n, h)
    out = np.empty((n, n), dtype=np.float64)
    chunk = max(1, 20000 // max(n, 1))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        product = (emb[start:stop, None, :] * emb[None, :, :]).reshape(-1, d) @ w_uv
        pre = product.reshape(stop - start, n, -1)
        pre += from_i[start:stop, None, :] + from_j[None, :, :]
        pre += pcues[start:stop] @ w_p
        out[start:stop] = model.output(pre.reshape(-1, pre.shape[-1])).reshape(stop - start, n)
    return out


class CoherenceModel:
    """Learned follows / precedes / position scores over a document's units.

    Parameters
    ----------
    hidden : int
        Width of the hidden layer of each perceptron.
    max_pairs_per_doc : int
        At most this many ordered pairs per document for the precedence model (long documents
        would otherwise dominate training).
    max_iter : int
        Epochs of the perceptrons (early stopping on a 10% validation split usually stops sooner).
    alpha : float
        L2 penalty of the perceptrons.
    n_members : int
        Triples of perceptrons in the ensemble; each member samples its own pairs and held-out
        documents and starts from its own initialisation.
    random_state : int
        Seed of the document shuffles, the members' pair sampling and the perceptrons.

    Attributes
    ----------
    members_ : list
        The fitted members, each a triple of perceptrons (follows, precedes, position).
    embedder_name_ : str
        Name of the embedding model the training embeddings came from.
    dimension_ : int
        Embedding dimension.
    training_ : dict
        What the model was trained on (corpora, counts), recorded in the model file.
    meta_ : dict
        The model file's description, set by :meth:`load` (empty after :meth:`fit`),
        including the objective's tuned ``weights`` under ``"objective"`` and the model's ``"name"``.
    """

    def __init__(
        self,
        *,
        hidden: int = 128,
        max_pairs_per_doc: int = 60,
        max_iter: int = 40,
        alpha: float = 1e-3,
        n_members: int = 5,
        random_state: int = 0,
        ablate: Sequence[str] = (),
    ) -> None:
        self.hidden = hidden
        self.max_pairs_per_doc = max_pairs_per_doc
        self.max_iter = max_iter
        self.alpha = alpha
        self.n_members = n_members
        self.random_state = random_state
        self.ablate = ablate

    # --- training -------------------------------------------------------------------------------
    def fit(
        self,
        documents: Iterable[tuple[Sequence[str], np.ndarray]],
        *,
        embedder_name: str,
        training: dict | None = None,
        progress=None,
    ) -> "CoherenceModel":
        """Fit the three perceptrons on naturally ordered documents.

        Parameters
        ----------
        documents : iterable of (units, embeddings)
            Each document's units in their natural order and their embeddings, shape (n, d).
        embedder_name : str
            Recorded so that a mismatched embedder is refused at prediction time.
        progress : callable or None
            Called with the number of documents processed, e.g. a tqdm bar's ``update``.
        """
        if self.hidden < 1 or self.max_pairs_per_doc < 1 or self.max_iter < 1 or self.n_members < 1:
            raise InvalidInputError(
                f"hidden, max_pairs_per_doc, max_iter and n_members must be >= 1; got {self.hidden}, "
                f"{self.max_pairs_per_doc}, {self.max_iter}, {self.n_members}"
            )
        rng = np.random.default_rng(self.random_state)
        prepared = []
        dimension = None
        for units, embeddings in documents:
            units = list(units)
            n = len(units)
            if progress is not None:
                progress(1)
            if n < 2:
                continue
            emb = np.asarray(embeddings, dtype=np.float32)
            dimension = emb.shape[1]
            # Shuffle before computing features: nothing may see the natural order but the labels.
            perm = rng.permutation(n)
            texts = [units[k] for k in perm]
            emb = emb[perm]
            ucues, pcues = self._cues(texts, emb, lexicon(texts))
            # gold[k] = natural position of shuffled unit k
            prepared.append((emb, ucues, pcues, unit_features(texts, emb, cues=ucues), perm))
        if not prepared:
            raise InvalidInputError("no training document has two or more units")
        logger.info("training %d member(s) on %d documents", self.n_members, len(prepared))
        self.members_ = [
            self._fit_member(prepared, np.random.default_rng([self.random_state, k])) for k in range(self.n_members)
        ]
        self.embedder_name_ = embedder_name
        self.dimension_ = int(dimension)
        self.training_ = {"documents": len(prepared), **(training or {})}
        self.meta_ = {}
        return self

    def read_ahead(self, texts: Sequence[str]) -> None:
        """Nothing to do: the model reads the embeddings it is given (see :class:`Scorer`)."""

    def _fit_member(self, prepared: list, rng: np.random.Generator) -> _Member:
        """One triple of perceptrons on its own sample of pairs and held-out documents.

        The rows of one score are built, fitted and freed before the next score's: a precedence
        matrix of a large corpus alone takes gigabytes.
        """
        held = rng.random(len(prepared)) < HELD_OUT_SHARE
        follows_rng, precedes_rng = (np.random.default_rng(rng.integers(2**63)) for _ in range(2))
        seed = int(rng.integers(2**31))
        kw = dict(hidden=self.hidden, max_iter=self.max_iter, random_state=seed, alpha=self.alpha)

        def follows_rows(emb, ucues, pcues, ufeat, gold):
            # every true adjacency, its reverse, and random other pairs
            n = len(gold)
            at = np.argsort(gold)  # at[pos] = shuffled index of the unit at natural position pos
            rows, cols = [at[:-1], at[1:]], [at[1:], at[:-1]]
            if n > 2:
                a = follows_rng.integers(0, n, size=2 * (n - 1))
                b = follows_rng.integers(0, n, size=2 * (n - 1))
                keep = (a != b) & (gold[b] != gold[a] + 1) & (gold[a] != gold[b] + 1)
                rows.append(a[keep])
                cols.append(b[keep])
            rows, cols = np.concatenate(rows), np.concatenate(cols)
            return _pair_rows(emb, ucues, pcues, rows, cols), (gold[cols] == gold[rows] + 1).astype(np.int8)

        def precedes_rows(emb, ucues, pcues, ufeat, gold):
            # random ordered pairs (both orientations appear)
            n = len(gold)
            i, j = np.nonzero(~np.eye(n, dtype=bool))
            if len(i) > self.max_pairs_per_doc:
                pick = precedes_rng.choice(len(i), self.max_pairs_per_doc, replace=False)
                i, j = i[pick], j[pick]
            return _pair_rows(emb, ucues, pcues, i, j), (gold[i] < gold[j]).astype(np.int8)

        def position_rows(emb, ucues, pcues, ufeat, gold):
            n = len(gold)
            return ufeat, np.where(gold == 0, 0, np.where(gold == n - 1, 2, 1)).astype(np.int8)

        fitted = []
        for make, params in ((follows_rows, kw), (precedes_rows, kw),
                             (position_rows, {**kw, "hidden": max(16, self.hidden // 2)})):
            parts = {True: ([], []), False: ([], [])}
            for doc, is_held in zip(prepared, held):
                x, y = make(*doc)
                parts[bool(is_held)][0].append(x)
                parts[bool(is_held)][1].append(y)
            (train_xs, train_ys), (val_xs, val_ys) = parts.pop(False), parts.pop(True)
            if not train_xs:  # every document held out (a tiny corpus): train on them, no early stopping
                train_xs, train_ys, val_xs, val_ys = val_xs, val_ys, [], []
            train_x, train_y = np.vstack(train_xs), np.concatenate(train_ys)
            del train_xs  # the per-document rows, before the validation rows are stacked
            val_x = np.vstack(val_xs) if val_xs else train_x[:0].copy()
            val_y = np.concatenate(val_ys) if val_ys else train_y[:0].copy()
            del val_xs
            fitted.append(_Perceptron.fit(train_x, train_y, val_x, val_y, **params))
            del train_x, val_x  # free this score's rows before the next score's are built
        return _Member(*fitted)

    def _cues(self, texts, emb, lex) -> tuple[np.ndarray, np.ndarray]:
        """Unit and pair cues, with the ablated groups (``ablate``) set to zero."""
        ucues, pcues = unit_cues(texts, emb, lex), pair_cues(texts, emb, lex)
        if self.ablate:
            unit_mask, pair_mask = ablation_masks(list(self.ablate))
            ucues, pcues = ucues * unit_mask, pcues * pair_mask
        return ucues, pcues

    # --- prediction -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError("this CoherenceModel is not fitted yet: call fit() or CoherenceModel.load()")

    def scores(self, units: Sequence[str], embeddings: np.ndarray, *, skip: Sequence[str] = ()) -> PairwiseScores:
        """The three scores for a document's units (in any order), see :class:`PairwiseScores`.

        ``skip`` names pair scores ("follows", "precedes") not needed, e.g. because their weight in
        the objective is 0: they come back as a flat 0.5 and cost nothing. The pair models are the
        costly part, O(n^2 * d * hidden).
        """
        self._check_fitted()
        units = list(units)
        emb = np.asarray(embeddings, dtype=np.float32)
        n = len(units)
        if emb.shape != (n, self.dimension_):
            raise InvalidInputError(
                f"embeddings must have shape ({n}, {self.dimension_}) for this model; got {emb.shape}"
            )
        if n == 0:
            return PairwiseScores(np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 3)))
        lex = lexicon(units)
        ucues, pcues = self._cues(units, emb, lex)
        ufeat = unit_features(units, emb, cues=ucues)
        flat = np.full((n, n), 0.5)
        outputs = []
        for member in self.members_:
            follows = flat if "follows" in skip else _pair_matrix(member.follows, emb, ucues, pcues)
            raw = flat if "precedes" in skip else _pair_matrix(member.precedes, emb, ucues, pcues)
            outputs.append((follows, raw, np.asarray(member.position.predict(ufeat), dtype=np.float64)))
        if len(outputs) == 1:
            follows, raw, position = outputs[0]
            follows = follows.copy()
        else:  # the members' average log-probability (logit for precedes)
            follows = np.exp(np.mean([log_probability(f) for f, _, _ in outputs], axis=0))
            raw = 1.0 / (1.0 + np.exp(-np.mean([logit(r) for _, r, _ in outputs], axis=0)))
            position = np.exp(np.mean([log_probability(p) for _, _, p in outputs], axis=0))
            position /= position.sum(axis=1, keepdims=True)
        precedes = (raw + 1.0 - raw.T) / 2.0
        np.fill_diagonal(follows, 0.0)
        np.fill_diagonal(precedes, 0.5)
        return PairwiseScores(follows=follows, precedes=precedes, position=position)

    # --- persistence ----------------------------------------------------------------------------
    def save(self, directory: str | Path, *, extra: dict | None = None) -> Path:
        """Write ``model.json`` and ``weights.npz`` (plain arrays) into ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {key: value for k, member in enumerate(self.members_) for key, value in member.arrays(k).items()}
        np.savez_compressed(directory / "weights.npz", **arrays)
        meta = {
            "format": MODEL_FORMAT,
            "feature_version": FEATURE_VERSION,
            "reorder_version": __version__,
            "embedder": self.embedder_name_,
            "dimension": self.dimension_,
            "unit_features": UNIT_DIM,
            "pair_features": PAIR_DIM,
            "params": {k: getattr(self, k) for k in ("hidden", "max_pairs_per_doc", "max_iter", "alpha", "n_members",
                                                     "random_state")},
            "ablate": list(self.ablate),
            "training": self.training_,
            **(extra or {}),
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> tuple["CoherenceModel", dict]:
        """Read a model directory written by :meth:`save`; returns the model and its metadata.

        Raises :class:`ModelError` when a file is missing, corrupted, truncated or was written for
        other features or another format.
        """
        directory = Path(directory)
        meta_path, weights_path = directory / "model.json", directory / "weights.npz"
        if not meta_path.is_file() or not weights_path.is_file():
            raise ModelError(f"{str(directory)!r} is not a reorder model directory (needs model.json and weights.npz)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{meta_path}: unreadable model description ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise ModelError(
                f"{meta_path}: model format {found!r} is not {MODEL_FORMAT}; retrain it with `reorder train`")
        if (meta.get("feature_version") != FEATURE_VERSION or meta.get("unit_features") != UNIT_DIM
                or meta.get("pair_features") != PAIR_DIM):
            raise ModelError(
                f"{directory}: trained with feature version {meta.get('feature_version')}, this reorder uses "
                f"{FEATURE_VERSION}; retrain it with `reorder train` (see the README)"
            )
        try:
            with np.load(weights_path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelError(f"{weights_path}: corrupted or truncated weights ({exc})") from exc
        try:
            params = dict(meta.get("params", {}))
            params.setdefault("n_members", 1)  # written before ensembles: a single member
            ablate = meta.get("ablate", [])  # saved beside params: an ablated model reloads ablated
            if not isinstance(ablate, list) or not all(isinstance(group, str) for group in ablate):
                raise ValueError(f"ablate is {ablate!r}, not a list of feature group names")
            model = cls(**params, ablate=tuple(ablate))
            members = int(model.n_members)
            if members < 1:
                raise ValueError(f"n_members is {members}")
            model.members_ = [_Member.from_arrays(arrays, k) for k in range(members)]
            model.dimension_ = int(meta.get("dimension", 0))
        except KeyError as exc:
            raise ModelError(f"{weights_path}: missing array {exc}") from exc
        except (TypeError, ValueError) as exc:  # valid JSON / npz holding the wrong kinds of values
            raise ModelError(f"{directory}: malformed model ({exc}); retrain it with `reorder train`") from exc
        model.embedder_name_ = str(meta.get("embedder"))
        model.training_ = meta.get("training", {})
        model.meta_ = meta
        d, c, p = model.dimension_, UNIT_DIM, PAIR_DIM
        expected = {"follows": 3 * d + p + 2 * c, "precedes": 3 * d + p + 2 * c, "position": c + d}
        for member in model.members_:
            for name, width in expected.items():
                net = getattr(member, name)
                hidden = net.w1.shape[1] if net.w1.ndim == 2 else -1
                outputs = 3 if name == "position" else 1
                shapes = (net.w1.shape, net.mean.shape, net.scale.shape, net.b1.shape, net.w2.shape, net.b2.shape)
                if shapes != ((width, hidden), (width,), (width,), (hidden,), (hidden, outputs), (outputs,)):
                    raise ModelError(f"{weights_path}: array shapes of the {name} model do not match its description")
        return model, meta


@runtime_checkable
class Scorer(Protocol):
    """What the Reorderer scores with: :class:`CoherenceModel`, :class:`SimilarityScorer`, and
    :class:`reorder.finetuned.CombinedScorer` (a coherence model plus a fine-tuned reader).

    ``scores`` turns units and their embeddings into :class:`PairwiseScores` (``skip`` names scores
    whose weight is 0, which it may leave flat); ``embedder_name_`` names the embedding model the
    scorer was trained on (None: any); ``meta_`` is its model file's description (its ``name``,
    tuned ``objective`` weights), empty when it has none; ``read_ahead(texts)`` is told the units of
    the documents about to be scored, all at once, so that a scorer that encodes units itself can do
    it in full batches (evaluation and batch partitions call it; the others do nothing).
    """

    embedder_name_: str | None
    meta_: dict

    def scores(self, units: Sequence[str], embeddings: np.ndarray, *,
               skip: Sequence[str] = ()) -> PairwiseScores:  # pragma: no cover - protocol
        ...

    def read_ahead(self, texts: Sequence[str]) -> None:  # pragma: no cover - protocol
        ...


class SimilarityScorer:
    """Unsupervised scores from embeddings alone: neighbours are similar, the lead is the most central.

    Cosine similarity carries no direction, so ``precedes`` is flat (0.5) and the order's direction
    comes only from the centrality of the first unit. A baseline, and the fallback without a model.
    """

    embedder_name_ = None
    meta_ = {"name": SIMILARITY}

    def read_ahead(self, texts: Sequence[str]) -> None:
        """Nothing to do: similarity reads the embeddings it is given (see :class:`Scorer`)."""

    def scores(self, units: Sequence[str], embeddings: np.ndarray, *, skip: Sequence[str] = ()) -> PairwiseScores:
        emb = np.asarray(embeddings, dtype=np.float64)
        n = len(units)
        cosine = emb @ emb.T if n else np.zeros((0, 0))
        follows = (cosine + 1.0) / 2.0
        np.fill_diagonal(follows, 0.0)
        centre = emb.mean(axis=0) if n else np.zeros(emb.shape[1:])
        central = emb @ centre
        lead = np.exp(central - central.max()) if n else central
        first = lead / lead.sum() if n else lead
        position = np.stack([first, 1.0 - first - 1.0 / max(n, 1) * 0.5, np.full(n, 0.5 / max(n, 1))], axis=1)
        position = np.clip(position, PROBABILITY_FLOOR, None)
        position /= position.sum(axis=1, keepdims=True)
        return PairwiseScores(follows=follows, precedes=np.full((n, n), 0.5), position=position)
