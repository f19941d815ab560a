"""The Reorderer: permutations, byte-exact output, roles, result fields, embedding once per run."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from reorder import OrderResult, Reorderer, SimilarityScorer, assessment, objective_from_scores
from reorder.corpus import read_corpus
from reorder.document import detect_roles, split
from reorder.errors import InvalidInputError, ModelError
from reorder.evaluation import shuffle_for

from conftest import CORPORA, CountingEmbedder, HashingEmbedder

ARTICLE = (
    "Share\n"
    "\n"
    "Council approves new budget for the city\n"
    "\n"
    "The city council approved a new budget on Monday after a long debate.\n"
    "\n"
    "Advertisement\n"
    "\n"
    "The budget includes money for schools and roads, officials said.\n"
    "\n"
    "Critics said the plan raised taxes too much for small businesses.\n"
    "\n"
    "The mayor will sign the budget next week, her office said.\n"
)
ROLES = ["furniture", "heading", "content", "furniture", "content", "content", "content"]


def sentences(n: int) -> list[str]:
    topics = ["budget", "school", "river", "election", "storm", "hospital", "railway"]
    return [f"Paragraph {i} reports on the {topics[i % len(topics)]} and item {i * 7 % 11}." for i in range(n)]


def is_permutation(order, n) -> bool:
    return sorted(order) == list(range(n)) and all(isinstance(i, int) for i in order)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 30])
def test_order_is_a_permutation(fast_reorderer, n):
    order = fast_reorderer(time_limit=0.3).order(sentences(n))
    assert is_permutation(order, n)


def test_order_is_deterministic(fast_reorderer):
    units = sentences(9)
    first = fast_reorderer().order(units)
    assert fast_reorderer().order(units) == first
    reorderer = fast_reorderer()
    assert reorderer.order(units) == reorderer.order(units) == first


def test_order_restores_a_planted_chain(stand_in):
    """The search maximises the objective: with a planted chain of follows scores it finds it."""
    from reorder.coherence import PairwiseScores
    class Chain(SimilarityScorer):
        def scores(self, units, embeddings, *, skip=()):
            n = len(units)
            gold = [int(u.split()[1]) for u in units]  # "unit K ..." holds its gold position
            follows = np.full((n, n), 0.01)
            for i in range(n):
                for j in range(n):
                    if gold[j] == gold[i] + 1:
                        follows[i, j] = 0.99
            np.fill_diagonal(follows, 0.0)
            return PairwiseScores(follows, np.full((n, n), 0.5), np.full((n, 3), 1 / 3))

    units = [f"unit {k} text" for k in range(7)]
    shuffled = units[:]
    random.Random(3).shuffle(shuffled)
    order = Reorderer(model=Chain(), embedder=stand_in).order(shuffled)
    assert [shuffled[i] for i in order] == units


def test_reorder_text_keeps_every_unit_byte_for_byte(fast_reorderer):
    text = "  First  one,\nwrapped.\r\n\r\nSecond\t\tunit é ü 😀\n\n\n\nThird.  \n\nFirst  one,\nwrapped.\n"
    result = fast_reorderer(roles=False).reorder_text(text)
    original = split(text)
    assert Counter(split(result.text).units) == Counter(original.units)
    assert result.text == original.render(result.permutation)
    assert len(result.text) == len(text)
    assert sorted(result.text) == sorted(text)
    assert result.text.startswith("  ") and result.text.endswith("\n")


def test_roles_furniture_keeps_its_slots_and_heading_comes_first(fast_reorderer):
    result = fast_reorderer().reorder_text(ARTICLE)
    assert result.roles == ROLES
    assert is_permutation(result.permutation, len(ROLES))
    assert result.permutation[0] == 0 and result.permutation[3] == 3  # furniture slots
    assert result.permutation[1] == 1  # the heading leads the non-furniture units
    assert sorted(result.content_order) == [2, 4, 5, 6]
    assert [i for i in result.permutation if ROLES[i] == "content"] == result.content_order
    assert Counter(split(result.text).units) == Counter(split(ARTICLE).units)


def test_furniture_drop_removes_it(fast_reorderer):
    result = fast_reorderer(furniture="drop").reorder_text(ARTICLE)
    assert sorted(result.permutation) == [1, 2, 4, 5, 6]
    assert result.permutation[0] == 1
    units = split(result.text).units
    assert "Share" not in units and "Advertisement" not in units
    assert sorted(units) == sorted(u for u, r in zip(split(ARTICLE).units, ROLES) if r != "furniture")
    assert result.text.endswith(".\n") and result.text.startswith("Council approves")


def test_furniture_end_moves_it_last_in_order(fast_reorderer):
    result = fast_reorderer(furniture="end").reorder_text(ARTICLE)
    assert result.permutation[0] == 1
    assert result.permutation[-2:] == [0, 3]
    assert is_permutation(result.permutation, len(ROLES))


def test_roles_false_treats_every_unit_as_content(fast_reorderer):
    result = fast_reorderer(roles=False).reorder_text(ARTICLE)
    assert result.roles == ["content"] * len(ROLES)
    assert sorted(result.content_order) == list(range(len(ROLES)))
    assert result.permutation == result.content_order


def test_result_fields(fast_reorderer, tiny_model_dir, stand_in):
    result = fast_reorderer(seed=7, time_limit=0.5).reorder_text(ARTICLE)
    assert isinstance(result, OrderResult)
    assert result.optimal is True  # four content units: exact DP
    assert result.method == "dp"
    assert result.bound is None or result.bound == pytest.approx(result.value)
    assert np.isfinite(result.value)
    assert result.units == split(ARTICLE).units
    sig = result.signature
    assert sig.startswith("reorder:")
    for part in ("embedder:test-hashing-384", "search:auto-0.5s", "seed:7", "weights:f"):
        assert part in sig
    # the signature is reproducible: no memory addresses, same for a model loaded from disk
    assert " at 0x" not in sig and "model:CoherenceModel(unsaved)" in sig
    loaded = Reorderer(model=tiny_model_dir, embedder=stand_in, seed=7, time_limit=0.5)
    assert "model:tiny" in loaded.signature()


def test_value_is_the_objectives_value_of_the_content_order(fast_reorderer):
    reorderer = fast_reorderer(roles=False)
    units = sentences(6)
    text = "\n\n".join(units)
    result = reorderer.reorder_text(text)
    assert result.value == pytest.approx(reorderer.score(units, result.content_order))
    # and no order scores higher (exact search)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert reorderer.score(units, list(rng.permutation(6))) <= result.value + 1e-9


def test_each_unit_is_embedded_once_per_run(tiny_model, stand_in):
    counting = CountingEmbedder(stand_in)
    text = ARTICLE + "\nThe budget includes money for schools and roads, officials said.\n"
    result = Reorderer(model=tiny_model, embedder=counting).reorder_text(text)
    content = [result.units[i] for i in result.content_order]
    assert len(content) == 5  # one content paragraph appears twice
    assert sorted(counting.texts) == sorted(set(content))
    assert len(counting.calls) == 1


def test_extras_reuse_the_runs_embeddings_and_scores(tiny_model, stand_in, monkeypatch):
    """alternatives, confidence and explanations come from the order's own embeddings and scores."""
    counting = CountingEmbedder(stand_in)
    scored: list[int] = []
    original = type(tiny_model).scores

    def counted(self, units, embeddings, **kwargs):
        scored.append(len(units))
        return original(self, units, embeddings, **kwargs)

    monkeypatch.setattr(type(tiny_model), "scores", counted)
    reorderer = Reorderer(model=tiny_model, embedder=counting)
    result = reorderer.reorder_text(ARTICLE, alternatives=3, confidence=True, explain=True)
    content = [result.units[i] for i in sorted(result.content_order)]
    assert len(counting.calls) == 1 and sorted(counting.texts) == sorted(set(content))
    assert scored == [len(content)]
    # the extras are those the separate library calls give, in the text's unit indices
    local = sorted(result.content_order)
    alternatives = reorderer.alternatives(content, 3)
    assert [a.content_order for a in result.alternatives] == [[local[u] for u in s.order] for s in alternatives]
    assert [a.value for a in result.alternatives] == pytest.approx([s.value for s in alternatives])
    assert result.alternatives[0].content_order == result.content_order
    chosen = [local.index(i) for i in result.content_order]
    assert list(result.confidence) == pytest.approx(reorderer.confidence(content, chosen))
    explained = reorderer.explain(content, chosen)
    pairs = [(local[e.source], local[e.target]) for e in explained]
    assert [(e.source, e.target) for e in result.explanations] == pairs
    assert [e.reasons for e in result.explanations] == [e.reasons for e in explained]
    payload = result.to_dict()
    assert [c["index"] for c in payload["confidence"]] == result.content_order
    assert len(payload["explanations"]) == len(content) - 1 and len(payload["alternatives"]) == 3


