"""Context model (a research prototype, not part of the package): a small set transformer that scores
a document's units in the light of each other.

Measured against the perceptrons on news-dev by ``experiments/prototypes/compare_context.py``, alone or
blended with them, it did not help (``experiments/results/compare_context_web*.md``): with the 1,549 web
training documents it overfits within two or three epochs, and regularised (smaller, unit dropout)
it reaches tau 0.34 alone against the perceptrons' 0.39, and its blends stay within the noise of the
perceptrons alone. It is kept here, tested outside the default test run
(``python -m pytest experiments/prototypes``), for a later try with more in-domain training data.

The perceptrons of :mod:`reorder.coherence` judge one unit or one pair at a time. But which paragraph
is the lead, or which of two candidates comes next, depends on what else is in the document: the
lead is the paragraph the others elaborate, a "He said" continues the one paragraph that introduced
the speaker. This model reads all of a document's units at once: self-attention over their
embeddings and discourse cues, with *no positional encoding*, so that it is permutation-equivariant
and the order the units arrive in cannot leak into the scores. On top of the contextual unit states
it predicts the same three scores as :class:`~reorder.coherence.CoherenceModel`:

- ``follows[i, j]`` = P(the unit after i is j), a softmax over the other units and "none" (i last);
- ``precedes[i, j]`` = sigmoid(r_ij - r_ji), antisymmetric by construction;
- ``position[i]`` = (P(i is first), P(i is in between), P(i is last)), where P(first) and P(last) are
  softmaxes over the document's units: exactly one unit is first.

Training uses torch (installed with sentence-transformers) on the CPU; prediction runs the same
arithmetic in numpy from plain arrays, so a saved model loads with ``allow_pickle=False`` and
executes no code. Shapes: ``n`` units, ``d`` embedding dimension, ``h`` hidden width.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from reorder import InvalidInputError, NotFittedError, PairwiseScores
from reorder.features import PAIR_DIM, UNIT_DIM, lexicon, pair_cues, unit_cues

logger = logging.getLogger(__name__)

HELD_OUT_SHARE = 0.1
"""Share of training documents held out to decide when to stop training."""
_EPS = 1e-6
_LN_EPS = 1e-5

# Arrays of a fitted model, by name; per-layer arrays are stored as f"layer{k}.{name}".
_TOP_ARRAYS = ("cue_mean", "cue_scale", "pair_mean", "pair_scale", "w_emb", "w_cue", "b_in",
               "ln_g", "ln_b", "w_pos", "b_pos", "w_gi", "w_gj", "w_gij", "w_gp", "b_g",
               "w_follow", "w_end", "b_end", "w_precede")
_LAYER_ARRAYS = ("ln1_g", "ln1_b", "w_q", "w_k", "w_v", "w_o", "ln2_g", "ln2_b", "w_1", "b_1", "w_2", "b_2")
_FLOAT16 = {"w_emb", "w_cue", "w_gi", "w_gj", "w_gij", "w_q", "w_k", "w_v", "w_o", "w_1", "w_2"}
"""Weight matrices stored as float16 (halves the shipped file); rounded at the end of training so
that a saved and reloaded model scores exactly like the one in memory."""


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + _LN_EPS) * g + b


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


class ContextModel:
    """Follows / precedes / position scores from a set transformer over a document's units.

    Parameters
    ----------
    hidden : int
        Width of the unit states (h).
    layers : int
        Self-attention layers.
    heads : int
        Attention heads per layer (must divide ``hidden``).
    pair_hidden : int
        Width of the pair layer that the follows and precedes logits are read from.
    dropout : float
        Dropout during training.
    max_epochs : int
        Epochs at most; training stops earlier when the held-out loss stops falling.
    learning_rate : float
        AdamW's learning rate.
    max_units : int
        Longer training documents are cut to a window of this many units (the window's labels stay
        those of the whole document: a window that does not start the document has no first unit).
    batch_pairs : int
        Roughly how many unit pairs one training batch holds (documents are batched by length).
    unit_dropout : float
        Each epoch, each unit of a training document is left out with this probability (fresh views
        of the documents every epoch: small corpora are otherwise memorised within a few epochs).
    weight_decay : float
        AdamW's weight decay.
    random_state : int
        Seed of the shuffles, the held-out split, the windows and torch's initialisation.

    Attributes
    ----------
    arrays_ : dict of str to ndarray
        The fitted weights (see ``_TOP_ARRAYS`` and ``_LAYER_ARRAYS``).
    dimension_ : int
        Embedding dimension d.
    history_ : list of dict
        Per epoch: training loss, held-out loss and its parts.
    """

    def __init__(
        self,
        *,
        hidden: int = 256,
        layers: int = 2,
        heads: int = 4,
        pair_hidden: int = 128,
        dropout: float = 0.1,
        max_epochs: int = 30,
        learning_rate: float = 1e-3,
        max_units: int = 64,
        batch_pairs: int = 6000,
        unit_dropout: float = 0.2,
        weight_decay: float = 0.01,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.pair_hidden = pair_hidden
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.max_units = max_units
        self.batch_pairs = batch_pairs
        self.unit_dropout = unit_dropout
        self.weight_decay = weight_decay
        self.random_state = random_state

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("hidden", "layers", "heads", "pair_hidden", "dropout", "max_epochs",
                                              "learning_rate", "max_units", "batch_pairs", "unit_dropout",
                                              "weight_decay", "random_state")}

    # --- training -------------------------------------------------------------------------------
    def fit(
        self,
        documents: Iterable[tuple[Sequence[str], np.ndarray]],
        *,
        progress: Callable[[int], object] | None = None,
    ) -> "ContextModel":
        """Fit on naturally ordered documents: an iterable of (units, embeddings of shape (n, d))."""
        if self.hidden < 1 or self.layers < 0 or self.heads < 1 or self.hidden % self.heads:
            raise InvalidInputError(
                f"hidden must be a positive multiple of heads and layers >= 0; got hidden={self.hidden}, "
                f"heads={self.heads}, layers={self.layers}"
            )
        rng = np.random.default_rng(self.random_state)
        docs = []
        for units, embeddings in documents:
            if progress is not None:
                progress(1)
            units = list(units)
            n = len(units)
            if n < 2:
                continue
            emb = np.asarray(embeddings, dtype=np.float32)
            perm = rng.permutation(n)  # shuffle before the features: only the labels see the natural order
            texts = [units[k] for k in perm]
            emb = emb[perm]
            lex = lexicon(texts)
            docs.append({
                "emb": emb, "ucues": unit_cues(texts, emb, lex), "pcues": pair_cues(texts, emb, lex),
                "gold": perm.astype(np.int64), "held": bool(rng.random() < HELD_OUT_SHARE),
            })
        if not docs:
            raise InvalidInputError("no training document has two or more units")
        self.dimension_ = int(docs[0]["emb"].shape[1])
        train = [d for d in docs if not d["held"]] or docs
        held = [d for d in docs if d["held"]]
        cues = np.vstack([d["ucues"] for d in train])
        pairs = np.vstack([d["pcues"].reshape(-1, PAIR_DIM) for d in train])
        stats = {
            "cue_mean": cues.mean(axis=0), "cue_scale": np.where(cues.std(axis=0) > 0, cues.std(axis=0), 1.0),
            "pair_mean": pairs.mean(axis=0), "pair_scale": np.where(pairs.std(axis=0) > 0, pairs.std(axis=0), 1.0),
        }
        stats = {k: v.astype(np.float32) for k, v in stats.items()}
        logger.info("context model: %d training and %d held-out documents", len(train), len(held))
        self.arrays_, self.history_ = _train_torch(self, train, held, stats, rng)
        return self

    # --- prediction -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "arrays_"):
            raise NotFittedError("this ContextModel is not fitted yet: call fit() or load it from a model directory")

    def logits(self, embeddings: np.ndarray, ucues: np.ndarray, pcues: np.ndarray) -> dict[str, np.ndarray]:
        """The raw outputs for one document: ``first``, ``last`` (n,), ``follow`` (n, n), ``end`` (n,),
        ``precede`` (n, n)."""
        self._check_fitted()
        a = self.arrays_
        emb = np.asarray(embeddings, dtype=np.float32)
        n = emb.shape[0]
        zc = (ucues - a["cue_mean"]) / a["cue_scale"]
        x = emb @ a["w_emb"] + zc @ a["w_cue"] + a["b_in"]
        heads = self.heads
        for k in range(self.layers):
            p = {name: a[f"layer{k}.{name}"] for name in _LAYER_ARRAYS}
            y = _layer_norm(x, p["ln1_g"], p["ln1_b"])
            q, kk, v = (y @ p[w] for w in ("w_q", "w_k", "w_v"))
            dh = q.shape[1] // heads
            q, kk, v = (t.reshape(n, heads, dh).transpose(1, 0, 2) for t in (q, kk, v))
            att = _softmax(q @ kk.transpose(0, 2, 1) / math.sqrt(dh), axis=-1)
            x = x + (att @ v).transpose(1, 0, 2).reshape(n, heads * dh) @ p["w_o"]
            y = _layer_norm(x, p["ln2_g"], p["ln2_b"])
            x = x + np.maximum(y @ p["w_1"] + p["b_1"], 0.0) @ p["w_2"] + p["b_2"]
        hs = _layer_norm(x, a["ln_g"], a["ln_b"])
        pos = hs @ a["w_pos"] + a["b_pos"]
        zp = (pcues - a["pair_mean"]) / a["pair_scale"]
        g = (hs @ a["w_gi"])[:, None, :] + (hs @ a["w_gj"])[None, :, :] + a["b_g"]
        g = g + zp @ a["w_gp"]
        g = g + (hs[:, None, :] * hs[None, :, :]) @ a["w_gij"]
        g = np.maximum(g, 0.0)
        return {
            "first": pos[:, 0], "last": pos[:, 1],
            "follow": g @ a["w_follow"], "end": hs @ a["w_end"] + a["b_end"],
            "precede": g @ a["w_precede"],
        }

    def scores(self, units: Sequence[str], embeddings: np.ndarray, *, skip: Sequence[str] = ()):
        """The three scores for a document's units (any order), as :class:`~reorder.coherence.PairwiseScores`."""
        self._check_fitted()
        units = list(units)
        emb = np.asarray(embeddings, dtype=np.float32)
        n = len(units)
        if emb.shape != (n, self.dimension_):
            raise InvalidInputError(
                f"embeddings must have shape ({n}, {self.dimension_}) for this model; got {emb.shape}")
        if n == 0:
            return PairwiseScores(np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 3)))
        lex = lexicon(units)
        out = self.logits(emb, unit_cues(units, emb, lex), pair_cues(units, emb, lex))
        return scores_from_logits(out)


