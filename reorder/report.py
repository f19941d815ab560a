"""Reports: a restored (or assessed) order as data and as one self-contained HTML page.

A :class:`Report` gathers what one run found for a text: the :class:`~reorder.pipeline.OrderResult`
of ``reorder order`` (the restored order, its confidence, explanations and alternatives), the
:class:`~reorder.assessment.Assessment` of the input order (``reorder score``'s verdict) and that of
the restored order. :func:`order_report` and :func:`score_report` build one through a
:class:`~reorder.pipeline.Reorderer`'s public methods; :func:`render_report` turns it into an HTML
page with its CSS and JavaScript inline and nothing fetched from anywhere (its Content-Security-Policy
forbids it), and :func:`render_fragment` into the part of the page that ``reorder serve`` shows.

Every unit's text is HTML-escaped (a carriage return as ``&#13;``, so that the DOM's ``textContent``
of ``.unit .text`` is the unit byte for byte); the report's data is embedded as JSON in a
``<script type="application/json">`` with ``<``, ``>`` and ``&`` written as ``\\u003c`` and so on, so
that no text can close the element. Documents of :data:`COLLAPSE_AT` units or more start with every
unit collapsed to a one-line preview, the text one click away.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .assessment import WEAK_TRANSITION_PROBABILITY, Assessment
from .explanation import Explanation, relabel_explanations
from .pipeline import OrderResult, Reorderer
from .search import Constraints

__all__ = [
    "COLLAPSE_AT",
    "REPORT_ALTERNATIVES",
    "REPORT_CSS",
    "REPORT_JS",
    "Report",
    "order_report",
    "render_fragment",
    "render_report",
    "score_report",
]

#: Documents with at least this many units start collapsed (each unit a one-line preview).
COLLAPSE_AT = 100
#: The alternatives a report lists when none are asked for.
REPORT_ALTERNATIVES = 3
_PREVIEW = 90  # characters of a collapsed unit's preview

_ASSETS = Path(__file__).parent / "assets"
REPORT_CSS = (_ASSETS / "report.css").read_text(encoding="utf-8")
"""The report's stylesheet (inlined into every report; ``reorder serve``'s page uses it too)."""
REPORT_JS = (_ASSETS / "report.js").read_text(encoding="utf-8")
"""The report's script: expand and collapse the units (inlined; the served page uses it too)."""

# The report fetches nothing: no network, no CDN, whatever a unit's text holds.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class Report:
    """What a report shows for one text.

    Attributes
    ----------
    units, roles : tuple of str
        The text's units, exactly as in the text, and their roles ("content", "heading", "furniture").
    given : Assessment or None
        The verdict on the input order (``reorder score``'s), unit indices those of the text; None
        where the order report was built without assessments.
    result : OrderResult or None
        The restored order (``reorder order``'s result); None for a report of the input order alone.
    restored : Assessment or None
        The verdict on the restored order (its ``order_z`` against the same random orders).
    explanations : tuple of Explanation or None
        Why each transition of the order shown was chosen (the result's own for an order report,
        those of the input order for a score report).
    constrained : bool
        Whether the order was searched under constraints.
    unconstrained_objective : float or None
        The best objective found for the same content units without constraints (the result's own
        when unconstrained; None for a score report). Never below the result's: an order under
        constraints that beats the unconstrained search is the best one known.
    """

    units: tuple[str, ...]
    roles: tuple[str, ...]
    given: Assessment | None
    result: OrderResult | None = None
    restored: Assessment | None = None
    explanations: tuple[Explanation, ...] | None = None
    constrained: bool = False
    unconstrained_objective: float | None = None

    @property
    def order(self) -> list[int]:
        """The units shown, in the order shown: the restored permutation, or the input order."""
        return list(self.result.permutation) if self.result is not None else list(range(len(self.units)))

    @property
    def cost(self) -> float | None:
        """What the constraints cost: the unconstrained best objective minus the result's (>= 0)."""
        if self.result is None or self.unconstrained_objective is None:
            return None
        return self.unconstrained_objective - self.result.value

    def to_dict(self) -> dict:
        """The JSON form. For an order report: exactly ``OrderResult.to_dict()`` (``reorder order
        --format json``) plus ``unconstrained_objective``, ``cost`` and, when assessed,
        ``assessment`` ({"input", "restored"}: ``Assessment.to_dict()`` each). For a score report:
        exactly ``Assessment.to_dict()`` (``reorder score --format json``) plus ``explanations``."""
        if self.result is None:
            payload = self.given.to_dict()
            if self.explanations is not None:
                payload["explanations"] = [e.to_dict() for e in self.explanations]
            return payload
        payload = {**self.result.to_dict(), "unconstrained_objective": self.unconstrained_objective,
                   "cost": self.cost}
        if self.given is not None:
            payload["assessment"] = {"input": self.given.to_dict(),
                                     "restored": None if self.restored is None else self.restored.to_dict()}
        return payload