def test_a_loaded_model_object_keeps_its_tuned_weights(tiny_model, stand_in, tmp_path):
    from reorder import CoherenceModel

    tuned = {"follows": 0.0, "precedes": 0.5, "position": 2.0}
    directory = tiny_model.save(tmp_path / "tuned", extra={"objective": tuned, "name": "tuned"})
    loaded, _ = CoherenceModel.load(directory)
    by_object = Reorderer(model=loaded, embedder=stand_in)
    by_path = Reorderer(model=directory, embedder=stand_in)
    assert by_object.weights_ == by_path.weights_ == tuned
    assert by_object.signature() == by_path.signature() and "model:tuned" in by_object.signature()
    assert Reorderer(model=tiny_model, embedder=stand_in).weights_ == {"follows": 1.0, "precedes": 1.0, "position": 1.0}


def test_embed_gives_duplicates_the_same_row(fast_reorderer):
    units = ["alpha beta", "gamma", "alpha beta"]
    emb = fast_reorderer().embed(units)
    assert emb.shape == (3, 384)
    assert np.array_equal(emb[0], emb[2])


def test_similarity_scorer_works_without_a_model(stand_in):
    reorderer = Reorderer(model="similarity", embedder=stand_in)
    assert is_permutation(reorderer.order(sentences(6)), 6)
    assert "model:similarity" in reorderer.signature()


