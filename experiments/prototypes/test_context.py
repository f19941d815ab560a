"""The context model prototype (experiments/prototypes/context_model.py): its scores' invariants,
permutation equivariance, numpy matching torch, and that it learns an order it can only see by comparing
a document's units with each other.

Outside the default test run: ``python -m pytest experiments/prototypes`` (pytest puts this folder on
``sys.path``, so ``context_model`` imports as a plain module). Self-contained: its stand-in embedder and
small coherence model are defined here, not taken from ``tests/``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from context_model import BlendedScorer, ContextModel, _build_net, _export, _tensors
from sklearn.exceptions import ConvergenceWarning

from reorder import CoherenceModel, HashingEmbedder, InvalidInputError, NotFittedError
from reorder.embedding import embed_unique
from reorder.features import PAIR_DIM, UNIT_DIM, lexicon, pair_cues, unit_cues

UNITS = [
    "The storm reached the coast on Tuesday night.",
    "Thousands of homes lost power as the winds rose.",
    "By Wednesday, crews had restored electricity to most of them.",
    "Officials said the damage would cost millions to repair.",
    "Schools will reopen on Monday.",
]
"""Five paragraphs of a short story in their natural order."""

@pytest.fixture(scope="module")
def stand_in() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="module")
def tiny_model(stand_in) -> CoherenceModel:
    """A small CoherenceModel (the perceptrons) fitted on the counting documents below."""
    documents = _counting_documents(60, np.random.default_rng(2))
    pairs = [(units, embed_unique(stand_in, units)) for units in documents]
    model = CoherenceModel(hidden=16, max_iter=5, max_pairs_per_doc=20, random_state=0)
    with warnings.catch_warnings():  # five epochs do not converge, on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Got `batch_size`")  # the corpus is small
        return model.fit(pairs, embedder_name=stand_in.name)



def _counting_documents(count: int, rng: np.random.Generator) -> list[list[str]]:
    """Documents whose order is only visible by comparison: units say "step K" for increasing, randomly
    spaced K, so no unit alone tells whether it is first, but the smallest K in a document is."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    documents = []
    for _ in range(count):
        n = int(rng.integers(3, 7))
        steps = np.sort(rng.choice(np.arange(1, 9), size=n, replace=False))
        documents.append([f"step {words[k - 1]} {words[k - 1]} of the plan" for k in steps])
    return documents


@pytest.fixture(scope="module")
def fitted(stand_in):
    rng = np.random.default_rng(0)
    documents = _counting_documents(300, rng)
    model = ContextModel(hidden=32, heads=4, pair_hidden=32, layers=1, max_epochs=25, learning_rate=3e-3,
                         dropout=0.0, random_state=0)
    return model.fit((units, stand_in.encode(units)) for units in documents)


def test_scores_have_the_documented_invariants(fitted, stand_in):
    scores = fitted.scores(UNITS, stand_in.encode(UNITS))
    n = len(UNITS)
    assert scores.follows.shape == scores.precedes.shape == (n, n) and scores.position.shape == (n, 3)
    assert np.all(np.diag(scores.follows) == 0)
    assert np.all(scores.follows.sum(axis=1) <= 1 + 1e-9)  # the rest is P(no next unit)
    off = ~np.eye(n, dtype=bool)
    assert np.allclose((scores.precedes + scores.precedes.T)[off], 1.0)
    assert np.allclose(np.diag(scores.precedes), 0.5)
    assert np.allclose(scores.position.sum(axis=1), 1.0)
    assert scores.position[:, 0].sum() == pytest.approx(1.0, abs=1e-4)  # exactly one unit is first


def test_scores_are_permutation_equivariant(fitted, stand_in):
    emb = stand_in.encode(UNITS)
    perm = [3, 0, 4, 1, 2]
    a = fitted.scores(UNITS, emb)
    b = fitted.scores([UNITS[k] for k in perm], emb[perm])
    assert np.allclose(b.follows, a.follows[np.ix_(perm, perm)], atol=1e-6)
    assert np.allclose(b.precedes, a.precedes[np.ix_(perm, perm)], atol=1e-6)
    assert np.allclose(b.position, a.position[perm], atol=1e-6)


