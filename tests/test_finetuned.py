"""The fine-tuned pair reader: its scores, training with checkpoints, saving, loading, combining."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reorder import ModelError, Reorderer, Scorer
from reorder.coherence import PairwiseScores
from reorder.embedding import DEFAULT_MODEL, default_model_path
from reorder.finetuned import CombinedScorer, OnnxReader, PairReader, _windows, fine_tune, load_reader, load_scorer

from conftest import REPO, SEED_TEXT, STORM_UNITS, training_documents

pytestmark = pytest.mark.slow  # loads the packaged all-MiniLM-L6-v2

TRAIN, HELD_OUT = training_documents()[:36], training_documents()[36:]
"""The reader trains on 36 of the test stories; what it learned is measured on the other 12."""


@pytest.fixture(autouse=True, scope="module")
def models_cache(tmp_path_factory):
    """Each reader saved here is exported to ONNX when loaded: into a scratch cache, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REORDER_MODELS", str(tmp_path_factory.mktemp("models")))
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A rank-2 reader trained for a few CPU seconds on the test stories, saved; and its checkpoint."""
    import torch

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("reader")
    reader = PairReader.build(default_model_path(), rank=2, hidden=16, base_name=DEFAULT_MODEL)
    states = []
    state = fine_tune(reader, TRAIN, directory / "checkpoint.pt", minutes=10, every=0.02,
                      window=4, lr=1e-3, steps=40, callback=states.append)
    reader.save(directory / "model")
    return reader, directory, state, states


def test_scores_are_probabilities_with_the_pair_structure(trained):
    reader = trained[0]
    scores = reader.scores(STORM_UNITS)
    n = len(STORM_UNITS)
    assert scores.precedes.shape == scores.follows.shape == (n, n)
    np.testing.assert_allclose(scores.precedes + scores.precedes.T, 1.0, atol=1e-9)  # antisymmetric
    np.testing.assert_allclose(scores.follows.sum(axis=1), 1.0, atol=1e-9)  # a distribution over successors
    assert np.all(np.diag(scores.follows) == 0) and np.all(np.diag(scores.precedes) == 0.5)
    moved = reader.scores(STORM_UNITS[::-1]).precedes[::-1, ::-1]  # scores follow the units, not their slots
    np.testing.assert_allclose(moved, scores.precedes, atol=1e-5)


def test_training_checkpoints_and_resumes(trained, tmp_path):
    import shutil

    import torch

    directory, state, states = trained[1:]
    assert state["step"] == 40 and states[-1] == state  # saved, and reported, at the end
    assert [s["step"] for s in states] == sorted(s["step"] for s in states)
    saved = torch.load(directory / "checkpoint.pt", weights_only=True)
    assert saved["step"] == state["step"]
    checkpoint = shutil.copy(directory / "checkpoint.pt", tmp_path / "checkpoint.pt")
    reader = PairReader.build(default_model_path(), rank=2, hidden=16)  # fresh: resuming loads the adapters
    again = fine_tune(reader, TRAIN, checkpoint, minutes=10, window=4, steps=40)
    assert again["step"] == state["step"]  # the budget is spent: resuming trains no further
    np.testing.assert_allclose(reader.scores(STORM_UNITS).precedes, trained[0].scores(STORM_UNITS).precedes, atol=1e-6)
    longer = fine_tune(reader, TRAIN, checkpoint, minutes=10, window=4, lr=1e-3, steps=45)
    assert longer["step"] == 45 and longer["cpu_s"] > state["cpu_s"]
    spent = fine_tune(reader, TRAIN, checkpoint, minutes=longer["cpu_s"] / 60, window=4)
    assert spent["step"] == 45  # the CPU budget is spent too


def test_training_learns_order_that_holds_on_stories_it_never_saw(trained):
    """40 steps of training put the pairs of held-out stories the right way more often than chance (0.5)."""
    reader = trained[0]
    correct = []
    for units in HELD_OUT:
        p = reader.scores(units).precedes
        correct.extend(p[np.triu_indices(len(units), 1)] > 0.5)
    assert np.mean(correct) > 0.75


def test_saved_reader_loads_with_merged_adapters_and_same_scores(trained):
    reader, directory = trained[0], trained[1]
    files = sorted(p.name for p in (directory / "model").iterdir())
    assert files == ["reader.json", "reader.safetensors"]
    loaded = load_reader(directory / "model", default_model_path())
    assert not any(hasattr(m, "lora_a") for m in loaded.encoder.modules())  # merged into the base weights
    np.testing.assert_allclose(loaded.scores(STORM_UNITS).precedes, reader.scores(STORM_UNITS).precedes, atol=5e-3)


def test_a_damaged_reader_is_a_model_error(trained, tmp_path):
    source = trained[1] / "model"
    (tmp_path / "reader.json").write_text((source / "reader.json").read_text())
    (tmp_path / "reader.safetensors").write_bytes((source / "reader.safetensors").read_bytes()[:100])
    with pytest.raises(ModelError, match="unreadable"):
        load_reader(tmp_path, default_model_path())
    meta = json.loads((source / "reader.json").read_text())
    (tmp_path / "reader.json").write_text(json.dumps({**meta, "rank": 3}))
    (tmp_path / "reader.safetensors").write_bytes((source / "reader.safetensors").read_bytes())
    with pytest.raises(ModelError, match="do not match"):
        load_reader(tmp_path, default_model_path())


def test_the_onnx_reader_scores_as_the_torch_reader_does(trained):
    """At inference the reader runs on ONNX Runtime with its head in numpy: the same logits, scores
    and read-ahead behaviour as the torch reader it was saved from."""
    directory = trained[1] / "model"
    torch_reader = load_reader(directory, default_model_path())
    onnx_reader = OnnxReader.load(directory, default_model_path())
    units = [*STORM_UNITS, "", "word " * 300]  # an empty unit, and one past max_length (truncated alike)
    for mine, theirs in zip(onnx_reader.logits(units), torch_reader.logits(units)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), atol=2e-4)
    fast, slow = onnx_reader.scores(units), torch_reader.scores(units)
    np.testing.assert_allclose(fast.precedes, slow.precedes, atol=1e-4)
    np.testing.assert_allclose(fast.follows, slow.follows, atol=1e-4)
    onnx_reader.read_ahead(units[::-1])
    np.testing.assert_allclose(onnx_reader.scores(units).precedes, fast.precedes, atol=1e-6)
    assert isinstance(load_scorer(_combined(trained, directory.parent / "combined"))[0].reader, OnnxReader)


def _flat(n: int, precedes: np.ndarray) -> PairwiseScores:
    follows = np.full((n, n), 1.0 / (n - 1))
    np.fill_diagonal(follows, 0.0)
    return PairwiseScores(follows=follows, precedes=precedes, position=np.full((n, 3), 1 / 3))


def test_combining_adds_logits():
    n = 3
    p, q = np.full((n, n), 0.5), np.full((n, n), 0.5)
    p[0, 1], p[1, 0] = 0.8, 0.2
    q[0, 1], q[1, 0] = 0.8, 0.2
    scorer = CombinedScorer.__new__(CombinedScorer)
    scorer.mix = {"model": 1.0, "reader": 1.0}
    both = scorer.combine(_flat(n, p), _flat(n, q)).precedes
    assert both[0, 1] == pytest.approx(1 / (1 + (0.2 / 0.8) ** 2))  # two votes of 4:1 make 16:1
    scorer.mix = {"model": 1.0, "reader": 0.0}
    np.testing.assert_allclose(scorer.combine(_flat(n, p), _flat(n, q)).precedes, p)


def _combined(trained, directory):
    """The trained reader saved as a model directory combined with the shipped news-minilm model."""
    return trained[0].save(directory, extra={"name": "news-reader-test",
                                             "combine": {"model": str(REPO / "reorder" / "models" / "news-minilm"),
                                                         "mix": {"model": 1.0, "reader": 1.0}},
                                             "objective": {"follows": 0.5, "precedes": 1.0, "position": 1.0}})


def test_reorderer_runs_a_combined_model_directory(trained, tmp_path):
    directory = _combined(trained, tmp_path / "news-reader")
    scorer, meta = load_scorer(directory)
    assert isinstance(scorer, CombinedScorer) and isinstance(scorer, Scorer) and meta["name"] == "news-reader-test"
    reorderer = Reorderer(directory, embedder=DEFAULT_MODEL)
    text = SEED_TEXT.read_text(encoding="utf-8")
    result = reorderer.reorder_text(text)
    assert sorted(result.text.split("\n\n")) == sorted(text.strip("\n").split("\n\n"))  # nothing lost
    assert "model:news-reader-test" in result.signature and "weights:f0.5+p1+pos1" in result.signature


def test_spread_steps_draw_units_from_the_whole_document_in_order():
    documents = [[f"unit {k}" for k in range(30)]]
    for spread, contiguous in ((0.0, 1.0), (1.0, 0.0)):
        steps = [next(_windows(documents, 5, 0, step, spread)) for step in range(20)]
        for _, units, places in steps:
            assert units == [f"unit {k}" for k in places] and places == sorted(set(places)) and len(places) == 5
        assert np.mean([places[-1] - places[0] == 4 for _, _, places in steps]) == contiguous
    same = [next(_windows(documents, 5, 0, step))[2] for step in range(5)]
    assert same == [next(_windows(documents, 5, 0, step, 0.0))[2] for step in range(5)]


def _encoder_calls(reorderer: Reorderer) -> list:
    """A list that grows by one each time the reader's encoder runs (torch: per forward pass; ONNX
    Runtime: per call of its encoder)."""
    calls = []
    encoder = reorderer.scorer.reader.encoder
    if hasattr(encoder, "register_forward_hook"):
        encoder.register_forward_hook(lambda *_: calls.append(1))
    else:
        encode = encoder.encode
        encoder.encode = lambda *args, **kwargs: (calls.append(1), encode(*args, **kwargs))[1]
    return calls


def test_evaluation_reads_ahead_across_documents_with_the_same_orders(trained, tmp_path):
    """``evaluate`` has the reader encode chunks of documents in a few batched calls, not one call per
    document, and every document gets the order it gets alone."""
    from reorder import CorpusDocument
    from reorder.evaluation import evaluate

    documents = [CorpusDocument(id=str(k), units=tuple(d)) for k, d in enumerate(training_documents(12))]
    reorderer = Reorderer(_combined(trained, tmp_path / "model"), embedder=DEFAULT_MODEL, seed=0)
    calls = _encoder_calls(reorderer)
    ahead = reorderer.evaluate(documents)
    batched, calls[:] = len(calls), []
    reorderer.scorer.read_ahead([])  # forget what was read ahead

    def alone(units):
        solution = reorderer.solve(units)
        return solution.order, solution.optimal

    each = evaluate(alone, documents, seed=0)
    assert [row["predicted"] for row in ahead.rows] == [row["predicted"] for row in each.rows]
    assert batched < len(documents) <= len(calls)


def test_batch_partitions_are_read_ahead_with_the_same_orders(trained, tmp_path):
    from reorder.partitions import Partition, order_partition

    documents = training_documents(10)
    lines = tuple((k + 1, json.dumps({"id": str(k), "paragraphs": d[::-1]}) + "\n") for k, d in enumerate(documents))
    reorderer = Reorderer(_combined(trained, tmp_path / "model"), embedder=DEFAULT_MODEL, seed=0)
    calls = _encoder_calls(reorderer)
    results = order_partition(reorderer, Partition(source=0, index=0, path="stories.jsonl", records=lines))
    batched, calls[:] = len(calls), []
    reorderer.scorer.read_ahead([])
    assert [r["permutation"] for r in results] == [reorderer.order(d[::-1]) for d in documents]
    assert batched < len(documents) <= len(calls)
