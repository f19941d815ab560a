"""Coherence models: the scores' invariants, save/load round trips, and refusing bad model files."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from reorder.coherence import CoherenceModel, _pair_matrix, logit
from reorder.errors import InvalidInputError, ModelError, NotFittedError
from reorder.features import FEATURE_VERSION, lexicon
from reorder.pipeline import Reorderer

from conftest import STORM_UNITS as UNITS  # noqa: N811
from conftest import HashingEmbedder


@pytest.fixture
def model_dir(tiny_model_dir, tmp_path):
    """A private copy of the saved tiny model, free to corrupt."""
    return shutil.copytree(tiny_model_dir, tmp_path / "model")


def edit_meta(directory, **changes):
    path = directory / "model.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(changes)
    path.write_text(json.dumps(meta), encoding="utf-8")


def edit_arrays(directory, change):
    path = directory / "weights.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez(path, **arrays)


def test_scores_are_probabilities_with_the_documented_invariants(tiny_model, stand_in):
    scores = tiny_model.scores(UNITS, stand_in.encode(UNITS))
    n = len(UNITS)
    assert scores.follows.shape == scores.precedes.shape == (n, n)
    assert scores.position.shape == (n, 3)
    assert np.all(np.diag(scores.follows) == 0)
    assert np.all((scores.follows >= 0) & (scores.follows <= 1))
    off = ~np.eye(n, dtype=bool)
    assert np.allclose((scores.precedes + scores.precedes.T)[off], 1.0)
    assert np.allclose(np.diag(scores.precedes), 0.5)
    assert np.allclose(scores.position.sum(axis=1), 1.0)


@pytest.mark.parametrize("embeddings", ["random", "bag-of-words"])
def test_scores_follow_the_units_when_they_are_permuted(tiny_model, stand_in, embeddings):
    """Nothing depends on the given order: scores of a permuted document are the permuted scores.

    Bag-of-words vectors of short sentences often have exactly equal cosines: the rank features
    must not break such ties by the units' input order.
    """
    perm = [3, 0, 4, 1, 2]
    if embeddings == "random":
        emb = np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    else:
        emb = stand_in.encode(UNITS)
        cosine = emb @ emb.T
        assert len(np.unique(np.round(cosine[~np.eye(5, dtype=bool)], 6))) < 20  # there are ties
    a = tiny_model.scores(UNITS, emb)
    b = tiny_model.scores([UNITS[i] for i in perm], emb[perm])
    assert np.allclose(b.follows, a.follows[np.ix_(perm, perm)], atol=1e-6)
    assert np.allclose(b.precedes, a.precedes[np.ix_(perm, perm)], atol=1e-6)
    assert np.allclose(b.position, a.position[perm], atol=1e-6)


def test_scores_of_no_units(tiny_model):
    scores = tiny_model.scores([], np.zeros((0, 384), dtype=np.float32))
    assert scores.follows.shape == (0, 0) and scores.position.shape == (0, 3)


def test_embeddings_of_the_wrong_shape_are_refused(tiny_model):
    with pytest.raises(InvalidInputError, match=r"shape \(2, 384\)"):
        tiny_model.scores(UNITS[:2], np.zeros((2, 10), dtype=np.float32))


def test_an_unfitted_model_says_so():
    with pytest.raises(NotFittedError, match="not fitted"):
        CoherenceModel().scores(UNITS, np.zeros((5, 384)))
    with pytest.raises(NotFittedError):
        CoherenceModel().save("unused")


def test_fit_refuses_bad_parameters_and_empty_corpora(stand_in):
    with pytest.raises(InvalidInputError, match="hidden"):
        CoherenceModel(hidden=0).fit([(UNITS, stand_in.encode(UNITS))], embedder_name="x")
    with pytest.raises(InvalidInputError, match="two or more units"):
        CoherenceModel().fit([(UNITS[:1], stand_in.encode(UNITS[:1]))], embedder_name="x")


def test_save_load_round_trip_gives_identical_scores(tiny_model, tiny_model_dir, stand_in):
    loaded, meta = CoherenceModel.load(tiny_model_dir)
    emb = stand_in.encode(UNITS)
    a, b = tiny_model.scores(UNITS, emb), loaded.scores(UNITS, emb)
    assert np.array_equal(a.follows, b.follows)
    assert np.array_equal(a.precedes, b.precedes)
    assert np.array_equal(a.position, b.position)
    assert loaded.embedder_name_ == stand_in.name and loaded.dimension_ == 384
    assert meta["name"] == "tiny" and meta["feature_version"] == FEATURE_VERSION
    assert {p.name for p in tiny_model_dir.iterdir()} == {"model.json", "weights.npz"}


@pytest.fixture(scope="module")
def ensemble(stand_in):
    from conftest import training_documents

    documents = training_documents(40)
    pairs = [(units, stand_in.encode(units)) for units in documents]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CoherenceModel(hidden=16, max_iter=4, max_pairs_per_doc=20, n_members=3,
                              random_state=0).fit(pairs, embedder_name=stand_in.name)


def test_an_ensemble_averages_its_members_in_log_and_logit_space(ensemble, stand_in):
    emb = stand_in.encode(UNITS)
    scores = ensemble.scores(UNITS, emb)
    singles = []
    for member in ensemble.members_:
        single = CoherenceModel(n_members=1)
        single.members_, single.dimension_ = [member], ensemble.dimension_
        singles.append(single.scores(UNITS, emb))
    assert not np.allclose(singles[0].precedes, singles[1].precedes)  # members differ
    off = ~np.eye(len(UNITS), dtype=bool)
    ucues, pcues = ensemble._cues(UNITS, emb, lexicon(UNITS))
    raws = [_pair_matrix(member.precedes, emb, ucues, pcues) for member in ensemble.members_]
    raw = 1 / (1 + np.exp(-np.mean([logit(r) for r in raws], axis=0)))
    assert np.allclose(scores.precedes[off], ((raw + 1 - raw.T) / 2)[off])
    expected = np.exp(np.mean([np.log(s.follows[off]) for s in singles], axis=0))
    assert np.allclose(scores.follows[off], expected)
    assert np.allclose(scores.position.sum(axis=1), 1.0)


def test_an_ensemble_round_trips_and_a_missing_member_is_refused(ensemble, stand_in, tmp_path):
    ensemble.save(tmp_path / "ensemble")
    loaded, meta = CoherenceModel.load(tmp_path / "ensemble")
    assert meta["params"]["n_members"] == 3 and len(loaded.members_) == 3
    emb = stand_in.encode(UNITS)
    assert np.array_equal(loaded.scores(UNITS, emb).precedes, ensemble.scores(UNITS, emb).precedes)
    edit_arrays(tmp_path / "ensemble", lambda arrays: arrays.pop("member2.precedes.w1q"))
    with pytest.raises(ModelError, match="missing array 'member2.precedes.w1q'"):
        CoherenceModel.load(tmp_path / "ensemble")


def test_a_reorderer_over_a_saved_model_orders_like_the_model_itself(tiny_model, tiny_model_dir, stand_in):
    in_memory = Reorderer(model=tiny_model, embedder=stand_in)
    from_disk = Reorderer(model=str(tiny_model_dir), embedder=stand_in)
    assert from_disk.order(UNITS) == in_memory.order(UNITS)
    assert from_disk.score(UNITS) == pytest.approx(in_memory.score(UNITS))


def test_reorderer_save_writes_a_loadable_model_with_its_weights(tiny_model, stand_in, tmp_path):
    weights = {"follows": 2.0, "precedes": 1.0, "position": 0.5}
    Reorderer(model=tiny_model, embedder=stand_in, weights=weights).save(tmp_path / "saved")
    reloaded = Reorderer(model=tmp_path / "saved", embedder=stand_in)
    assert reloaded.weights_ == weights
    assert "model:saved" in reloaded.signature()


def test_an_object_array_is_refused_and_never_unpickled(model_dir, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    def plant(arrays):
        arrays["follows.w1q"] = np.array([Payload()], dtype=object)

    edit_arrays(model_dir, plant)
    with pytest.raises(ModelError, match="weights"):
        CoherenceModel.load(model_dir)
    assert not marker.exists()


@pytest.mark.parametrize("missing", ["model.json", "weights.npz"])
def test_a_missing_file_is_refused(model_dir, missing):
    (model_dir / missing).unlink()
    with pytest.raises(ModelError, match="not a reorder model directory"):
        CoherenceModel.load(model_dir)


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(ModelError, match="needs model.json and weights.npz"):
        CoherenceModel.load(tmp_path / "nowhere")


@pytest.mark.parametrize("content", ['{"format": 1,', "", "\xff\xfe garbage"])
def test_corrupted_json_is_refused(model_dir, content):
    (model_dir / "model.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(ModelError, match="unreadable model description"):
        CoherenceModel.load(model_dir)


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', '{"format": 99}'])
def test_json_of_another_format_is_refused(model_dir, content):
    (model_dir / "model.json").write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match="model format .* is not 1; retrain"):
        CoherenceModel.load(model_dir)


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_weights_are_refused(model_dir, keep):
    path = model_dir / "weights.npz"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ModelError, match="corrupted or truncated weights"):
        CoherenceModel.load(model_dir)


def test_another_feature_version_is_refused(model_dir):
    edit_meta(model_dir, feature_version=FEATURE_VERSION + 1)
    with pytest.raises(ModelError, match="feature version .*retrain it with `reorder train`"):
        CoherenceModel.load(model_dir)


def test_shapes_that_do_not_match_the_description_are_refused(model_dir):
    edit_meta(model_dir, dimension=100)
    with pytest.raises(ModelError, match="shapes of the follows model do not match"):
        CoherenceModel.load(model_dir)


def test_a_weight_matrix_of_the_wrong_shape_is_refused(model_dir):
    def shrink(arrays):
        arrays["precedes.w1q"] = arrays["precedes.w1q"][:-1]

    edit_arrays(model_dir, shrink)
    with pytest.raises(ModelError, match="shapes of the precedes model"):
        CoherenceModel.load(model_dir)


@pytest.mark.parametrize(
    "name, shape",
    [("follows.b1", (3,)), ("follows.w2", (16, 2)), ("position.b2", (1,)), ("precedes.scale", (4,)),
     ("follows.w1q", (10, 16))],
)
def test_every_array_shape_is_checked(model_dir, name, shape):
    dtype = np.int8 if name.endswith(".w1q") else np.float32
    edit_arrays(model_dir, lambda arrays: arrays.__setitem__(name, np.zeros(shape, dtype=dtype)))
    with pytest.raises(ModelError, match="do not match its description"):
        CoherenceModel.load(model_dir)


def test_a_missing_array_is_refused(model_dir):
    edit_arrays(model_dir, lambda arrays: arrays.pop("position.b2"))
    with pytest.raises(ModelError, match="missing array 'position.b2'"):
        CoherenceModel.load(model_dir)


@pytest.mark.parametrize(
    "changes",
    [{"dimension": "three hundred"}, {"params": {"depth": 3}}, {"params": [16]}, {"dimension": None}],
)
def test_wrongly_typed_descriptions_are_refused(model_dir, changes):
    edit_meta(model_dir, **changes)
    with pytest.raises(ModelError, match="malformed model .*retrain"):
        CoherenceModel.load(model_dir)


@pytest.mark.parametrize("change", [
    lambda arrays: arrays.__setitem__("follows.w1q", arrays["follows.w1q"].astype(np.float32)),
    lambda arrays: arrays.__setitem__("follows.w1s", arrays["follows.w1s"][:-1]),
])
def test_int8_weights_without_their_scales_are_refused(model_dir, change):
    edit_arrays(model_dir, change)
    with pytest.raises(ModelError, match="malformed model .*int8 with one scale per column"):
        CoherenceModel.load(model_dir)


def test_a_model_saved_with_float16_weights_still_loads(tiny_model, model_dir, stand_in):
    """Models saved before int8 storage hold a float16 ``w1``."""
    def to_float16(arrays):
        for key in [k for k in arrays if k.endswith(".w1q")]:
            prefix = key[: -len(".w1q")]
            arrays[f"{prefix}.w1"] = (arrays.pop(key) * arrays.pop(f"{prefix}.w1s")).astype(np.float16)

    edit_arrays(model_dir, to_float16)
    loaded, _ = CoherenceModel.load(model_dir)
    emb = stand_in.encode(UNITS)
    assert np.allclose(loaded.scores(UNITS, emb).precedes, tiny_model.scores(UNITS, emb).precedes, atol=1e-3)


def test_a_single_member_model_saved_before_ensembles_still_loads(model_dir, stand_in):
    """Models written before ensembles have no ``n_members`` in their params and one member's arrays."""
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    single, _ = CoherenceModel.load(model_dir)
    meta["params"].pop("n_members", None)
    edit_meta(model_dir, params=meta["params"])

    def keep_first_member(arrays):
        for key in [k for k in arrays if k.startswith("member")]:
            del arrays[key]

    edit_arrays(model_dir, keep_first_member)
    loaded, _ = CoherenceModel.load(model_dir)
    assert len(single.members_) > 1 and len(loaded.members_) == 1
    single.members_ = single.members_[:1]
    emb = stand_in.encode(UNITS)
    assert np.allclose(loaded.scores(UNITS, emb).precedes, single.scores(UNITS, emb).precedes)