def test_objective_weights_scale_the_terms(fast_reorderer):
    reorderer = fast_reorderer()
    scores = reorderer.pairwise_scores(sentences(4))
    one = objective_from_scores(scores, {"follows": 1.0, "precedes": 1.0, "position": 1.0})
    two = objective_from_scores(scores, {"follows": 2.0, "precedes": 0.0, "position": 1.0})
    assert np.allclose(two.follows, 2 * one.follows)
    assert np.allclose(two.precedes, 0.0)
    assert np.allclose(two.first, one.first)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "best"}, "method must be one of"),
        ({"unit": "word"}, "unit must be one of"),
        ({"furniture": "hide"}, "furniture must be one of"),
        ({"time_limit": 0}, "time_limit must be positive and finite"),
        ({"weights": {"follows": -1.0}}, "weights must be finite"),
        ({"weights": {"bogus": 1.0}}, "weights must be finite"),
    ],
)
def test_bad_options_are_refused_with_the_parameter_named(fast_reorderer, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        fast_reorderer(**kwargs).reorder_text(ARTICLE)


@pytest.mark.parametrize("units", ["one string", [1, 2], ["ok", None]])
def test_units_must_be_a_list_of_strings(fast_reorderer, units):
    with pytest.raises(InvalidInputError):
        fast_reorderer().order(units)


def test_a_model_trained_on_another_embedder_is_refused(tiny_model):
    reorderer = Reorderer(model=tiny_model, embedder=HashingEmbedder(name="other-embedder"))
    with pytest.raises(ModelError) as info:
        reorderer.order(sentences(3))
    message = str(info.value)
    assert "test-hashing-384" in message and "other-embedder" in message
    assert "--embedder" in message  # says what to do


# --- the real model ------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_reads_the_seed_as_a_news_story(real_reorderer, seed_text):
    """Without roles, the model itself opens with the headline or the announcement, and no paragraph
    that refers back to the announcement comes before it (the learned-coherence issue's reading test)."""
    units = split(seed_text).units
    roles = detect_roles(units)
    assert is_permutation(real_reorderer.order(units), len(units))
    body = [u for u, r in zip(units, roles) if r != "furniture"]
    shuffled = body[:]
    random.Random(1).shuffle(shuffled)
    order = real_reorderer.order(shuffled)
    assert is_permutation(order, len(body))
    restored = [shuffled[k] for k in order]
    assert restored[0].startswith(("Moscow says", "Putin announced the withdrawal"))
    lead = next(k for k, u in enumerate(restored) if u.startswith("Putin announced the withdrawal"))
    refers_back = ("Putin’s announcement", "of the decision", "The announcement of Russia’s withdrawal",
                   "Russia’s move")
    for k, unit in enumerate(restored):
        if any(phrase in unit for phrase in refers_back):
            assert k > lead, f"{unit[:60]!r} placed before the announcement it refers to"


@pytest.mark.slow
def test_real_model_reorder_text_on_the_seed(real_reorderer, seed_text):
    result = real_reorderer.reorder_text(seed_text)
    units = split(seed_text).units
    assert Counter(split(result.text).units) == Counter(units)
    first, lead = [units[i] for i in result.permutation if result.roles[i] != "furniture"][:2]
    assert first.startswith("Moscow says")  # the headline
    assert lead.startswith("Putin announced the withdrawal")  # then the announcement
    assert "model:news|embedder:all-mpnet-base-v2" in result.signature


@pytest.mark.slow
def test_real_model_calls_the_seed_scrambled_and_its_restored_order_not(real_reorderer, seed_text):
    units = split(seed_text).units
    content = [u for u, role in zip(units, detect_roles(units)) if role == "content"]
    given = real_reorderer.assess(content)
    assert given.scrambled and given.order_z < given.threshold
    assert given.threshold == pytest.approx(assessment.scrambled_threshold(given.best_z))
    restored = real_reorderer.assess(content, given.best_order)
    assert not restored.scrambled and restored.order_z == pytest.approx(given.best_z)


@pytest.mark.slow
@pytest.mark.corpora
def test_real_model_tells_news_dev_originals_from_their_shuffles(real_reorderer):
    """The first 20 news-dev documents of 6+ content paragraphs, as the calibration reads them: the
    rule calls few originals scrambled and most shuffles (calibration: 4 and 19 of these 20)."""
    documents = []
    for document in read_corpus(CORPORA / "news-dev.jsonl"):
        content = [u for u, role in zip(document.units, detect_roles(document.units)) if role == "content"]
        if len(content) >= 6:
            documents.append(content)
        if len(documents) == 20:
            break
    originals = shuffles = 0
    for index, content in enumerate(documents):
        perm = shuffle_for(0, index, len(content))
        originals += real_reorderer.assess(content).scrambled
        shuffles += real_reorderer.assess([content[k] for k in perm]).scrambled
    assert originals <= 7 and shuffles >= 16, (originals, shuffles)


def test_the_signature_names_the_model_loaded_even_with_explicit_weights(tiny_model_dir, stand_in):
    """With explicit weights the scorer was not loaded when the signature was made, so it named the
    path the model was given by instead of the model's own name."""
    signature = Reorderer(model=str(tiny_model_dir), embedder=stand_in, weights={"follows": 1.0}).signature()
    assert "|model:tiny|" in signature and "weights:f1+" in signature


def test_changing_a_parameter_after_use_rebuilds_what_it_loaded(tiny_model_dir, stand_in):
    """Loaded state follows the parameters (scikit-learn's set_params contract): a model or embedder
    set after the first use is the one used, not silently ignored."""
    from reorder import CoherenceModel, HashingEmbedder

    reorderer = Reorderer(model=str(tiny_model_dir), embedder=stand_in)
    assert isinstance(reorderer.scorer, CoherenceModel) and reorderer.embedder_ is stand_in
    reorderer.model = "similarity"
    assert isinstance(reorderer.scorer, SimilarityScorer) and "|model:similarity|" in reorderer.signature()
    other = HashingEmbedder(dimension=64, name="other")
    reorderer.embedder = other
    assert reorderer.embedder_ is other
    reorderer.model = str(tiny_model_dir)  # equal to the name it was loaded from: loaded again, still the same
    assert isinstance(reorderer.scorer, CoherenceModel)


def test_an_unfitted_model_with_an_embedder_reaches_fit(stand_in):
    """An unfitted CoherenceModel has no embedder_name_ yet: the Reorderer must not ask it for one
    before fit (its embedder is simply the one given)."""
    import warnings

    from reorder import CoherenceModel

    from conftest import training_documents

    reorderer = Reorderer(model=CoherenceModel(hidden=8, max_iter=2, max_pairs_per_doc=5), embedder=stand_in)
    assert reorderer.embedder_ is stand_in
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge, on purpose
        reorderer.fit(training_documents(12))
    assert reorderer.scorer.embedder_name_ == stand_in.name
