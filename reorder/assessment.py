"""Assess orders: how coherent a given order is, where it breaks, and how sure the search is.

Plain functions over an :class:`~reorder.objective.Objective` (and, where probabilities are shown,
the :class:`~reorder.coherence.PairwiseScores` it was made from); :class:`~reorder.pipeline.Reorderer`
wraps them as ``assess``, ``assess_text`` and ``confidence``. Why a transition was chosen is
:mod:`reorder.explanation`'s job.

Definitions, for ``n`` units and an order ``o`` of them (the *given* order when assessing a text):

value
    ``Objective.value(o)``: the weighted log-probability of the order's adjacencies, precedences
    and first/last units (see :func:`reorder.objective.objective_from_scores`); higher is better.
null distribution
    The values of ``samples`` uniformly random permutations of the same units (seeded), or of all
    ``n!`` orders when ``n! <= samples`` (then everything below is exact). ``random_mean`` is the
    exact mean over all orders (a closed form), ``random_std`` the spread of the null values.
p_value
    ``(1 + #{random orders with value >= given}) / (samples + 1)``, the Monte Carlo p-value (exact
    enumeration: ``#{orders with value >= given} / n!``). Small: the given order is better than
    almost every random order of its units. Note that a randomly shuffled text is itself a draw
    from the null distribution, so its p-value is uniform on (0, 1]: a p-value alone cannot call
    more than ``1 - alpha`` of shuffled texts scrambled.
best
    The best order the search finds (:func:`reorder.search.solve`); when an unproven search finds
    nothing better than the given order, the given order counts as the best.
gap_ratio
    ``(best - given) / (best - random_mean)``: 0 for the best order, about 1 for a random order,
    above 1 for an order worse than the average random one. Unlike the p-value, it measures
    *how far* the given order is from the best one on the scale of a random order.
score
    ``clip(1 - gap_ratio, 0, 1)``: the normalised objective, 1 at the best order found and 0 at or
    below the average random order.
z_follows, z_precedes, z_position
    How many standard deviations the given order's adjacency log-likelihood (the sum of
    ``log P(o[k+1] right after o[k])``), its precedence log-likelihood (the sum of
    ``log P(o[k] before o[l])`` over ``k < l``) and its position log-likelihood
    (``log P(first)`` of ``o[0]``, ``log P(last)`` of ``o[-1]``, ``log P(middle)`` of the rest) lie
    above those of the random orders of the null distribution. They use the scores'
    probabilities, whatever the objective's weights (from the objective's own terms when assessed
    without scores); 0 when a term is the same for every order.
order_z
    The evidence that the given order is the natural one: the sum of the three standardised terms,
    standardised again against the same random orders (so that it too has mean 0 and deviation 1
    over them whatever the terms' correlation; a constant term left out). A shuffled text is a
    draw from the null, so its ``order_z`` is about 0 (roughly normal: below 1.28 about nine times in ten); a natural
    order scores high when the model recognises it. The terms are complementary: local links,
    global precedence and the lead/ending, each standardised so that none drowns the others.
best_z
    The ``order_z`` of the best order found: how clearly the model can tell *some* order of these
    units from random ones. High for a text the model reads well, near 0 for one it cannot read.
threshold, scrambled
    ``threshold = SCRAMBLED_Z + SCRAMBLED_SLOPE * max(best_z, 0)`` and ``scrambled = order_z <
    threshold``: the given order must show more evidence where the model reads the units clearly
    (a natural order then scores high) and less where it reads them poorly (a natural order then
    scores low too). Both constants are calibrated on news-dev by
    ``experiments/calibrate_scrambled.py`` (see there, and ``experiments/results/``); the threshold
    depends only on the units, not on their given order (when the search proves its best order
    optimal), so the share of shuffled versions of a text called scrambled is the share of its null
    orders below it (:func:`null_order_z`). It is a test of the order against the
    model, not of the text: a text the model cannot read is called scrambled in any order.
transitions
    For each adjacent pair ``(o[k], o[k+1])``: ``probability`` = P(o[k+1] right after o[k]) from the
    follows model, ``contribution`` = its adjacency term in the objective, ``rank`` = where o[k+1]
    ranks among the ``n - 1`` candidate successors of o[k] (1 = the model's favourite), and ``weak``
    = ``probability < WEAK_TRANSITION_PROBABILITY``: a place where a reader would likely stumble.
confidence
    For an order chosen by the search, per position ``k``: the share of the ``k`` best distinct
    orders (:func:`reorder.search.k_best`), weighted by ``exp(value - best_value)`` (the objective
    read as a log-likelihood), that put the same unit at position ``k``. 1.0: every competitive
    order agrees; near ``1 / K``: the position is a toss-up. It is relative to the model and to the
    orders listed, not a calibrated probability of being right.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from .coherence import PairwiseScores
from .document import units_with_roles
from .errors import InvalidInputError
from .objective import Objective, objective_from_scores, order_values, random_mean, term_values, value_tolerance
from .search import Solution, solve
from .validation import check_permutation, check_positive_int

__all__ = [
    "CONFIDENCE_K",
    "DEFAULT_SAMPLES",
    "SCRAMBLED_SLOPE",
    "SCRAMBLED_Z",
    "WEAK_TRANSITION_PROBABILITY",
    "Assessment",
    "Transition",
    "assess",
    "null_order_z",
    "null_orders",
    "null_values",
    "Evidence",
    "order_evidence",
    "position_confidence",
    "scrambled_threshold",
    "transitions",
]

#: A given order is called scrambled when its ``order_z`` is below
#: ``SCRAMBLED_Z + SCRAMBLED_SLOPE * max(best_z, 0)`` (see the module docstring). Both chosen on
#: news-dev by ``experiments/calibrate_scrambled.py``; see
#: ``experiments/results/calibrate_scrambled.json`` for the shares of original and shuffled documents
#: they flag. Recalibrate when the model changes.
SCRAMBLED_Z = 0.66
SCRAMBLED_SLOPE = 0.20
#: A transition is flagged weak when the follows model gives it less than this probability.
#: Chosen on news-dev by the same script: about one in ten true transitions falls below it.
WEAK_TRANSITION_PROBABILITY = 0.18
#: Random permutations in the null distribution (all orders instead when n! is no larger).
DEFAULT_SAMPLES = 1000
#: Orders that :func:`position_confidence` weighs by default (see the module docstring).
CONFIDENCE_K = 20



# --------------------------------------------------------------------------------------------
# Values of many orders at once and the null distribution
# --------------------------------------------------------------------------------------------


def null_orders(n: int, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> tuple[np.ndarray, bool]:
    """The random orders of the null distribution, shape (m, n), and whether they are all ``n!``.

    All ``n!`` orders when ``n! <= samples`` (``exact`` is True), else ``samples`` uniformly random
    permutations drawn with ``numpy.random.default_rng(seed)``.
    """
    samples = check_positive_int(samples, "samples")
    if math.factorial(n) <= samples:
        return np.array(list(itertools.permutations(range(n))), dtype=np.intp).reshape(math.factorial(n), n), True
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n, dtype=np.intp), (samples, 1)), axis=1), False


def null_values(objective: Objective, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> tuple[np.ndarray, bool]:
    """Values of random orders of the units: ``(values, exact)`` (the orders of :func:`null_orders`)."""
    orders, exact = null_orders(objective.n, samples, seed)
    return order_values(objective, orders), exact


class Evidence(NamedTuple):
    """What :func:`order_evidence` returns (each field is defined in the module docstring)."""

    z_follows: float
    z_precedes: float
    z_position: float
    order_z: float
    informative: bool


def order_evidence(
    objective: Objective,
    order: Sequence[int] | None = None,
    scores: PairwiseScores | None = None,
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> Evidence:
    """The :class:`Evidence` of ``order`` against random orders (see the module docstring).

    With ``scores``, the terms are the unweighted log-probabilities; without, the objective's own
    follows, precedes and first/last terms. The null orders are those of :func:`null_orders` with
    ``seed``. Each term is standardised against them; ``order_z`` is the standardised sum of the
    standardised terms, so that it too has mean 0 and deviation 1 over the null orders whatever the
    terms' correlation. A term that is the same for every order carries no evidence: its z is 0 and
    it is left out of ``order_z``; ``informative`` is False when no term varies.
    """
    z, order_z, _, informative = _evidence(objective, [_order(order, objective.n)], scores, samples, seed)
    return Evidence(*(float(v) for v in z[0]), float(order_z[0]), informative)


def null_order_z(
    objective: Objective, scores: PairwiseScores | None = None, *, samples: int = DEFAULT_SAMPLES, seed: int = 0
) -> np.ndarray:
    """The ``order_z`` of every random order of the null distribution (mean 0, deviation 1 by
    construction; all zeros when no term varies). ``mean(null_order_z(...) < t)`` is the share of
    shuffled versions of the text that a threshold ``t`` calls scrambled."""
    return _evidence(objective, np.zeros((0, objective.n), dtype=np.intp), scores, samples, seed)[2]


def _evidence(objective: Objective, orders, scores: PairwiseScores | None, samples: int, seed: int):
    """Standardised terms and ``order_z`` of each of ``orders`` and of each null order:
    ``(z (k, 3), order_z (k,), null order_z (m,), informative)``."""
    n = objective.n
    if n < 2:
        return np.zeros((len(orders), 3)), np.zeros(len(orders)), np.zeros(1), False
    orders = np.asarray(orders, dtype=np.intp).reshape(-1, n)
    if scores is not None:  # the unweighted log-likelihoods: the objective with every weight 1
        objective = objective_from_scores(scores, {"follows": 1.0, "precedes": 1.0, "position": 1.0})
    nulls = term_values(objective, null_orders(n, samples, seed)[0])
    values = term_values(objective, orders)
    z = np.zeros((len(orders), 3))
    null_sum, varying = np.zeros(len(nulls)), 0
    for k in range(3):
        mean, spread = float(nulls[:, k].mean()), float(nulls[:, k].std())
        if spread > value_tolerance(float(np.max(np.abs(values[:, k]), initial=mean))):
            z[:, k] = (values[:, k] - mean) / spread
            null_sum += (nulls[:, k] - mean) / spread
            varying += 1
    spread = float(null_sum.std())
    if not varying or spread <= 0:
        return z, np.zeros(len(orders)), np.zeros(len(nulls)), False
    return z, z.sum(axis=1) / spread, null_sum / spread, True


# --------------------------------------------------------------------------------------------
# Transitions and the assessment of one order
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One adjacent pair of an order (see the module docstring for the definitions).

    Attributes
    ----------
    position : int
        The pair stands at positions ``position`` and ``position + 1`` of the order.
    source, target : int
        The units: ``target`` comes right after ``source``.
    probability : float or None
        P(target right after source) from the follows model; None when assessed from an
        objective alone.
    contribution : float
        The pair's adjacency term in the objective.
    rank : int
        Where ``target`` ranks among the candidate successors of ``source`` (1 = best), by
        probability when known, else by contribution.
    weak : bool
        ``probability < WEAK_TRANSITION_PROBABILITY`` (always False without a probability).
    """

    position: int
    source: int
    target: int
    probability: float | None
    contribution: float
    rank: int
    weak: bool

    def to_dict(self) -> dict:
        return {
            "position": self.position,
            "from": self.source,
            "to": self.target,
            "probability": self.probability,
            "contribution": self.contribution,
            "rank": self.rank,
            "weak": self.weak,
        }