@pytest.mark.parametrize("name", ["news", "news-minilm"])
def test_every_shipped_model_loads_with_the_members_it_describes(name):
    from reorder.pipeline import MODELS_DIR
    loaded, meta = CoherenceModel.load(MODELS_DIR / name)
    assert len(loaded.members_) == meta["params"].get("n_members", 1) >= 1
    assert loaded.dimension_ == meta["dimension"]


def test_non_numeric_arrays_are_refused(model_dir):
    def spoil(arrays):
        arrays["follows.b1"] = np.array(["not", "numbers"])

    edit_arrays(model_dir, spoil)
    with pytest.raises(ModelError, match="malformed model"):
        CoherenceModel.load(model_dir)


def test_a_model_trained_with_another_embedder_is_refused_with_advice(tiny_model_dir):
    reorderer = Reorderer(model=tiny_model_dir, embedder=HashingEmbedder(name="all-MiniLM-L6-v2"))
    with pytest.raises(ModelError) as info:
        reorderer.order(UNITS)
    message = str(info.value)
    assert "'test-hashing-384'" in message and "'all-MiniLM-L6-v2'" in message
    assert "pass the matching embedder or retrain" in message


def test_ranks_average_ties_exactly_as_scipy_does():
    """features' ranks are scipy.stats.rankdata's "average" ranks (0-based) without importing scipy.stats,
    which took a second of every run: ties, one value, several axes."""
    from scipy.stats import rankdata

    from reorder.features import _ranks

    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.integers(0, 4, size=tuple(rng.integers(1, 7, size=rng.integers(1, 3)))) * rng.choice([1.0, -0.5])
        for axis in range(values.ndim):
            np.testing.assert_array_equal(_ranks(values, axis), rankdata(values, method="average", axis=axis) - 1.0)
    assert _ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]