# --------------------------------------------------------------------------------------------
# Building a report through a Reorderer
# --------------------------------------------------------------------------------------------


def order_report(
    reorderer: Reorderer,
    text: str,
    constraints: Constraints | None = None,
    *,
    alternatives: int = REPORT_ALTERNATIVES,
    confidence: bool = True,
    explain: bool = True,
    assess: bool = True,
    samples: int | None = None,
) -> Report:
    """Restore the order of ``text`` and (with ``assess``) assess both the input order and the restored one.

    ``reorderer.reorder_text(text, constraints, alternatives=, confidence=, explain=)`` gives the
    result, so the report's ``to_dict()`` holds exactly what ``reorder order --format json`` prints
    with those options. The assessments are :meth:`Reorderer.assess` of the result's content units in
    the input order and in the restored one (``samples`` random orders); for a text without
    constraints the first is what :meth:`Reorderer.assess_text` (``reorder score``) finds. Under
    constraints, the unconstrained best comes from the input order's assessment, or without one from
    :meth:`Reorderer.alternatives` (the best order of the same content units).
    """
    result = reorderer.reorder_text(text, constraints, alternatives=alternatives, confidence=confidence,
                                    explain=explain)
    constrained = constraints is not None and not constraints.empty
    content = [i for i, role in enumerate(result.roles) if role == "content"]
    units = [result.units[i] for i in content]
    embeddings = reorderer.embed(units) if len(units) >= 2 and (assess or constrained) else None
    given = restored = None
    unconstrained = result.value
    if assess:
        local = {unit: k for k, unit in enumerate(content)}
        given = reorderer.assess(units, samples=samples, embeddings=embeddings).relabel(content)
        restored = reorderer.assess(units, [local[i] for i in result.content_order], samples=samples,
                                    embeddings=embeddings).relabel(content)
        if constrained:
            unconstrained = max(given.best_value, result.value)
    elif constrained and len(units) >= 2:
        unconstrained = max(reorderer.alternatives(units, 1, embeddings=embeddings)[0].value, result.value)
    return Report(units=tuple(result.units), roles=tuple(result.roles), given=given, result=result,
                  restored=restored, explanations=result.explanations, constrained=constrained,
                  unconstrained_objective=float(unconstrained))


def score_report(reorderer: Reorderer, text: str, *, samples: int | None = None, explain: bool = True) -> Report:
    """Assess the order ``text`` already has (:meth:`Reorderer.assess_text`, ``reorder score``) and,
    with ``explain``, say why each of its transitions reads well or badly."""
    given = reorderer.assess_text(text, samples=samples)
    content = [i for i, role in enumerate(given.roles) if role == "content"]
    explanations = None
    if explain and len(content) >= 2:
        found = reorderer.explain([given.units[i] for i in content], list(range(len(content))))
        explanations = tuple(relabel_explanations(found, content))
    return Report(units=tuple(given.units), roles=tuple(given.roles), given=given, explanations=explanations)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def render_report(report: Report, *, title: str | None = None) -> str:
    """The report as one self-contained HTML page: CSS and JavaScript inline, nothing fetched."""
    name = title or _default_title(report)
    data = json.dumps(report.to_dict(), ensure_ascii=True)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>reorder: {_escape(name)}</title>\n<style>\n{REPORT_CSS}</style>\n</head>\n<body>\n"
        f"<main id=\"report\">\n{render_fragment(report, title=name)}</main>\n"
        f"<script type=\"application/json\" id=\"report-data\">{data}</script>\n"
        f"<script>\n{REPORT_JS}</script>\n</body>\n</html>\n"
    )


def render_fragment(report: Report, *, title: str | None = None) -> str:
    """The report's body (header, verdicts, units, alternatives), for a page that brings the CSS."""
    n = len(report.units)
    collapsed = n >= COLLAPSE_AT
    parts = [_header(report, title or _default_title(report)), _verdicts(report),
             _units_section(report, collapsed), _alternatives(report)]
    return "".join(part for part in parts if part)


def _default_title(report: Report) -> str:
    heading = next((u for u, r in zip(report.units, report.roles) if r == "heading"), None)
    if heading is None:
        heading = next((u for u, r in zip(report.units, report.roles) if r == "content"), "an empty text")
    return _preview(heading, 80)


def _escape(text: str) -> str:
    """HTML-escape ``text`` so that the DOM holds it exactly: a carriage return becomes ``&#13;``
    (the parser would turn CR LF into LF); NUL and lone surrogates, which no HTML page can hold,
    become U+FFFD."""
    text = re.sub("[\x00\ud800-\udfff]", "\ufffd", text)
    return html.escape(text, quote=True).replace("\r", "&#13;")


