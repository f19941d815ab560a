"""The ONNX Runtime encoder: the same embeddings and orders as sentence-transformers, exported once,
token states from the same pass, and no torch imported at inference or for ``--help``."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

import reorder.embedding
import reorder.encoder
from reorder import ModelError, OnnxEmbedder, Reorderer, SentenceTransformerEmbedder, load_embedder, read_corpus
from reorder.embedding import DEFAULT_MODEL, MPNET_MODEL, default_model_path, mpnet_available
from reorder.encoder import OnnxEncoder, export_encoder, use_onnx

from conftest import CORPORA, REPO, SEED_TEXT, STORM_UNITS

HEAVY = ("torch", "transformers", "sentence_transformers")
EDGE_CASES = ["", "x", "Ünïcödé — “quotes” and emoji 🎉", "word " * 600]  # 600 words: past max_seq_length


@pytest.fixture(autouse=True)
def fresh_backend_choice():
    """use_onnx() reads REORDER_BACKEND once per process; each test chooses again."""
    use_onnx.cache_clear()
    yield
    use_onnx.cache_clear()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_packaged_models_run_on_onnx_runtime_by_default(monkeypatch):
    monkeypatch.delenv("REORDER_BACKEND", raising=False)
    assert isinstance(load_embedder(), OnnxEmbedder) and load_embedder().name == DEFAULT_MODEL
    assert load_embedder(default_model_path()).name == "model"  # a local directory: named after it
    assert isinstance(load_embedder("someone/hub-model"), SentenceTransformerEmbedder)  # a hub name: torch


def test_the_backend_can_be_chosen_and_a_missing_runtime_warns_once(monkeypatch, caplog):
    monkeypatch.setenv("REORDER_BACKEND", "torch")
    assert isinstance(load_embedder(), SentenceTransformerEmbedder)
    monkeypatch.setenv("REORDER_BACKEND", "fast")
    use_onnx.cache_clear()
    with pytest.raises(ModelError, match="REORDER_BACKEND must be one of auto, onnx, torch; got 'fast'"):
        load_embedder()
    monkeypatch.setattr(reorder.encoder, "onnxruntime_available", lambda: False)
    monkeypatch.setenv("REORDER_BACKEND", "onnx")
    use_onnx.cache_clear()
    with pytest.raises(ModelError, match="onnxruntime or tokenizers is not installed"):
        load_embedder()
    monkeypatch.setenv("REORDER_BACKEND", "auto")
    use_onnx.cache_clear()
    with caplog.at_level(logging.WARNING, logger="reorder"):
        assert isinstance(load_embedder(), SentenceTransformerEmbedder)
        assert isinstance(load_embedder(), SentenceTransformerEmbedder)
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "onnxruntime is not installed" in caplog.records[0].getMessage()


def test_a_layout_it_cannot_reproduce_is_refused(tmp_path):
    (tmp_path / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "",
                                                        "type": "sentence_transformers.models.Transformer"}]))
    with pytest.raises(ModelError, match="not a local sentence-transformers model"):
        OnnxEmbedder(str(tmp_path))


@pytest.mark.slow
def test_export_happens_once_and_records_what_it_exported(tmp_path, monkeypatch):
    """A second embedder over the same weights finds the cached graph (its build is never called);
    the manifest holds the SHA-256 of the graph and of the weights."""
    import hashlib

    monkeypatch.setenv("REORDER_MODELS", str(tmp_path))
    first = OnnxEmbedder()
    vectors = first.encode(STORM_UNITS)
    graph = first.encoder.graph
    assert graph.is_relative_to(tmp_path)
    assert [p.name for p in tmp_path.joinpath("onnx").iterdir()] == [graph.parent.name]
    manifest = json.loads((graph.parent / "manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(graph.read_bytes()).hexdigest()
    weights = default_model_path() / "model.safetensors"
    assert manifest["sources"][str(weights.resolve())] == hashlib.sha256(weights.read_bytes()).hexdigest()

    def no_export():
        raise AssertionError("exported again")

    assert export_encoder(no_export, graph.parent, []) == graph
    monkeypatch.setattr(reorder.embedding, "_pretrained", lambda directory: no_export)
    np.testing.assert_array_equal(OnnxEmbedder().encode(STORM_UNITS), vectors)
    assert not list(tmp_path.joinpath("onnx").glob(".export-*"))  # no scratch folder left behind


def test_a_new_export_of_the_same_files_replaces_the_old_one(tmp_path):
    """Exports are keyed by the files' sizes and mtimes: after a reinstall the stale graph is removed,
    while an export of other files beside it is kept."""
    import torch

    sources = [tmp_path / "weights.bin", tmp_path / "other.bin"]
    for source in sources:
        source.write_bytes(b"weights")
    cache = tmp_path / "onnx"

    class Doubler(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            class Out:
                last_hidden_state = (input_ids * attention_mask).float()[..., None] * 2

            return Out()

    old = export_encoder(Doubler, cache / f"m-{reorder.encoder.export_key(sources[:1])}", sources[:1])
    other = export_encoder(Doubler, cache / f"n-{reorder.encoder.export_key(sources[1:])}", sources[1:])
    os.utime(sources[0], ns=(1, 1))  # "reinstalled"
    new = export_encoder(Doubler, cache / f"m-{reorder.encoder.export_key(sources[:1])}", sources[:1])
    assert new != old and new.is_file() and other.is_file() and not old.exists()
    states = OnnxEncoder(default_model_path(), new, max_length=8).encode_tokens(["a b"], normalize=False)[1][0]
    assert states.shape == (4, 1) and (states[1:-1, 0] > 0).all()  # [CLS] a b [SEP], doubled ids


@pytest.mark.slow
def test_minilm_embeddings_match_sentence_transformers():
    texts = [*STORM_UNITS, *EDGE_CASES, *SEED_TEXT.read_text(encoding="utf-8").split("\n\n")]
    fast = OnnxEmbedder(DEFAULT_MODEL).encode(texts)
    slow = SentenceTransformerEmbedder(DEFAULT_MODEL).encode(texts)
    assert fast.shape == slow.shape == (len(texts), 384) and fast.dtype == np.float32
    assert _cosines(fast, slow).min() >= 0.99999
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_token_states_come_from_the_same_pass_as_the_embeddings():
    embedder = OnnxEmbedder(DEFAULT_MODEL)
    texts = ["The storm reached the coast.", "word " * 600, ""]
    pooled, states = embedder.encode_tokens(texts)
    np.testing.assert_array_equal(pooled, embedder.encode(texts))
    assert [len(s) for s in states] == [8, embedder.max_length, 2]  # [CLS] 6 tokens [SEP]; truncated; empty
    means = np.stack([s.mean(axis=0) for s in states])
    np.testing.assert_allclose(means / np.linalg.norm(means, axis=1, keepdims=True), pooled, atol=1e-6)


@pytest.mark.slow
@pytest.mark.corpora
def test_mpnet_embeddings_match_on_news_paragraphs():
    """The default model's encoder on real news: every paragraph's cosine with the torch path >= 0.99999."""
    if not mpnet_available():
        pytest.skip("the all-mpnet-base-v2 packages are not installed")
    if not (CORPORA / "news-dev.jsonl").is_file():
        pytest.skip(f"needs {CORPORA / 'news-dev.jsonl'}")
    paragraphs = [u for d in itertools.islice(read_corpus(CORPORA / "news-dev.jsonl"), 12) for u in d.units][:100]
    fast = OnnxEmbedder(MPNET_MODEL).encode(paragraphs)
    slow = SentenceTransformerEmbedder(MPNET_MODEL).encode(paragraphs)
    assert _cosines(fast, slow).min() >= 0.99999


@pytest.mark.slow
def test_the_seed_orders_alike_on_both_backends(real_reorderer, seed_text):
    assert isinstance(real_reorderer.embedder_, OnnxEmbedder)
    torch_path = Reorderer(embedder=SentenceTransformerEmbedder(real_reorderer.embedder_.name))
    assert torch_path.reorder_text(seed_text).permutation == real_reorderer.reorder_text(seed_text).permutation


def _imported_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, env=env, check=True, cwd=REPO).stdout
    return set(out.split()) & {*HEAVY, "onnxruntime"}


def test_the_command_line_answers_help_without_heavy_imports():
    assert _imported_after("from reorder.cli import main") == set()
    assert _imported_after("import reorder") == set()


@pytest.mark.slow
def test_ordering_imports_no_torch():
    """Once the graph is exported (the fixture above has), ordering runs on ONNX Runtime alone."""
    OnnxEmbedder().encode(["warm the export"])
    code = ("from reorder import Reorderer\n"
            "print(Reorderer(model='news-minilm').order(['B came next.', 'A came first.', 'C came last.']))")
    assert _imported_after(code) == {"onnxruntime"}


def test_an_unreadable_graph_is_a_model_error(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"not a graph")
    encoder = OnnxEncoder(default_model_path(), tmp_path / "model.onnx", max_length=16)
    with pytest.raises(ModelError, match="could not load the ONNX encoder .* delete its folder"):
        encoder.encode(["x"])