def test_an_ablated_model_reloads_ablated_and_scores_as_saved(stand_in, tmp_path):
    """``ablate`` is saved in model.json; loading must restore it, or the reloaded model would score
    with the very cues it was trained without."""
    from conftest import training_documents

    documents = training_documents()
    model = CoherenceModel(hidden=8, max_iter=3, max_pairs_per_doc=10, random_state=0, ablate=("names", "openers"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three epochs do not converge, on purpose
        model.fit([(units, stand_in.encode(units)) for units in documents], embedder_name=stand_in.name)
    loaded, meta = CoherenceModel.load(model.save(tmp_path / "ablated"))
    assert meta["ablate"] == ["names", "openers"] and tuple(loaded.ablate) == ("names", "openers")
    units = ["Smith said the plan would work.", "John Smith, the mayor, unveiled a plan.", "It did not."]
    np.testing.assert_array_equal(loaded.scores(units, stand_in.encode(units)).precedes,
                                  model.scores(units, stand_in.encode(units)).precedes)


def test_every_scorer_speaks_the_scorer_protocol(tiny_model):
    """The Reorderer, evaluation and batch partitions call scores, read_ahead, embedder_name_ and meta_ on
    any scorer, without probing for them: the coherence model and similarity have them all."""
    from reorder import Scorer, SimilarityScorer

    for scorer in (tiny_model, SimilarityScorer()):
        assert isinstance(scorer, Scorer)
        assert scorer.read_ahead(["A unit.", "Another."]) is None and isinstance(scorer.meta_, dict)
    assert tiny_model.meta_ == {} and tiny_model.embedder_name_ == "test-hashing-384"