def scores_from_logits(out: dict[str, np.ndarray]):
    """Turn :meth:`ContextModel.logits` into :class:`~reorder.coherence.PairwiseScores` (float64)."""
    follow = np.asarray(out["follow"], dtype=np.float64)
    n = follow.shape[0]
    np.fill_diagonal(follow, -np.inf)
    with_end = np.concatenate([follow, np.asarray(out["end"], dtype=np.float64)[:, None]], axis=1)
    follows = _softmax(with_end, axis=1)[:, :n]
    np.fill_diagonal(follows, 0.0)
    r = np.asarray(out["precede"], dtype=np.float64)
    precedes = _sigmoid(r - r.T)
    np.fill_diagonal(precedes, 0.5)
    first = _softmax(np.asarray(out["first"], dtype=np.float64))
    last = _softmax(np.asarray(out["last"], dtype=np.float64))
    if n == 1:
        last = np.zeros(1)
    middle = np.clip(1.0 - first - last, _EPS, None)
    position = np.stack([first, middle, last], axis=1)
    position /= position.sum(axis=1, keepdims=True)
    return PairwiseScores(follows=follows, precedes=precedes, position=position)


# --------------------------------------------------------------------------------------------------
# Training (torch)
# --------------------------------------------------------------------------------------------------


def _sample(doc: dict, max_units: int, unit_dropout: float, rng: np.random.Generator) -> dict:
    """A training view of a document: a window of at most ``max_units`` consecutive units, each then
    dropped with probability ``unit_dropout`` (at least two kept). Labels stay those of the whole
    document: a view without its first unit has no first unit, a unit whose successor was dropped no
    known successor (see :func:`_tensors`). Fresh views every epoch keep the model from memorising."""
    n = len(doc["gold"])
    lo, hi = 0, n
    if n > max_units:
        lo = 0 if rng.random() < 0.5 else int(rng.integers(0, n - max_units + 1))
        hi = lo + max_units
    keep = (doc["gold"] >= lo) & (doc["gold"] < hi)
    if unit_dropout > 0 and hi - lo > 2:
        dropped = keep & (rng.random(n) < unit_dropout)
        if (keep & ~dropped).sum() >= 2:
            keep &= ~dropped
    if keep.all():
        return doc
    idx = np.nonzero(keep)[0]
    return {"emb": doc["emb"][idx], "ucues": doc["ucues"][idx], "pcues": doc["pcues"][np.ix_(idx, idx)],
            "gold": doc["gold"][idx], "n_total": n}