def _preview(text: str, width: int = _PREVIEW) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _header(report: Report, title: str) -> str:
    result = report.result
    kind = "order" if result is not None else "score"
    n, content = len(report.units), report.roles.count("content")
    if result is not None:
        proof = "proven optimal" if result.optimal else "not proven optimal"
        found = (f"restored by the {_escape(result.method)} search, {proof}; objective "
                 f"{_number(result.value, 3)}")
        if report.constrained:
            found += (f" under constraints, {_number(report.cost, 3)} below the unconstrained best "
                      f"({_number(report.unconstrained_objective, 3)})")
        signature = result.signature
    else:
        found = "the order the text already has"
        signature = report.given.signature
    return (
        f"<header class=\"report-header\" data-kind=\"{kind}\">"
        f"<h1>{_escape(title)}</h1>"
        f"<p class=\"summary\">{n} units, {content} of them content; {found}.</p>"
        f"<p class=\"signature\">signature <code>{_escape(signature)}</code></p>"
        "</header>\n"
    )


def _verdicts(report: Report) -> str:
    columns = [("input order", report.given)]
    if report.result is not None:
        columns.append(("restored order", report.restored))
    if report.given is None:
        return ""
    if report.roles.count("content") < 2:
        return ("<section class=\"verdicts\"><h2>Is it scrambled?</h2>"
                "<p>Fewer than two content units: nothing to assess.</p></section>\n")
    rows = [
        ("verdict", lambda a: "scrambled" if a.scrambled else "coherent"),
        ("order z", lambda a: _number(a.order_z)),
        ("threshold", lambda a: _number(a.threshold)),
        ("score", lambda a: _number(a.score, 3)),
        ("p-value", lambda a: _number(a.p_value, 4)),
        ("objective", lambda a: _number(a.value, 3)),
    ]
    head = "".join(f"<th scope=\"col\">{name}</th>" for name, _ in columns)
    body = []
    for label, cell in rows:
        cells = []
        for name, assessment in columns:
            if assessment is None:
                cells.append("<td>–</td>")
            elif label == "verdict":
                verdict = cell(assessment)
                cells.append(f"<td class=\"verdict {verdict}\" data-order=\"{name.split()[0]}\">{verdict}</td>")
            else:
                cells.append(f"<td>{cell(assessment)}</td>")
        body.append(f"<tr><th scope=\"row\">{label}</th>{''.join(cells)}</tr>")
    reference = next(a for _, a in columns if a is not None)
    note = (f"<p class=\"note\">An order is called scrambled when its order z is below the threshold "
            f"(0.66 + 0.20 &times; best z, best z = {_number(reference.best_z)} here); "
            f"{reference.samples} {'(all)' if reference.exact else 'random'} orders of the same units are the "
            "reference. A transition is weak when P(next follows) &lt; "
            f"{WEAK_TRANSITION_PROBABILITY:g}.</p>")
    return (f"<section class=\"verdicts\"><h2>Is it scrambled?</h2><table><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{note}</section>\n")


def _units_section(report: Report, collapsed: bool) -> str:
    result = report.result
    order = report.order
    confidence = {}
    if result is not None and result.confidence is not None:
        confidence = dict(zip(result.content_order, result.confidence))
    reasons = {(e.source, e.target): e for e in report.explanations or ()}
    items = []
    weak = _weak_links(report)
    for position, index in enumerate(order):
        if index in weak:
            items.append(_weak_link(*weak[index], index, reasons.get((weak[index][0], index))))
        items.append(_unit(report, position, index, confidence.get(index), collapsed))
    heading = "Restored order" if result is not None else "Input order"
    shown = set(order)
    dropped = [i for i in range(len(report.units)) if i not in shown]
    tail = ""
    if dropped:
        tail = ("<section class=\"dropped\"><h3>Dropped furniture</h3>"
                + "".join(f"<div class=\"unit furniture dropped\" data-index=\"{i}\"><div class=\"text\">"
                          f"{_escape(report.units[i])}</div></div>" for i in dropped) + "</section>")
    state = "collapsed" if collapsed else "expanded"
    return (
        f"<section class=\"order\" data-state=\"{state}\"><h2>{heading}</h2>"
        "<p class=\"tools\"><button type=\"button\" data-action=\"expand\">Expand all</button> "
        "<button type=\"button\" data-action=\"collapse\">Collapse all</button> "
        f"<span class=\"legend\">position · unit (input position) · role · confidence of its position</span></p>"
        f"<div class=\"units\">{''.join(items)}</div>{tail}</section>\n"
    )


