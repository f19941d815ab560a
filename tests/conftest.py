"""Shared fixtures: a deterministic stand-in embedder, a tiny fitted coherence model, the real model.

Fast tests use :class:`HashingEmbedder` (no torch) and ``tiny_model`` (fitted once per session on the
short stories in ``tests/data/stories.jsonl``, the same on every machine). Tests that read
``../shared/corpora`` are marked ``corpora`` and skip, saying so, where it is absent. Tests marked
``slow`` share one real :class:`~reorder.pipeline.Reorderer`
(the shipped news model and the packaged all-mpnet-base-v2 it was trained with), loaded once per session.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from reorder import CoherenceModel, HashingEmbedder
from reorder.embedding import embed_unique

REPO = Path(__file__).resolve().parents[1]
SEED_TEXT = REPO / "seeds" / "russia-syria-withdrawal-2016.txt"
CORPORA = REPO.parent / "shared" / "corpora"
STORIES = REPO / "tests" / "data" / "stories.jsonl"



BUDGET_ARTICLE = (
    "Budget approved after long debate\n"
    "\n"
    "The city council approved a new budget on Monday after a long debate.\n"
    "\n"
    "Share\n"
    "\n"
    "The budget includes money for schools and roads, officials said.\n"
    "\n"
    "Critics said the plan raised taxes too much for small businesses.\n"
    "\n"
    "The mayor will sign the budget next week, her office said.\n"
)
"""A short article with a heading and one furniture unit, shared by the CLI and assessment tests."""


STORM_UNITS = [
    "The storm reached the coast on Tuesday night.",
    "Thousands of homes lost power as the winds rose.",
    "By Wednesday, crews had restored electricity to most of them.",
    "Officials said the damage would cost millions to repair.",
    "Schools will reopen on Monday.",
]
"""Five paragraphs of a short story in their natural order, shared by the model tests."""


class CountingEmbedder:
    """Wraps an embedder and records every text it is asked to encode."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[list[str]] = []

    @property
    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode(texts)


def training_documents(count: int | None = None) -> list[list[str]]:
    """Short ordered news stories written for the tests (``tests/data/stories.jsonl``): the same
    documents on every machine, whatever corpora lie beside the checkout."""
    with STORIES.open(encoding="utf-8") as handle:
        documents = [json.loads(line)["paragraphs"] for line in handle if line.strip()]
    return documents if count is None else documents[:count]


def pytest_collection_modifyitems(config, items) -> None:
    """Skip the tests marked ``corpora`` when ../shared/corpora is not beside the checkout."""
    if CORPORA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs the shared corpora, not found at {CORPORA} (CI has them)")
    for item in items:
        if "corpora" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _test_cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _private_embedding_cache(_test_cache_dir, monkeypatch):
    """Commands that cache embeddings by default write to a temporary file, never the user's cache."""
    monkeypatch.setenv("REORDER_CACHE", str(_test_cache_dir / "embeddings.sqlite"))


@pytest.fixture(scope="session")
def stand_in() -> HashingEmbedder:
    """The deterministic stand-in embedder (name ``test-hashing-384``)."""
    return HashingEmbedder(name="test-hashing-384")


@pytest.fixture(scope="session")
def tiny_model(stand_in) -> CoherenceModel:
    """A CoherenceModel fitted with the stand-in embedder on the tests' 48 stories (hidden=16)."""
    documents = training_documents()
    pairs = [(units, embed_unique(stand_in, units)) for units in documents]
    model = CoherenceModel(hidden=16, max_iter=5, max_pairs_per_doc=20, random_state=0)
    with warnings.catch_warnings():  # five epochs do not converge, on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Got `batch_size`")  # the corpus is small
        return model.fit(pairs, embedder_name=stand_in.name, training={"corpora": ["tests"]})


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model, tmp_path_factory) -> Path:
    """The tiny model saved as a model directory, for ``--model DIR`` and load tests."""
    return tiny_model.save(tmp_path_factory.mktemp("models") / "tiny", extra={"name": "tiny"})


@pytest.fixture
def fast_reorderer(tiny_model, stand_in):
    """A factory of Reorderers over the tiny model and the stand-in embedder."""
    from reorder import Reorderer

    def make(**kwargs) -> Reorderer:
        kwargs.setdefault("model", tiny_model)
        kwargs.setdefault("embedder", stand_in)
        return Reorderer(**kwargs)

    return make


@pytest.fixture
def stand_in_by_name(monkeypatch, stand_in):
    """Make the pipeline's default embedder the stand-in, so CLI runs never load torch.

    ``Reorderer`` builds its embedder with ``load_embedder`` for ``embedder=None`` or a name; this
    seam replaces that function in :mod:`reorder.pipeline` and records the names asked for.
    """
    import reorder.pipeline

    asked: list[str | None] = []

    def factory(model=None, **kwargs):
        asked.append(model)
        return stand_in

    monkeypatch.setattr(reorder.pipeline, "load_embedder", factory)
    return asked


@pytest.fixture(scope="session")
def real_reorderer():
    """The shipped defaults (news model, packaged mpnet), embedder loaded once per session."""
    from reorder import Reorderer

    reorderer = Reorderer()
    reorderer.embedder_.encode(["warm up"])
    return reorderer


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_TEXT.read_text(encoding="utf-8")


def check_clean(result) -> None:
    """Fail on an exception the CLI did not turn into a message (CliRunner would swallow it)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(f"the CLI raised instead of failing cleanly:\n{trace}")
    assert "Traceback" not in result.output


@pytest.fixture
def cli(stand_in_by_name, tiny_model_dir):
    """Run ``reorder ARGS`` in-process over the tiny model and the stand-in embedder.

    ``order``, ``score``, ``evaluate`` and ``batch`` get ``--model <tiny model>`` unless they name one. Returns click's
    Result (``stdout``, ``stderr``, ``stdout_bytes``, ``exit_code``), after checking that no
    exception escaped and no traceback was printed. The CLI reconfigures logging; it is restored.
    """
    import logging

    from click.testing import CliRunner

    from reorder.cli import main

    root, ours = logging.getLogger(), logging.getLogger("reorder")
    handlers, root_level, our_level = root.handlers[:], root.level, ours.level

    def run(*args, input=None):
        args = [str(a) for a in args]
        if args and args[0] in ("order", "score", "evaluate", "batch") and "--model" not in args:
            args += ["--model", str(tiny_model_dir)]
        result = CliRunner().invoke(main, args, input=input)
        check_clean(result)
        return result

    yield run
    root.handlers[:] = handlers
    root.setLevel(root_level)
    ours.setLevel(our_level)