def _batches(docs: list[dict], batch_pairs: int, max_units: int, unit_dropout: float, rng: np.random.Generator,
             shuffle: bool):
    """Training views of the documents (:func:`_sample`) grouped by length into batches of about
    ``batch_pairs`` unit pairs."""
    windows = [_sample(d, max_units, unit_dropout, rng) for d in docs]
    order = sorted(range(len(windows)), key=lambda k: (len(windows[k]["gold"]), rng.random() if shuffle else k))
    batches, current, width = [], [], 0
    for k in order:
        n = len(windows[k]["gold"])
        if current and max(width, n) ** 2 * (len(current) + 1) > batch_pairs:
            batches.append(current)
            current, width = [], 0
        current.append(windows[k])
        width = max(width, n)
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


def _tensors(batch: list[dict], stats: dict, torch):
    """Pad one batch of documents into tensors with masks and labels."""
    b, m = len(batch), max(len(d["gold"]) for d in batch)
    d_emb = batch[0]["emb"].shape[1]
    emb = np.zeros((b, m, d_emb), np.float32)
    cues = np.zeros((b, m, UNIT_DIM), np.float32)
    pcues = np.zeros((b, m, m, PAIR_DIM), np.float32)
    mask = np.zeros((b, m), bool)
    rank = np.full((b, m), -1, np.int64)  # gold position within the (windowed) document
    first = np.full(b, -1, np.int64)
    last = np.full(b, -1, np.int64)
    nxt = np.full((b, m), -2, np.int64)  # index of the next unit; m = "none" (last); -2 = unknown
    for k, doc in enumerate(batch):
        n = len(doc["gold"])
        emb[k, :n] = doc["emb"]
        cues[k, :n] = (doc["ucues"] - stats["cue_mean"]) / stats["cue_scale"]
        pcues[k, :n, :n] = (doc["pcues"] - stats["pair_mean"]) / stats["pair_scale"]
        mask[k, :n] = True
        gold = doc["gold"]
        total = doc.get("n_total", n)
        rank[k, :n] = gold
        where = {int(g): i for i, g in enumerate(gold)}
        if 0 in where:
            first[k] = where[0]
        if total - 1 in where:
            last[k] = where[total - 1]
        for i, g in enumerate(gold):
            if int(g) + 1 in where:
                nxt[k, i] = where[int(g) + 1]
            elif int(g) == total - 1:
                nxt[k, i] = m
    t = torch.from_numpy
    return t(emb), t(cues), t(pcues), t(mask), t(rank), t(first), t(last), t(nxt)