def transitions(
    objective: Objective,
    order: Sequence[int] | None = None,
    scores: PairwiseScores | None = None,
    *,
    weak_below: float = WEAK_TRANSITION_PROBABILITY,
) -> list[Transition]:
    """Every adjacent pair of ``order`` (default: ``range(n)``), see :class:`Transition`."""
    o = _order(order, objective.n)
    strength = objective.follows if scores is None else np.asarray(scores.follows, dtype=np.float64)
    if scores is not None and strength.shape != (objective.n, objective.n):
        raise InvalidInputError(
            f"scores are for {strength.shape[0]} units but the objective has {objective.n}"
        )
    result = []
    for k in range(len(o) - 1):
        i, j = int(o[k]), int(o[k + 1])
        others = np.delete(strength[i], i)
        rank = 1 + int(np.sum(others > strength[i, j] + value_tolerance(strength[i, j])))
        probability = None if scores is None else float(strength[i, j])
        result.append(
            Transition(
                position=k,
                source=i,
                target=j,
                probability=probability,
                contribution=float(objective.follows[i, j]),
                rank=rank,
                weak=probability is not None and probability < weak_below,
            )
        )
    return result


@dataclass(frozen=True)
class Assessment:
    """How coherent one order of units is; every field is defined in the module docstring.

    Attributes
    ----------
    order : tuple of int
        The assessed order (unit indices).
    value, score, p_value, order_z, z_follows, z_precedes, z_position, gap_ratio : float
    scrambled : bool
    best_value : float
    best_order : tuple of int
    best_optimal : bool
        Whether the search proved ``best_order`` optimal.
    random_mean, random_std : float
    samples : int
        Orders in the null distribution (``n!`` when ``exact``).
    exact : bool
    transitions : tuple of Transition
    best_z : float
        The ``order_z`` of ``best_order``.
    threshold : float
        The ``order_z`` below which the order is called scrambled (see :func:`scrambled_threshold`).
    seed : int
        Seed of the random permutations.
    signature : str
        What produced the numbers (model, weights, search, samples, seed), for reproduction.
    units, roles : tuple of str
        The text's units and their roles, when the assessment is of a text
        (:meth:`reorder.Reorderer.assess_text`; unit indices are then the text's); None otherwise.
    """

    order: tuple[int, ...]
    value: float
    score: float
    p_value: float
    scrambled: bool
    order_z: float
    z_follows: float
    z_precedes: float
    z_position: float
    gap_ratio: float
    best_value: float
    best_order: tuple[int, ...]
    best_optimal: bool
    random_mean: float
    random_std: float
    samples: int
    exact: bool
    transitions: tuple[Transition, ...]
    threshold: float
    seed: int
    signature: str = ""
    best_z: float = 0.0
    units: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None

    @property
    def weak_transitions(self) -> list[Transition]:
        """The transitions flagged weak, weakest first."""
        return sorted((t for t in self.transitions if t.weak), key=_weakness)

    def weakest(self, k: int = 3) -> list[Transition]:
        """The ``k`` transitions with the lowest probability (contribution without one)."""
        return sorted(self.transitions, key=_weakness)[: check_positive_int(k, "k")]

    def relabel(self, labels: Sequence[int]) -> Assessment:
        """The same assessment with every unit index ``u`` replaced by ``labels[u]`` (e.g. the
        index of a content unit among all the units of its text)."""
        labels = [int(x) for x in labels]
        if len(labels) != len(self.order):
            raise InvalidInputError(f"labels must name all {len(self.order)} units; got {len(labels)}")
        return replace(
            self,
            order=tuple(labels[u] for u in self.order),
            best_order=tuple(labels[u] for u in self.best_order),
            transitions=tuple(
                replace(t, source=labels[t.source], target=labels[t.target]) for t in self.transitions
            ),
        )

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (transitions as dicts with ``from``/``to``)."""
        return {
            "score": self.score,
            "p_value": self.p_value,
            "scrambled": self.scrambled,
            "order_z": self.order_z,
            "z_follows": self.z_follows,
            "z_precedes": self.z_precedes,
            "z_position": self.z_position,
            "gap_ratio": self.gap_ratio,
            "best_z": self.best_z,
            "threshold": self.threshold,
            "value": self.value,
            "best_value": self.best_value,
            "best_order": list(self.best_order),
            "best_optimal": self.best_optimal,
            "random_mean": self.random_mean,
            "random_std": self.random_std,
            "samples": self.samples,
            "exact": self.exact,
            "seed": self.seed,
            "order": list(self.order),
            "transitions": [t.to_dict() for t in self.transitions],
            "weak": [t.position for t in self.weak_transitions],
            "signature": self.signature,
            **({"units": units_with_roles(self.units, self.roles)} if self.units is not None else {}),
        }


def _weakness(t: Transition) -> tuple[float, int]:
    return (t.probability if t.probability is not None else t.contribution, t.position)


def assess(
    objective: Objective,
    order: Sequence[int] | None = None,
    *,
    best: Solution | None = None,
    scores: PairwiseScores | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    threshold: float | None = None,
    signature: str = "",
) -> Assessment:
    """Assess ``order`` (default: ``range(n)``, the given order) under ``objective``.

    Parameters
    ----------
    objective : Objective
        Scores over ``n`` units.
    order : sequence of int or None
        A permutation of ``range(n)``.
    best : Solution or None
        The best order found by a search over the same objective; None runs
        :func:`reorder.search.solve` with its defaults.
    scores : PairwiseScores or None
        The probabilities behind ``objective``, for the transitions' probabilities and weak flags.
    samples : int
        Random permutations in the null distribution.
    seed : int
        Seed of the random permutations.
    threshold : float or None
        ``order_z`` below which the order is called scrambled; None for the calibrated rule
        :func:`scrambled_threshold` of the best order's ``best_z``.
    signature : str
        Recorded in the result.

    Returns
    -------
    Assessment
    """
    if not isinstance(objective, Objective):
        raise InvalidInputError(
            f"objective must be a reorder.Objective, got {type(objective).__name__}"
        )
    o = _order(order, objective.n)
    n = objective.n
    value = objective.value(o)
    nulls, exact = null_values(objective, samples, seed)
    if best is None:
        best = solve(objective)
    best_order, best_value, best_optimal = list(best.order), float(best.value), bool(best.optimal)
    if len(best_order) != n:
        raise InvalidInputError(f"best is an order of {len(best_order)} units, not {n}")
    if value > best_value:  # an unproven search did worse than the given order
        best_order, best_value = [int(u) for u in o], value
    mean = random_mean(objective)
    at_least = int(np.sum(nulls >= value - value_tolerance(value)))
    p_value = at_least / len(nulls) if exact else (1 + at_least) / (len(nulls) + 1)
    spread = best_value - mean
    gap = (best_value - value) / spread if spread > value_tolerance(best_value) else 0.0
    z, order_z, _, informative = _evidence(objective, [o, best_order], scores, samples, seed)
    if threshold is None:
        threshold = scrambled_threshold(order_z[1])
    return Assessment(
        order=tuple(int(u) for u in o),
        value=value,
        score=float(np.clip(1.0 - gap, 0.0, 1.0)),
        p_value=float(min(p_value, 1.0)),
        scrambled=bool(informative and order_z[0] < threshold),
        order_z=float(order_z[0]),
        z_follows=float(z[0, 0]),
        z_precedes=float(z[0, 1]),
        z_position=float(z[0, 2]),
        gap_ratio=float(gap),
        best_value=best_value,
        best_order=tuple(int(u) for u in best_order),
        best_optimal=best_optimal,
        random_mean=mean,
        random_std=float(nulls.std()) if len(nulls) else 0.0,
        samples=int(len(nulls)),
        exact=exact,
        transitions=tuple(transitions(objective, o, scores)),
        threshold=float(threshold),
        seed=int(seed),
        signature=signature,
        best_z=float(order_z[1]),
    )


def scrambled_threshold(best_z: float, base: float | None = None, slope: float | None = None) -> float:
    """The ``order_z`` below which an order is called scrambled, for units whose best order found
    has evidence ``best_z``: ``base + slope * max(best_z, 0)`` (defaults: the calibrated
    ``SCRAMBLED_Z`` and ``SCRAMBLED_SLOPE``)."""
    base = SCRAMBLED_Z if base is None else base
    slope = SCRAMBLED_SLOPE if slope is None else slope
    return float(base + slope * max(float(best_z), 0.0))


# --------------------------------------------------------------------------------------------
# Confidence
# --------------------------------------------------------------------------------------------


def position_confidence(order: Sequence[int], value: float, solutions: Sequence[Solution]) -> list[float]:
    """Per-position confidence of ``order`` against competing orders (see the module docstring).

    Parameters
    ----------
    order : sequence of int
        The chosen order.
    value : float
        Its objective value.
    solutions : sequence of Solution
        Competing orders of the same units, e.g. from :func:`reorder.search.k_best`; the chosen
        order counts once whether or not it is among them.

    Returns
    -------
    list of float, length n
        ``confidence[k]``: the exp(value - best)-weighted share of the orders that put
        ``order[k]`` at position ``k``.
    """
    chosen = np.asarray(order, dtype=np.intp)
    pool = {tuple(int(u) for u in chosen): float(value)}
    for solution in solutions:
        if len(solution.order) != len(chosen):
            raise InvalidInputError(
                f"every solution must order {len(chosen)} units; got one of {len(solution.order)}"
            )
        pool.setdefault(tuple(int(u) for u in solution.order), float(solution.value))
    orders = np.array(list(pool), dtype=np.intp).reshape(len(pool), len(chosen))
    values = np.array(list(pool.values()))
    weights = np.exp(values - values.max())
    agree = orders == chosen[None, :]
    return [min(1.0, float(c)) for c in weights @ agree / weights.sum()]  # no 1 + 1 ulp


# --------------------------------------------------------------------------------------------
# Input helpers
# --------------------------------------------------------------------------------------------


def _order(order: Sequence[int] | None, n: int) -> np.ndarray:
    return np.arange(n, dtype=np.intp) if order is None else check_permutation(order, n, "order")
