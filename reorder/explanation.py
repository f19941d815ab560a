"""Explanations: why each transition of a chosen order was chosen, in words a reader can check.

For each adjacent pair of an order, the cheap cues behind the learned scores (names introduced in full
and then shortened, openers that need a predecessor, shared words, similarity) and the three models'
votes, sorted into reasons for and against the transition.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .coherence import PairwiseScores
from .errors import InvalidInputError
from .features import ANAPHORIC_PHRASE, PAIR_CUES, UNIT_CUES, lexicon, pair_cues, unit_cues
from .objective import value_tolerance
from .validation import check_permutation

__all__ = ["Explanation", "explain", "relabel_explanations"]




@dataclass(frozen=True)
class Explanation:
    """Why ``target`` follows ``source`` in a chosen order: the cues for and against it.

    Attributes
    ----------
    position : int
        The pair stands at positions ``position`` and ``position + 1``.
    source, target : int
    probability : float
        P(target right after source), the follows model.
    rank : int
        Rank of ``target`` among the successors of ``source`` by that probability (1 = best).
    precedes : float
        P(source before target), the precedence model.
    reasons : tuple of str
        Cues in favour, most telling first.
    against : tuple of str
        Cues that speak against the transition.
    cues : dict
        The raw cue values behind the sentences (shared names, opener words, position votes...).
    """

    position: int
    source: int
    target: int
    probability: float
    rank: int
    precedes: float
    reasons: tuple[str, ...]
    against: tuple[str, ...] = ()
    cues: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "position": self.position,
            "from": self.source,
            "to": self.target,
            "probability": self.probability,
            "rank": self.rank,
            "precedes": self.precedes,
            "reasons": list(self.reasons),
            "against": list(self.against),
            "cues": self.cues,
        }


_POSITION_NAMES = ("first", "middle", "last")
_SHOWN = 3  # names or words quoted per reason


def explain(
    units: Sequence[str],
    embeddings: np.ndarray,
    scores: PairwiseScores,
    order: Sequence[int],
) -> list[Explanation]:
    """The reasons behind each transition of ``order``, from cheap cues and the models' votes.

    Parameters
    ----------
    units : sequence of str, length n
    embeddings : ndarray of shape (n, d)
    scores : PairwiseScores
        The model's probabilities for ``units``.
    order : sequence of int
        A permutation of ``range(n)``, e.g. the chosen order.

    Returns
    -------
    list of Explanation, one per adjacent pair of ``order``
    """
    units = list(units)
    n = len(units)
    o = check_permutation(order, n, "order")
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.shape[0] != n or scores.follows.shape != (n, n):
        raise InvalidInputError(f"embeddings and scores must be for the {n} units")
    lex = lexicon(units)
    ucues = unit_cues(units, emb, lex)
    pcues = pair_cues(units, emb, lex)
    cue = {name: ucues[:, k] for k, name in enumerate(UNIT_CUES)}
    pair = {name: pcues[..., k] for k, name in enumerate(PAIR_CUES)}
    follows = np.asarray(scores.follows, dtype=np.float64)
    position = np.asarray(scores.position, dtype=np.float64)
    names = np.array(lex.names, dtype=object)
    vocabulary = np.array(lex.vocabulary, dtype=object)
    df = lex.words.sum(axis=0)
    explanations = []
    for k in range(len(o) - 1):
        i, j = int(o[k]), int(o[k + 1])
        reasons: list[str] = []
        against: list[str] = []
        raw: dict = {}
        p = float(follows[i, j])
        rank = 1 + int(np.sum(np.delete(follows[i], i) > p + value_tolerance(p)))
        reasons.append(f"follows model: P(next) = {p:.2f}, rank {rank} of {n - 1} candidates")
        # Names: introduced in full before, used in short form after; or simply shared.
        introduced = [_name(x) for x in names[(lex.full[i] > 0) & (lex.short[j] > 0)]] if names.size else []
        if introduced:
            reasons.append(f"{_quote(introduced)} named in full here, then by surname only next")
        reverse = [_name(x) for x in names[(lex.full[j] > 0) & (lex.short[i] > 0)]] if names.size else []
        if reverse:
            against.append(f"{_quote(reverse)} used by surname here but introduced in full next")
        mentioned = np.maximum(lex.full, lex.short) if names.size else None
        shared_names = (
            [_name(x) for x in names[(mentioned[i] > 0) & (mentioned[j] > 0)]] if mentioned is not None else []
        )
        if shared_names and not introduced:
            reasons.append(f"both mention {_quote(shared_names)}")
        raw["shared_names"] = shared_names
        raw["names_introduced"] = introduced
        # The opener of the next unit.
        opener = _first_word(units[j])
        if cue["he_said"][j] > 0:
            reasons.append(f"next opens with {opener!r} + said, which needs the speaker named before")
        elif cue["opens_pronoun"][j] > 0:
            reasons.append(f"next opens with the pronoun {opener!r}, which needs a predecessor")
        elif cue["opens_connective"][j] > 0:
            reasons.append(f"next opens with the connective {opener!r}, which needs a predecessor")
        phrase = ANAPHORIC_PHRASE.search(units[j])
        if phrase and cue["opens_pronoun"][j] == 0:
            reasons.append(f"next refers back: {phrase.group(0)!r}")
            raw["refers_back"] = phrase.group(0)
        if pair["quote_continues"][i, j] > 0:
            reasons.append("continues a quotation left open")
        raw["opener"] = opener
        # Shared content words, rarest in the document first.
        both = (lex.words[i] > 0) & (lex.words[j] > 0)
        if vocabulary.size and both.any():
            idx = np.flatnonzero(both)
            idx = idx[np.argsort(df[idx], kind="stable")]
            words = [str(w) for w in vocabulary[idx] if not any(w in nm.lower().split() for nm in shared_names)]
            if words:
                reasons.append(f"shared words: {', '.join(words[:_SHOWN])}")
            raw["shared_words"] = [str(w) for w in vocabulary[idx]]
        cos = float(pair["cosine"][i, j])
        cos_rank = 1 + int(round(float(pair["cosine_rank_row"][i, j]) * (n - 1)))
        raw["cosine"] = cos
        if n > 2 and cos > 0 and cos_rank <= max(1, (n - 1) // 4):
            reasons.append(f"close in meaning: cosine {cos:.2f}, rank {cos_rank} of {n - 1}")
        # Precedence and position models.
        before = float(scores.precedes[i, j])
        raw["precedes"] = before
        if before >= 0.5:
            reasons.append(f"precedence model: P(this before next) = {before:.2f}")
        else:
            against.append(f"precedence model: P(this before next) = {before:.2f}")
        vote_i = int(np.argmax(position[i]))
        vote_j = int(np.argmax(position[j]))
        raw["position_source"] = dict(zip(_POSITION_NAMES, map(float, position[i])))
        raw["position_target"] = dict(zip(_POSITION_NAMES, map(float, position[j])))
        if k == 0:
            text = f"position model: P(this is first) = {position[i, 0]:.2f}"
            if int(np.argmax(position[:, 0])) == i:
                text += ", the most likely opener"
            (reasons if vote_i == 0 or position[i, 0] >= position[:, 0].mean() else against).append(text)
        if k == len(o) - 2:
            text = f"position model: P(next is last) = {position[j, 2]:.2f}"
            (reasons if vote_j == 2 or position[j, 2] >= position[:, 2].mean() else against).append(text)
        elif vote_j == 0:
            against.append(f"position model votes next an opener: P(first) = {position[j, 0]:.2f}")
        explanations.append(
            Explanation(
                position=k,
                source=i,
                target=j,
                probability=p,
                rank=rank,
                precedes=before,
                reasons=tuple(reasons),
                against=tuple(against),
                cues=raw,
            )
        )
    return explanations


def relabel_explanations(explanations: Sequence[Explanation], labels: Sequence[int]) -> list[Explanation]:
    """Explanations with every unit index ``u`` replaced by ``labels[u]`` (the texts name no index)."""
    return [replace(e, source=int(labels[e.source]), target=int(labels[e.target])) for e in explanations]


def _quote(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _name(name: str) -> str:
    return re.sub(r"['’]s$", "", str(name))


def _first_word(text: str) -> str:
    words = text.split()
    return words[0].strip("\"“”‘’'«»,.;:") if words else ""