def _build_net(model: ContextModel, d: int, torch):
    nn = torch.nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            h = model.hidden
            self.ln1, self.ln2 = nn.LayerNorm(h, eps=_LN_EPS), nn.LayerNorm(h, eps=_LN_EPS)
            self.q, self.k, self.v, self.o = (nn.Linear(h, h, bias=False) for _ in range(4))
            self.f1, self.f2 = nn.Linear(h, 2 * h), nn.Linear(2 * h, h)
            self.drop = nn.Dropout(model.dropout)

        def forward(self, x, mask):
            b, m, h = x.shape
            heads = model.heads
            y = self.ln1(x)
            q, k, v = (f(y).view(b, m, heads, h // heads).transpose(1, 2) for f in (self.q, self.k, self.v))
            att = q @ k.transpose(-1, -2) / math.sqrt(h // heads)
            att = att.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1)
            x = x + self.drop(self.o((att @ v).transpose(1, 2).reshape(b, m, h)))
            y = self.ln2(x)
            return x + self.drop(self.f2(torch.relu(self.f1(y))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            h, g = model.hidden, model.pair_hidden
            self.emb, self.cue = nn.Linear(d, h, bias=False), nn.Linear(UNIT_DIM, h)
            self.layers = nn.ModuleList(Layer() for _ in range(model.layers))
            self.ln = nn.LayerNorm(h, eps=_LN_EPS)
            self.pos = nn.Linear(h, 2)
            self.gi, self.gj, self.gij = (nn.Linear(h, g, bias=False) for _ in range(3))
            self.gp = nn.Linear(PAIR_DIM, g)
            self.follow, self.precede = nn.Linear(g, 1, bias=False), nn.Linear(g, 1, bias=False)
            self.end = nn.Linear(h, 1)
            self.drop = nn.Dropout(model.dropout)

        def forward(self, emb, cues, pcues, mask):
            x = self.drop(self.emb(emb)) + self.cue(cues)
            for layer in self.layers:
                x = layer(x, mask)
            hs = self.ln(x)
            pos = self.pos(hs)
            gi, gj = self.gi(hs), self.gj(hs)
            g = gi[:, :, None, :] + gj[:, None, :, :] + self.gp(pcues) + self.gij(hs[:, :, None, :] * hs[:, None, :, :])
            g = self.drop(torch.relu(g))
            return pos[..., 0], pos[..., 1], self.follow(g)[..., 0], self.end(hs)[..., 0], self.precede(g)[..., 0]

    return Net()


def _losses(net, batch_tensors, torch):
    """Mean losses of one batch: first, last, next (softmax over candidates) and precedes (pairs)."""
    emb, cues, pcues, mask, rank, first, last, nxt = batch_tensors
    f = torch.nn.functional
    b, m = mask.shape
    first_logit, last_logit, follow, end, precede = net(emb, cues, pcues, mask)
    neg = torch.finfo(first_logit.dtype).min
    parts = {}
    has = first >= 0
    parts["first"] = (f.cross_entropy(first_logit.masked_fill(~mask, neg)[has], first[has]) if has.any()
                      else first_logit.sum() * 0)
    has = last >= 0
    parts["last"] = (f.cross_entropy(last_logit.masked_fill(~mask, neg)[has], last[has]) if has.any()
                     else last_logit.sum() * 0)
    eye = torch.eye(m, dtype=torch.bool)[None]
    follow = follow.masked_fill(~mask[:, None, :] | eye, neg)
    candidates = torch.cat([follow, end[:, :, None]], dim=2)  # (b, m, m + 1)
    known = nxt >= 0
    parts["next"] = f.cross_entropy(candidates[known], nxt[known])
    pair = mask[:, :, None] & mask[:, None, :] & ~eye
    diff = (precede - precede.transpose(1, 2))[pair]
    target = (rank[:, :, None] < rank[:, None, :]).expand(b, m, m)[pair].float()
    # weight each document's pairs by 1 / pairs so that long documents do not dominate
    per_doc = pair.sum(dim=(1, 2)).clamp(min=1).float()
    weight = (1.0 / per_doc)[:, None, None].expand(b, m, m)[pair]
    parts["precedes"] = (f.binary_cross_entropy_with_logits(diff, target, reduction="none") * weight).sum() / b
    return parts


def _train_torch(model: ContextModel, train: list[dict], held: list[dict], stats: dict, rng: np.random.Generator):
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch comes with sentence-transformers
        raise InvalidInputError("training a context model needs torch (installed with sentence-transformers)") from exc

    torch.manual_seed(int(rng.integers(2**31)))
    d = int(train[0]["emb"].shape[1])
    net = _build_net(model, d, torch)
    optimiser = torch.optim.AdamW(net.parameters(), lr=model.learning_rate, weight_decay=model.weight_decay)
    held_batches = [_tensors(b, stats, torch) for b in _batches(held, model.batch_pairs, model.max_units, 0.0,
                                                                np.random.default_rng(0), shuffle=False)]
    best, best_loss, stale, history = None, np.inf, 0, []
    for epoch in range(model.max_epochs):
        net.train()
        total, count = 0.0, 0
        for batch in _batches(train, model.batch_pairs, model.max_units, model.unit_dropout, rng, shuffle=True):
            parts = _losses(net, _tensors(batch, stats, torch), torch)
            loss = sum(parts.values())
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            total, count = total + float(loss.detach()) * len(batch), count + len(batch)
        net.eval()
        sums = {}
        with torch.no_grad():
            for tensors in held_batches:
                size = tensors[0].shape[0]
                for name, value in _losses(net, tensors, torch).items():
                    sums[name] = sums.get(name, 0.0) + float(value) * size
        size = sum(t[0].shape[0] for t in held_batches) or 1
        parts = {k: v / size for k, v in sums.items()}
        held_loss = sum(parts.values()) if held_batches else total / max(count, 1)
        history.append({"epoch": epoch + 1, "train_loss": total / max(count, 1), "held_out_loss": held_loss, **parts})
        logger.info("context model epoch %d: train %.4f held-out %.4f %s", epoch + 1, total / max(count, 1),
                    held_loss, {k: round(v, 4) for k, v in parts.items()})
        if held_loss < best_loss - 1e-4:
            best_loss, stale = held_loss, 0
            best = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= 2:
                break
    net.load_state_dict(best)
    return _export(net, model, stats), history


def _export(net, model: ContextModel, stats: dict) -> dict[str, np.ndarray]:
    """The fitted torch weights as the numpy arrays :meth:`ContextModel.logits` reads (x @ W layout)."""
    def w(linear):
        return linear.weight.detach().numpy().T.copy()

    def b(linear):
        return linear.bias.detach().numpy().copy()

    a = dict(stats)
    a.update(w_emb=w(net.emb), w_cue=w(net.cue), b_in=b(net.cue), ln_g=net.ln.weight.detach().numpy().copy(),
             ln_b=net.ln.bias.detach().numpy().copy(), w_pos=w(net.pos), b_pos=b(net.pos), w_gi=w(net.gi),
             w_gj=w(net.gj), w_gij=w(net.gij), w_gp=w(net.gp), b_g=b(net.gp), w_follow=w(net.follow)[:, 0],
             w_end=w(net.end)[:, 0], b_end=b(net.end)[0:1], w_precede=w(net.precede)[:, 0])
    for k, layer in enumerate(net.layers):
        a.update({
            f"layer{k}.ln1_g": layer.ln1.weight.detach().numpy().copy(),
            f"layer{k}.ln1_b": layer.ln1.bias.detach().numpy().copy(),
            f"layer{k}.w_q": w(layer.q), f"layer{k}.w_k": w(layer.k), f"layer{k}.w_v": w(layer.v),
            f"layer{k}.w_o": w(layer.o),
            f"layer{k}.ln2_g": layer.ln2.weight.detach().numpy().copy(),
            f"layer{k}.ln2_b": layer.ln2.bias.detach().numpy().copy(),
            f"layer{k}.w_1": w(layer.f1), f"layer{k}.b_1": b(layer.f1), f"layer{k}.w_2": w(layer.f2),
            f"layer{k}.b_2": b(layer.f2),
        })
    out = {}
    for name, value in a.items():
        value = np.asarray(value, dtype=np.float32)
        if name.split(".")[-1] in _FLOAT16:
            value = value.astype(np.float16).astype(np.float32)
        out[name] = value
    return out


class BlendedScorer:
    """A log-linear blend of two scorers' probabilities (e.g. the perceptrons and the context model).

    With share ``s`` of the second scorer: follows and position are ``p1^(1-s) * p2^s`` (position
    renormalised per unit), precedes is ``sigmoid((1-s) logit p1 + s logit p2)``, which keeps
    ``p_ij + p_ji = 1``. ``s = 0`` is the first scorer alone, ``s = 1`` the second.
    """

    def __init__(self, first, second, share: float) -> None:
        if not 0.0 <= share <= 1.0:
            raise InvalidInputError(f"share must be in [0, 1]; got {share!r}")
        self.first, self.second, self.share = first, second, float(share)
        self.embedder_name_ = getattr(first, "embedder_name_", None)

    def scores(self, units: Sequence[str], embeddings: np.ndarray, *, skip: Sequence[str] = ()):
        s = self.share
        a = self.first.scores(units, embeddings, skip=skip) if s < 1 else None
        b = self.second.scores(units, embeddings, skip=skip) if s > 0 else None
        if a is None or b is None:
            return a if b is None else b

        def log(p):
            return np.log(np.clip(p, _EPS, 1.0))

        def logit(p):
            p = np.clip(p, _EPS, 1.0 - _EPS)
            return np.log(p) - np.log1p(-p)

        follows = np.exp((1 - s) * log(a.follows) + s * log(b.follows))
        np.fill_diagonal(follows, 0.0)
        precedes = _sigmoid((1 - s) * logit(a.precedes) + s * logit(b.precedes))
        np.fill_diagonal(precedes, 0.5)
        position = np.exp((1 - s) * log(a.position) + s * log(b.position))
        position /= position.sum(axis=1, keepdims=True)
        return PairwiseScores(follows=follows, precedes=precedes, position=position)