def _unit(report: Report, position: int, index: int, confidence: float | None, collapsed: bool) -> str:
    role = report.roles[index]
    text = report.units[index]
    classes = ["unit", role]
    if index != position:
        classes.append("moved")
    if index == position:
        move = "<span class=\"move stay\" title=\"at its input position\">stays</span>"
    else:
        arrow = "↑" if index > position else "↓"
        move = (f"<span class=\"move {'up' if index > position else 'down'}\" "
                f"title=\"was at position {index} in the input\">{arrow} from {index}</span>")
    badge = {"heading": "<span class=\"role\">headline</span>",
             "furniture": "<span class=\"role\">furniture, "
                          f"{'kept in place' if index == position else 'moved to the end'}</span>"}.get(role, "")
    if confidence is not None:
        bar = (f"<span class=\"confidence\" title=\"share of the best orders that put this unit here\">"
               f"<meter min=\"0\" max=\"1\" value=\"{confidence:.4f}\"></meter>"
               f"<span class=\"confidence-value\">{confidence:.2f}</span></span>")
    else:
        bar = ""
    open_ = "" if collapsed else " open"
    return (
        f"<div class=\"{' '.join(classes)}\" id=\"unit-{index}\" data-index=\"{index}\" data-position=\"{position}\" "
        f"data-role=\"{role}\"><details{open_}><summary><span class=\"position\">{position}</span>"
        f"<span class=\"index\">unit {index}</span>{move}{badge}{bar}"
        f"<span class=\"preview\">{_escape(_preview(text))}</span></summary>"
        f"<div class=\"text\">{_escape(text)}</div></details></div>"
    )


def _weak_links(report: Report) -> dict[int, tuple[int, float | None, int]]:
    """The weak transitions of the order shown: target -> (source, P(next follows), rank). From the
    assessment of that order (the restored one's, or the input's), else from its explanations."""
    if report.roles.count("content") < 2:
        return {}
    assessment = report.restored if report.result is not None else report.given
    if assessment is not None:
        return {t.target: (t.source, t.probability, t.rank) for t in assessment.transitions if t.weak}
    return {e.target: (e.source, e.probability, e.rank) for e in report.explanations or ()
            if e.probability < WEAK_TRANSITION_PROBABILITY}


def _weak_link(source: int, probability: float | None, rank: int, target: int,
               explanation: Explanation | None) -> str:
    shown = "unknown" if probability is None else f"{probability:.2f}"
    lines = []
    if explanation is not None:
        lines = list(explanation.against) or [r for r in explanation.reasons if r.startswith("follows model")]
    if not lines:
        lines = [f"follows model: P(next) = {shown}, rank {rank}"]
    reasons = "".join(f"<li>{_escape(line)}</li>" for line in lines)
    return (
        f"<div class=\"link weak\" data-from=\"{source}\" data-to=\"{target}\">"
        f"<span class=\"link-label\">weak link {source} → {target}</span> "
        f"<span class=\"link-probability\">P(next follows) = {shown}, rank {rank}</span>"
        f"<ul class=\"reasons\">{reasons}</ul></div>"
    )


def _alternatives(report: Report) -> str:
    result = report.result
    if result is None or not result.alternatives:
        return ""
    where = {unit: k for k, unit in enumerate(result.permutation)}
    blocks = []
    for alternative in result.alternatives:
        moved = [(u, where[u], k) for k, u in enumerate(alternative.permutation) if where.get(u) != k]
        delta = alternative.value - result.value
        if moved:
            moves = "".join(f"<li class=\"moved-unit\" data-index=\"{u}\">unit {u}: position {a} → {b}</li>"
                            for u, a, b in sorted(moved, key=lambda m: m[2]))
            moves = f"<ul class=\"moves\">{moves}</ul>"
        else:
            moves = "<p class=\"moves same\">the chosen order</p>"
        moved_units = {u for u, _, _ in moved}
        sequence = "".join(
            f"<li class=\"{'moved' if u in moved_units else 'same'}\">{u}</li>" for u in alternative.content_order)
        proof = "" if alternative.optimal else " (not proven)"
        blocks.append(
            f"<div class=\"alternative\" data-rank=\"{alternative.rank}\" data-moved=\"{len(moved)}\">"
            f"<h3>#{alternative.rank}: objective {_number(alternative.value, 3)} "
            f"({'+' if delta >= 0 else '−'}{_number(abs(delta), 3)} against the chosen order){proof}</h3>"
            f"{moves}<ol class=\"sequence\" title=\"content units in this order\">{sequence}</ol></div>")
    return (f"<section class=\"alternatives\"><h2>The {len(result.alternatives)} best orders</h2>"
            "<p class=\"note\">Each against the chosen order: the units that move, and the content order "
            "with them marked.</p>" + "".join(blocks) + "</section>\n")