def test_it_learns_an_order_visible_only_in_context(fitted, stand_in):
    """The first unit is the one with the smallest step *in its document*: per-unit features cannot tell."""
    rng = np.random.default_rng(1)
    hits, correct_pairs, pairs = 0, 0, 0
    documents = _counting_documents(60, rng)
    for units in documents:
        perm = rng.permutation(len(units))
        shuffled = [units[k] for k in perm]
        scores = fitted.scores(shuffled, stand_in.encode(shuffled))
        hits += perm[int(np.argmax(scores.position[:, 0]))] == 0
        for i in range(len(units)):
            for j in range(len(units)):
                if i != j:
                    pairs += 1
                    correct_pairs += (scores.precedes[i, j] > 0.5) == (perm[i] < perm[j])
    assert hits / len(documents) > 0.8
    assert correct_pairs / pairs > 0.8


def test_numpy_prediction_matches_the_torch_network():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    n, d = 6, 16
    units = UNITS + ["A sixth unit, quoting “someone”."]
    emb = rng.normal(size=(n, d)).astype(np.float32)
    model = ContextModel(hidden=16, heads=2, pair_hidden=8, layers=2)
    torch.manual_seed(0)
    net = _build_net(model, d, torch)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    net.eval()
    stats = {"cue_mean": np.full(UNIT_DIM, 0.1, np.float32), "cue_scale": np.full(UNIT_DIM, 2.0, np.float32),
             "pair_mean": np.full(PAIR_DIM, 0.2, np.float32), "pair_scale": np.full(PAIR_DIM, 3.0, np.float32)}
    model.arrays_, model.dimension_ = _export(net, model, stats), d
    stored_as_float16 = {"emb", "cue", "q", "k", "v", "o", "f1", "f2", "gi", "gj", "gij"}
    for name, value in net.state_dict().items():  # the same float16 rounding as the exported arrays
        if name.endswith(".weight") and name.split(".")[-2] in stored_as_float16:
            value.copy_(torch.from_numpy(value.numpy().astype(np.float16).astype(np.float32)))
    lex = lexicon(units)
    ucues, pcues = unit_cues(units, emb, lex), pair_cues(units, emb, lex)
    ours = model.logits(emb, ucues, pcues)
    batch = _tensors([{"emb": emb, "ucues": ucues, "pcues": pcues, "gold": np.arange(n)}], stats, torch)
    with torch.no_grad():
        first, last, follow, end, precede = (t[0].numpy() for t in net(*batch[:4]))
    for mine, theirs in ((ours["first"], first), (ours["last"], last), (ours["follow"], follow),
                         (ours["end"], end), (ours["precede"], precede)):
        assert np.allclose(mine, theirs, atol=1e-5)


def test_unfitted_and_bad_inputs_are_refused(fitted, stand_in):
    with pytest.raises(NotFittedError):
        ContextModel().scores(UNITS, stand_in.encode(UNITS))
    with pytest.raises(InvalidInputError, match="shape"):
        fitted.scores(UNITS, stand_in.encode(UNITS)[:, :10])
    with pytest.raises(InvalidInputError, match="multiple of heads"):
        ContextModel(hidden=30, heads=4).fit([(UNITS, stand_in.encode(UNITS))])
    with pytest.raises(InvalidInputError, match="two or more units"):
        ContextModel().fit([(UNITS[:1], stand_in.encode(UNITS[:1]))])


def test_blend_ends_are_its_two_scorers_and_the_middle_stays_consistent(fitted, tiny_model, stand_in):
    emb = stand_in.encode(UNITS)
    a, b = tiny_model.scores(UNITS, emb), fitted.scores(UNITS, emb)
    assert np.allclose(BlendedScorer(tiny_model, fitted, 0.0).scores(UNITS, emb).precedes, a.precedes)
    assert np.allclose(BlendedScorer(tiny_model, fitted, 1.0).scores(UNITS, emb).precedes, b.precedes)
    mid = BlendedScorer(tiny_model, fitted, 0.5).scores(UNITS, emb)
    off = ~np.eye(len(UNITS), dtype=bool)
    assert np.allclose((mid.precedes + mid.precedes.T)[off], 1.0)
    assert np.allclose(mid.position.sum(axis=1), 1.0)
    lo, hi = np.minimum(a.precedes, b.precedes), np.maximum(a.precedes, b.precedes)
    assert np.all((mid.precedes >= lo - 1e-9) & (mid.precedes <= hi + 1e-9))
    with pytest.raises(InvalidInputError, match="share"):
        BlendedScorer(tiny_model, fitted, 1.5)
