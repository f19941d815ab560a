"""Assessing orders: vectorised values, p-values on planted objectives, transitions, confidence,
explanations, constraints through the Reorderer and the CLI, and `reorder score`."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from reorder import Assessment, Constraints, InvalidInputError, Objective, PairwiseScores, Solution, assessment, split
from reorder.assessment import assess, null_values, position_confidence, transitions
from reorder.explanation import explain
from reorder.objective import order_values, random_mean, term_values

from conftest import BUDGET_ARTICLE, SEED_TEXT

ARTICLE = BUDGET_ARTICLE + (
    "\n"
    "She said the vote showed the council could still agree on hard choices.\n"
    "\n"
    "Council members will meet again in March to discuss the next budget.\n"
)
# units: 0 heading, 1 content, 2 furniture, 3..6 content, 7 content
CONTENT = [1, 3, 4, 5, 6, 7]


def random_objective(n: int, seed: int) -> Objective:
    rng = np.random.default_rng(seed)
    return Objective(rng.normal(size=(n, n)), rng.normal(size=(n, n)), rng.normal(size=n), rng.normal(size=n))


def planted(n: int, seed: int = 0, noise: float = 0.3) -> Objective:
    """Scores whose best order is ``range(n)``: its links, precedences, first and last score higher."""
    rng = np.random.default_rng(seed)
    pos = np.arange(n)
    follows = rng.normal(0, noise, (n, n))
    follows[pos[:-1], pos[1:]] += 2.0
    precedes = rng.normal(0, noise, (n, n)) + np.where(pos[:, None] < pos[None, :], 0.5, -0.5)
    first, last = rng.normal(0, noise, n), rng.normal(0, noise, n)
    first[0] += 2.0
    last[-1] += 2.0
    return Objective(follows, precedes, first, last)


# --------------------------------------------------------------------------- values and the null


def test_order_values_match_objective_value():
    objective = random_objective(7, 1)
    orders = np.array([np.random.default_rng(k).permutation(7) for k in range(50)])
    expected = [objective.value(o) for o in orders]
    assert np.allclose(order_values(objective, orders), expected)


def test_random_mean_is_the_mean_over_all_orders():
    objective = random_objective(5, 2)
    values = [objective.value(o) for o in itertools.permutations(range(5))]
    assert random_mean(objective) == pytest.approx(np.mean(values))


def test_null_is_exact_for_small_n_and_seeded_otherwise():
    values, exact = null_values(random_objective(5, 3), samples=1000)
    assert exact and len(values) == 120
    objective = random_objective(9, 3)
    first, exact = null_values(objective, samples=200, seed=4)
    again, _ = null_values(objective, samples=200, seed=4)
    other, _ = null_values(objective, samples=200, seed=5)
    assert not exact and len(first) == 200
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_order_evidence_standardises_each_term_against_all_orders():
    rng = np.random.default_rng(6)
    n = 5
    follows, precedes = rng.random((n, n)) * 0.9 + 0.05, rng.random((n, n))
    precedes = precedes / (precedes + precedes.T)
    position = rng.random((n, 3)) + 0.1
    position /= position.sum(axis=1, keepdims=True)
    scores = PairwiseScores(follows=follows, precedes=precedes, position=position)
    order = [2, 0, 4, 1, 3]
    # the objective's weights do not matter when the scores are given: here follows has weight 0
    objective = Objective(np.zeros((n, n)), np.log(precedes), np.zeros(n), np.zeros(n))
    evidence = assessment.order_evidence(objective, order, scores)
    orders = list(itertools.permutations(range(n)))

    def follows_value(o):
        return sum(np.log(follows[o[k], o[k + 1]]) for k in range(n - 1))

    def precedes_value(o):
        return sum(np.log(precedes[o[k], o[m]]) for k in range(n) for m in range(k + 1, n))

    def position_value(o):
        return np.log(position[o[0], 0]) + sum(np.log(position[u, 1]) for u in o[1:-1]) + np.log(position[o[-1], 2])

    standardised = []
    for value in (follows_value, precedes_value, position_value):
        values = np.array([value(o) for o in orders])
        standardised.append((values - values.mean()) / values.std())
    given = orders.index(tuple(order))
    total = sum(standardised)
    assert evidence.z_follows == pytest.approx(standardised[0][given])
    assert evidence.z_precedes == pytest.approx(standardised[1][given])
    assert evidence.z_position == pytest.approx(standardised[2][given])
    # the sum of the three is standardised again: mean 0 and deviation 1 over all orders
    assert evidence.order_z == pytest.approx((total[given] - total.mean()) / total.std()) and evidence.informative
    assert evidence.order_z != pytest.approx(sum(standardised)[given] / math.sqrt(3))


def test_order_evidence_leaves_out_a_constant_term():
    objective = planted(7)
    flat = Objective(np.zeros((7, 7)), objective.precedes, np.zeros(7), np.zeros(7))
    evidence = assessment.order_evidence(flat)
    assert evidence.z_follows == evidence.z_position == 0.0
    assert evidence.z_precedes > 3 and evidence.order_z == pytest.approx(evidence.z_precedes) and evidence.informative


def test_exact_p_value_counts_orders_at_least_as_good():
    objective = random_objective(4, 5)
    values = {o: objective.value(o) for o in itertools.permutations(range(4))}
    for order, value in list(values.items())[:6]:
        result = assess(objective, order)
        assert result.exact and result.samples == 24
        assert result.p_value == pytest.approx(sum(v >= value - 1e-12 for v in values.values()) / 24)
    best = max(values, key=values.get)
    assert assess(objective, best).p_value == pytest.approx(1 / 24)


# --------------------------------------------------------------------------- planted objectives


def test_gold_order_of_a_planted_objective_is_coherent():
    objective = planted(12)
    result = assess(objective)  # the given order, range(12), is the planted best
    assert result.p_value == pytest.approx(1 / 1001)
    assert not result.scrambled
    assert result.z_follows > 5 and result.z_precedes > 3 and result.order_z > result.threshold
    assert result.gap_ratio == pytest.approx(0.0, abs=1e-9)
    assert result.score == pytest.approx(1.0)
    assert result.best_order == tuple(range(12)) and result.best_optimal


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_order_of_a_planted_objective_is_scrambled(seed):
    objective = planted(12, seed)
    shuffled = np.random.default_rng(100 + seed).permutation(12)
    result = assess(objective, shuffled)
    assert result.scrambled
    assert result.p_value > 0.01
    assert result.order_z < result.threshold
    assert result.gap_ratio > 0.5 and 0.0 <= result.score < 0.5


def test_scrambled_threshold_rises_with_the_best_orders_evidence():
    objective = planted(12)
    result = assess(objective, np.random.default_rng(3).permutation(12))
    best = assessment.order_evidence(objective, result.best_order)
    assert result.best_z == pytest.approx(best.order_z) and result.best_z > 3
    assert result.threshold == pytest.approx(
        assessment.SCRAMBLED_Z + assessment.SCRAMBLED_SLOPE * result.best_z)
    assert assessment.scrambled_threshold(-2.0, 1.0, 0.5) == 1.0  # a negative best_z does not lower it
    assert assessment.scrambled_threshold(4.0, 1.0, 0.5) == 3.0
    # a fixed threshold overrides the rule, both ways
    assert not assess(objective, result.order, threshold=result.order_z - 0.01).scrambled
    assert assess(objective, result.order, threshold=result.order_z + 0.01).scrambled


def test_term_values_split_each_orders_value_into_its_three_parts():
    objective = random_objective(6, 4)
    orders, _ = assessment.null_orders(6, samples=50, seed=1)
    parts = term_values(objective, orders)
    assert parts.shape == (50, 3)
    assert np.allclose(parts.sum(axis=1), order_values(objective, orders))
    o = orders[0]
    assert parts[0, 0] == pytest.approx(sum(objective.follows[o[k], o[k + 1]] for k in range(5)))
    assert parts[0, 2] == pytest.approx(objective.first[o[0]] + objective.last[o[-1]])


def test_null_order_z_is_the_evidence_of_each_random_order():
    objective = random_objective(5, 2)
    nulls = assessment.null_order_z(objective)
    assert len(nulls) == 120  # 5! <= 1000 samples: every order, exactly
    assert nulls.mean() == pytest.approx(0.0, abs=1e-9) and nulls.std() == pytest.approx(1.0)
    orders, exact = assessment.null_orders(5)
    for k in (0, 17, 119):
        assert nulls[k] == pytest.approx(assessment.order_evidence(objective, orders[k]).order_z)
    # the share of random orders a threshold flags: a shuffled text is one of them
    assert np.mean(nulls < 1.0) == pytest.approx(
        np.mean([assessment.order_evidence(objective, o).order_z < 1.0 for o in orders]))
    assert np.array_equal(assessment.null_order_z(Objective.zeros(5)), np.zeros(120))


def test_a_better_given_order_than_an_unproven_best_counts_as_best():
    objective = planted(6)
    poor = Solution(order=[5, 4, 3, 2, 1, 0], value=objective.value([5, 4, 3, 2, 1, 0]), optimal=False,
                    bound=None, method="heuristic")
    result = assess(objective, best=poor)
    assert result.best_order == tuple(range(6)) and result.gap_ratio == 0.0


def test_constant_objective_is_neither_coherent_nor_scrambled():
    result = assess(Objective.zeros(5))
    assert result.gap_ratio == 0.0 and not result.scrambled
    assert result.order_z == result.z_follows == result.z_precedes == result.z_position == 0.0
    assert result.p_value == 1.0


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_inputs(n):
    result = assess(Objective.zeros(n))
    assert result.transitions == () and result.p_value == 1.0 and not result.scrambled


def test_bad_input_is_refused():
    with pytest.raises(InvalidInputError, match="permutation"):
        assess(planted(4), [0, 1, 1, 2])
    with pytest.raises(InvalidInputError, match="samples"):
        assess(planted(4), samples=0)
    with pytest.raises(InvalidInputError, match="Objective"):
        assess(np.zeros((3, 3)))


# --------------------------------------------------------------------------- transitions


def test_transitions_report_probability_rank_and_weakness():
    follows = np.array([[0.0, 0.9, 0.05], [0.3, 0.0, 0.02], [0.4, 0.5, 0.0]])
    scores = PairwiseScores(follows, np.full((3, 3), 0.5), np.full((3, 3), 1 / 3))
    objective = Objective(np.log(follows + np.eye(3)), np.zeros((3, 3)), np.zeros(3), np.zeros(3))
    t01, t12 = transitions(objective, [0, 1, 2], scores)
    assert (t01.source, t01.target, t01.position) == (0, 1, 0)
    assert t01.probability == pytest.approx(0.9) and t01.rank == 1 and not t01.weak
    assert t01.contribution == pytest.approx(np.log(0.9))
    assert t12.probability == pytest.approx(0.02) and t12.rank == 2 and t12.weak
    result = assess(objective, scores=scores)
    assert [t.position for t in result.weak_transitions] == [1]
    assert result.weakest(1)[0].target == 2
    # without probabilities nothing is flagged and the rank follows the contribution
    plain = transitions(objective, [0, 1, 2])
    assert [t.probability for t in plain] == [None, None] and not any(t.weak for t in plain)


def test_relabel_and_to_dict():
    result = assess(planted(4), [1, 0, 2, 3])
    moved = result.relabel([10, 11, 12, 13])
    assert moved.order == (11, 10, 12, 13)
    assert sorted(moved.best_order) == [10, 11, 12, 13]
    assert [(t.source, t.target) for t in moved.transitions] == [(11, 10), (10, 12), (12, 13)]
    payload = json.loads(json.dumps(moved.to_dict()))
    for key in ("score", "p_value", "scrambled", "transitions", "gap_ratio", "best_value", "random_mean"):
        assert key in payload
    assert payload["transitions"][0]["from"] == 11
    with pytest.raises(InvalidInputError):
        result.relabel([1, 2])


# --------------------------------------------------------------------------- confidence


def test_confidence_is_one_where_every_order_agrees():
    chosen = [0, 1, 2, 3]
    same = Solution(order=chosen, value=0.0, optimal=True, bound=0.0, method="dp")
    swapped = Solution(order=[0, 1, 3, 2], value=0.0, optimal=True, bound=0.0, method="dp")
    far = Solution(order=[3, 2, 1, 0], value=-50.0, optimal=True, bound=None, method="dp")
    confidence = position_confidence(chosen, 0.0, [same, swapped, far])
    assert confidence == pytest.approx([1.0, 1.0, 0.5, 0.5])
    assert position_confidence(chosen, 0.0, []) == pytest.approx([1.0] * 4)


# --------------------------------------------------------------------------- explanations


def test_explanations_name_the_cues():
    units = [
        "Prime Minister Jane Doe announced a new rail plan for the northern region on Monday.",
        "The railway would open in 2030, Doe said, adding that costs were still unknown.",
        "He said the northern railway plan would create jobs.",
    ]
    emb = np.eye(3, 8, dtype=np.float32)
    follows = np.full((3, 3), 0.2)
    np.fill_diagonal(follows, 0.0)
    position = np.array([[0.8, 0.1, 0.1], [0.1, 0.6, 0.3], [0.1, 0.6, 0.3]])
    scores = PairwiseScores(follows, np.full((3, 3), 0.6) - 0.1 * np.eye(3), position)
    first, second = explain(units, emb, scores, [0, 1, 2])
    text = " | ".join(first.reasons)
    assert "Jane Doe" in text and "surname" in text  # introduced in full, then by surname
    assert any("first" in r for r in first.reasons)
    assert any("'He'" in r for r in second.reasons)
    assert first.to_dict()["from"] == 0 and second.to_dict()["to"] == 2
    assert first.cues["names_introduced"] == ["Prime Minister Jane Doe"]


# --------------------------------------------------------------------------- through the Reorderer


def test_reorderer_assess(fast_reorderer):
    units = [u for u, r in zip(split(ARTICLE).units, range(8)) if r in CONTENT]
    reorderer = fast_reorderer()
    result = reorderer.assess(units)
    assert isinstance(result, Assessment)
    assert result.order == tuple(range(6)) and len(result.transitions) == 5
    assert all(0.0 <= t.probability <= 1.0 for t in result.transitions)
    assert 0 < result.p_value <= 1 and result.samples == 720 and result.exact
    assert result.value == pytest.approx(reorderer.score(units))
    assert "assess:samples1000" in result.signature
    assert reorderer.assess(units[:1]).p_value == 1.0
    assert reorderer.assess([]).transitions == ()


CONSTRAINTS = [
    Constraints(first=3),
    Constraints(last=0),
    Constraints(before=((5, 1), (4, 2))),
    Constraints(groups=((2, 0, 5),)),
    Constraints(first=4, last=1, before=((0, 3),), groups=((2, 5),)),
]


@pytest.mark.parametrize("constraints", CONSTRAINTS)
def test_reorderer_honours_constraints(fast_reorderer, constraints):
    units = [u for u, r in zip(split(ARTICLE).units, range(8)) if r in CONTENT]
    reorderer = fast_reorderer()
    assert constraints.satisfied_by(reorderer.order(units, constraints))
    alternatives = reorderer.alternatives(units, 4, constraints)
    assert all(constraints.satisfied_by(s.order) for s in alternatives)


def test_alternatives_are_distinct_and_sorted(fast_reorderer):
    units = [u for u, r in zip(split(ARTICLE).units, range(8)) if r in CONTENT]
    reorderer = fast_reorderer()
    alternatives = reorderer.alternatives(units, 5)
    assert len(alternatives) == 5
    assert len({tuple(s.order) for s in alternatives}) == 5
    values = [s.value for s in alternatives]
    assert values == sorted(values, reverse=True)
    assert alternatives[0].order == reorderer.order(units)
    confidence = reorderer.confidence(units, k=5)
    assert len(confidence) == 6 and all(0 < c <= 1 + 1e-12 for c in confidence)
    explanations = reorderer.explain(units)
    assert [(e.source, e.target) for e in explanations] == list(zip(alternatives[0].order, alternatives[0].order[1:]))


def test_reorder_text_maps_constraints_to_text_indices(fast_reorderer):
    constraints = Constraints(first=7, last=1, before=((5, 3),), groups=((6, 4),))
    result = fast_reorderer().reorder_text(ARTICLE, constraints)
    content = result.content_order
    assert content[0] == 7 and content[-1] == 1
    assert content.index(5) < content.index(3)
    assert content.index(4) == content.index(6) + 1
    with pytest.raises(InvalidInputError, match="not a content unit"):
        fast_reorderer().reorder_text(ARTICLE, Constraints(first=2))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def article(tmp_path):
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


def test_order_constraints_through_the_cli(cli, article):
    result = cli("order", article, "--format", "json", "--first", "7", "--last", "1",
                 "--before", "5:3", "--group", "6,4")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    content = [i for i in payload["permutation"] if i in CONTENT]
    assert content[0] == 7 and content[-1] == 1
    assert content.index(5) < content.index(3) and content.index(4) == content.index(6) + 1


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--before", "3-5"], 2, "A:B"),
        (["--group", "3,x"], 2, "unit index"),
        (["--first", "2"], 1, "not a content unit"),
        (["--before", "3:4", "--before", "4:3"], 1, "contradict"),
        (["--first", "3", "--last", "3"], 1, "first and last"),
    ],
)
def test_bad_constraints_fail_cleanly(cli, article, args, code, message):
    result = cli("order", article, *args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert message in result.stderr


def test_order_extras_in_json(cli, article):
    result = cli("order", article, "--format", "json", "--alternatives", "3", "--confidence", "--explain",
                 "--first", "3")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    alternatives = payload["alternatives"]
    assert [a["rank"] for a in alternatives] == [1, 2, 3]
    assert len({tuple(a["content_order"]) for a in alternatives}) == 3
    assert [a["objective"] for a in alternatives] == sorted((a["objective"] for a in alternatives), reverse=True)
    assert all(a["content_order"][0] == 3 for a in alternatives)
    assert alternatives[0]["objective"] == pytest.approx(payload["objective"])
    chosen = [i for i in payload["permutation"] if i in CONTENT]
    assert [c["index"] for c in payload["confidence"]] == chosen
    assert all(0 < c["confidence"] <= 1 + 1e-12 for c in payload["confidence"])
    assert [(e["from"], e["to"]) for e in payload["explanations"]] == list(zip(chosen, chosen[1:]))
    assert all(e["reasons"] for e in payload["explanations"])


def test_order_extras_go_to_stderr_in_text_mode(cli, article):
    plain = cli("order", article)
    result = cli("order", article, "--alternatives", "2", "--confidence", "--explain")
    assert result.exit_code == 0, result.output
    assert result.stdout == plain.stdout  # stdout stays the reordered text
    for heading in ("alternatives", "confidence", "explanations"):
        assert heading in result.stderr


def test_score_json(cli, article, tiny_model_dir):
    result = cli("score", article, "--format", "json", "--model", tiny_model_dir)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for key in ("score", "p_value", "scrambled", "transitions", "gap_ratio", "threshold", "signature", "units"):
        assert key in payload
    assert isinstance(payload["scrambled"], bool)
    assert 0 <= payload["score"] <= 1 and 0 < payload["p_value"] <= 1
    assert [(t["from"], t["to"]) for t in payload["transitions"]] == list(zip(CONTENT, CONTENT[1:]))
    assert payload["order"] == CONTENT
    assert [u["role"] for u in payload["units"]][:3] == ["heading", "content", "furniture"]


def test_score_text_and_errors(cli, article, tiny_model_dir, tmp_path):
    result = cli("score", article, "--model", tiny_model_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("score ") and "p-value" in result.stdout and "scrambled" in result.stdout
    assert result.stderr.startswith("# reorder:")
    missing = cli("score", tmp_path / "nope.txt", "--model", tiny_model_dir)
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    usage = cli("score", article, "--samples", "0", "--model", tiny_model_dir)
    assert usage.exit_code == 2


# --------------------------------------------------------------------------- the real model


@pytest.mark.slow
def test_the_seed_is_called_scrambled(real_reorderer):
    from reorder.document import detect_roles

    document = split(SEED_TEXT.read_text(encoding="utf-8"))
    roles = detect_roles(document.units)
    units = [u for u, r in zip(document.units, roles) if r == "content"]
    result = real_reorderer.assess(units)
    assert result.scrambled
    assert not math.isnan(result.p_value)
