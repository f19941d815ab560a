"""The fine-tuned pair reader: its scores, training with checkpoints, saving, loading, combining."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from reorder import ModelError, Reorderer
from reorder.coherence import PairwiseScores
from reorder.embedding import DEFAULT_MODEL, default_model_path
from reorder.finetuned import CombinedScorer, PairReader, fine_tune, load_reader, load_scorer

from conftest import CORPORA, REPO, SEED_TEXT, STORM_UNITS, training_documents

pytestmark = pytest.mark.slow  # loads the packaged all-MiniLM-L6-v2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A rank-2 reader trained for a few CPU seconds on the test stories, saved; and its checkpoint."""
    import torch

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("reader")
    reader = PairReader.build(default_model_path(), rank=2, hidden=16, base_name=DEFAULT_MODEL)
    states = []
    state = fine_tune(reader, training_documents(), directory / "checkpoint.pt", minutes=0.1, every=0.05,
                      window=4, lr=3e-3, callback=states.append)
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
    assert state["step"] > 0 and state["cpu_s"] >= 0.1 * 60 and len(states) >= 2
    assert [s["step"] for s in states] == sorted(s["step"] for s in states)
    saved = torch.load(directory / "checkpoint.pt", weights_only=True)
    assert saved["step"] == state["step"]
    checkpoint = shutil.copy(directory / "checkpoint.pt", tmp_path / "checkpoint.pt")
    reader = PairReader.build(default_model_path(), rank=2, hidden=16)  # fresh: resuming loads the adapters
    again = fine_tune(reader, training_documents(), checkpoint, minutes=0.1, window=4)
    assert again["step"] == state["step"]  # the budget is spent: resuming trains no further
    np.testing.assert_allclose(reader.scores(STORM_UNITS).precedes, trained[0].scores(STORM_UNITS).precedes, atol=1e-6)
    longer = fine_tune(reader, training_documents(), checkpoint, minutes=0.12, window=4, lr=3e-3)
    assert longer["step"] > state["step"] and longer["cpu_s"] >= 0.12 * 60


def test_training_learns_order_from_the_stories(trained):
    """Seconds of training put the stories' pairs the right way far more often than chance (0.5)."""
    reader = trained[0]
    correct = []
    for units in training_documents():
        p = reader.scores(units).precedes
        correct.extend(p[np.triu_indices(len(units), 1)] > 0.5)
    assert np.mean(correct) > 0.7


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


def test_reorderer_runs_a_combined_model_directory(trained, tmp_path):
    directory = tmp_path / "news-reader"
    trained[0].save(directory, extra={"name": "news-reader-test",
                                      "combine": {"model": str(REPO / "reorder" / "models" / "news-minilm"),
                                                  "mix": {"model": 1.0, "reader": 1.0}},
                                      "objective": {"follows": 0.5, "precedes": 1.0, "position": 1.0}})
    scorer, meta = load_scorer(directory)
    assert isinstance(scorer, CombinedScorer) and meta["name"] == "news-reader-test"
    reorderer = Reorderer(directory, embedder=DEFAULT_MODEL)
    text = SEED_TEXT.read_text(encoding="utf-8")
    result = reorderer.reorder_text(text)
    assert sorted(result.text.split("\n\n")) == sorted(text.strip("\n").split("\n\n"))  # nothing lost
    assert "model:news-reader-test" in result.signature and "weights:f0.5+p1+pos1" in result.signature


@pytest.mark.corpora
def test_train_reader_trains_tunes_and_writes_a_model(tmp_path):
    out = tmp_path / "models" / "news-reader"
    completed = subprocess.run(
        [sys.executable, "experiments/train_reader.py", str(CORPORA), "--limit", "30", "--minutes", "0.05",
         "--every", "0.05", "--rank", "2", "--hidden", "16", "--tune-docs", "3", "--max-units", "6",
         "--checkpoint", str(tmp_path / "checkpoint.pt"), "-o", str(out), "--results", str(tmp_path / "tuning"),
         "--model", str(REPO / "reorder" / "models" / "news-minilm"), "--cache", str(tmp_path / "cache.sqlite")],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert completed.returncode == 0, completed.stderr[-2000:]
    meta = json.loads((out / "reader.json").read_text())
    assert meta["combine"]["mix"]["model"] == 1.0 and meta["tuning"]["documents"] == 3
    assert set(meta["objective"]) == {"follows", "precedes", "position"}
    assert "| mix model |" in (tmp_path / "tuning.md").read_text()
