"""Order metrics against hand-computed values."""

from __future__ import annotations

import itertools
import math

import pytest

from reorder.errors import InvalidInputError
from reorder.metrics import (
    METRICS,
    bucket_name,
    document_scores,
    first_accuracy,
    inversions,
    kendall_tau,
    last_accuracy,
    macro_average,
    pairwise_accuracy,
    perfect_match,
    positional_accuracy,
)

GOLD = [0, 1, 2, 3]


def test_identity_scores_one_everywhere():
    assert document_scores(GOLD, GOLD) == {name: 1.0 for name in METRICS}


def test_reversed_order():
    reverse = GOLD[::-1]
    assert inversions(reverse, GOLD) == 6
    assert kendall_tau(reverse, GOLD) == -1.0
    assert pairwise_accuracy(reverse, GOLD) == 0.0
    assert perfect_match(reverse, GOLD) == 0.0
    assert positional_accuracy(reverse, GOLD) == 0.0
    assert first_accuracy(reverse, GOLD) == 0.0
    assert last_accuracy(reverse, GOLD) == 0.0


def test_one_adjacent_swap_of_four():
    predicted = [0, 2, 1, 3]
    assert inversions(predicted, GOLD) == 1
    assert kendall_tau(predicted, GOLD) == pytest.approx(1 - 2 / 6)
    assert pairwise_accuracy(predicted, GOLD) == pytest.approx(5 / 6)
    assert perfect_match(predicted, GOLD) == 0.0
    assert positional_accuracy(predicted, GOLD) == 0.5
    assert first_accuracy(predicted, GOLD) == 1.0
    assert last_accuracy(predicted, GOLD) == 1.0


def test_rotation_by_one():
    # [1, 2, 3, 0]: unit 0 is behind three others -> 3 inversions of 6; nothing in place
    predicted = [1, 2, 3, 0]
    assert kendall_tau(predicted, GOLD) == pytest.approx(0.0)
    assert positional_accuracy(predicted, GOLD) == 0.0
    assert first_accuracy(predicted, GOLD) == 0.0
    assert last_accuracy(predicted, GOLD) == 0.0


def test_units_can_be_any_hashable_ids():
    gold = ["intro", "body", "end"]
    predicted = ["body", "intro", "end"]
    assert kendall_tau(predicted, gold) == pytest.approx(1 - 2 / 3)
    assert positional_accuracy(predicted, gold) == pytest.approx(1 / 3)
    assert last_accuracy(predicted, gold) == 1.0


@pytest.mark.parametrize("n", [3, 4, 5])
def test_pairwise_is_one_plus_tau_over_two_for_every_order(n):
    gold = list(range(n))
    for predicted in itertools.permutations(gold):
        tau = kendall_tau(predicted, gold)
        assert -1.0 <= tau <= 1.0
        assert pairwise_accuracy(predicted, gold) == pytest.approx((1 + tau) / 2)
        assert inversions(predicted, gold) == sum(
            predicted[a] > predicted[b] for a in range(n) for b in range(a + 1, n)
        )


@pytest.mark.parametrize("order", [[], [7]])
def test_short_orders_are_perfect(order):
    assert document_scores(order, list(order)) == {name: 1.0 for name in METRICS}


@pytest.mark.parametrize(
    "predicted, gold",
    [
        ([0, 1], [0, 1, 2]),  # lengths differ
        ([0, 1, 3], [0, 1, 2]),  # different ids
        ([0, 0, 1], [0, 1, 2]),  # repeated id in predicted
        ([0, 1, 1], [0, 1, 1]),  # repeated id in gold
        ([1], [0]),
    ],
)
@pytest.mark.parametrize("name", sorted(METRICS))
def test_mismatched_orders_are_refused(name, predicted, gold):
    with pytest.raises(InvalidInputError, match="same distinct units"):
        METRICS[name](predicted, gold)


def test_macro_average_is_an_unweighted_mean_over_documents():
    rows = [document_scores([0, 1, 2, 3], GOLD), document_scores([3, 2, 1, 0], GOLD), document_scores([1, 0], [0, 1])]
    summary = macro_average(rows)
    assert summary["docs"] == 3
    assert summary["tau"] == pytest.approx((1 - 1 - 1) / 3)
    assert summary["pmr"] == pytest.approx(1 / 3)
    assert summary["pairwise"] == pytest.approx((1 + 0 + 0) / 3)
    assert summary["first"] == pytest.approx(1 / 3)


def test_macro_average_of_nothing():
    summary = macro_average([])
    assert summary["docs"] == 0
    assert all(math.isnan(summary[name]) for name in METRICS)


@pytest.mark.parametrize(
    "n, bucket",
    [(0, "<2"), (1, "<2"), (2, "2-5"), (5, "2-5"), (6, "6-10"), (10, "6-10"), (11, "11-20"), (20, "11-20"),
     (21, "21+"), (2000, "21+")],
)
def test_bucket_name(n, bucket):
    assert bucket_name(n) == bucket
