"""The HTML report: every unit once, in the restored order, byte for byte; escaping; the markers it shows.

Fast: the tiny model and the stand-in embedder, the HTML read back with the standard library's parser
(``pages.parse``); the browser reads the same reports in tests/test_browser.py.
"""

from __future__ import annotations

import json
import re

import pytest

from reorder import Constraints
from reorder.report import COLLAPSE_AT, order_report, render_report, score_report

from conftest import BUDGET_ARTICLE, SEED_TEXT
from pages import parse, units_shown

SEED = SEED_TEXT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reorderer(tiny_model, stand_in):
    from reorder import Reorderer

    return Reorderer(model=tiny_model, embedder=stand_in)


@pytest.fixture(scope="module")
def seed_report(reorderer):
    return order_report(reorderer, SEED)


def test_every_unit_of_the_seed_is_shown_once_in_the_restored_order_byte_for_byte(seed_report):
    result = seed_report.result
    shown = units_shown(render_report(seed_report))
    assert [index for index, _ in shown] == result.permutation
    assert [text for _, text in shown] == [result.units[i] for i in result.permutation]
    assert sorted(index for index, _ in shown) == list(range(len(result.units)))


def test_text_is_escaped_and_the_embedded_data_cannot_break_out(reorderer):
    evil = ("Evil headline\n\n<script>alert('x')</script> opens the story.\n\n"
            "A paragraph with </script><img src=x onerror=alert(1)> & \"quotes\".\n\n"
            "Lines\r\nwith CRLF\r\n\r\nand a last one, <!-- not a comment -->.\r\n")
    report = order_report(reorderer, evil)
    page = render_report(report)
    assert "<script>alert" not in page and "<img" not in page and "<!-- not" not in page
    assert page.count("<script") == 2  # the data and the report's own script
    shown = units_shown(page)
    assert [text for _, text in shown] == [report.result.units[i] for i in report.result.permutation]
    assert any("\r\n" in text for _, text in shown)  # CR LF survives, as &#13;
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data and ">" not in data and "&" not in data
    assert json.loads(data) == json.loads(json.dumps(report.to_dict()))


def test_moved_units_say_where_they_came_from_and_roles_are_named(seed_report):
    root = parse(render_report(seed_report))
    for position, unit in enumerate(root.find_all("div", "unit")):
        index = int(unit.attrs["data-index"])
        assert int(unit.attrs["data-position"]) == position
        (move,) = unit.find_all("span", "move")
        if index == position:
            assert move.text == "stays" and "moved" not in unit.classes
        else:
            assert move.text.endswith(f"from {index}") and "moved" in unit.classes
            assert move.text.startswith("↑" if index > position else "↓")
        role = seed_report.roles[index]
        labels = [e.text for e in unit.find_all("span", "role")]
        assert labels == {"heading": ["headline"], "furniture": ["furniture, kept in place"]}.get(role, [])


def test_confidence_bars_show_each_content_position_s_confidence(seed_report):
    result = seed_report.result
    root = parse(render_report(seed_report))
    expected = dict(zip(result.content_order, result.confidence))
    found = {}
    for unit in root.find_all("div", "unit"):
        meters = unit.find_all("meter")
        if unit.attrs["data-role"] != "content":
            assert meters == []
            continue
        (meter,) = meters
        found[int(unit.attrs["data-index"])] = float(meter.attrs["value"])
        assert unit.find_all("span", "confidence-value")[0].text == f"{expected[int(unit.attrs['data-index'])]:.2f}"
    assert found == pytest.approx(expected, abs=1e-4)


def test_weak_links_are_marked_before_their_unit_with_the_explanation_s_reason(reorderer, seed_report):
    # The tiny model's best order of the seed has no weak link; its worst ends swapped have one.
    content = seed_report.result.content_order
    seed_report = order_report(reorderer, SEED, Constraints(first=content[-1], last=content[0]))
    weak = [t for t in seed_report.restored.transitions if t.weak]
    assert weak, "a weak link to mark (else this test checks nothing)"
    root = parse(render_report(seed_report))
    units_area = root.find_all("div", "units")[0]
    items = [child for child in units_area.children if not isinstance(child, str)]
    links = [(k, e) for k, e in enumerate(items) if "link" in e.classes]
    assert {(int(e.attrs["data-from"]), int(e.attrs["data-to"])) for _, e in links} == {
        (t.source, t.target) for t in weak}
    explanations = {(e.source, e.target): e for e in seed_report.result.explanations}
    for k, link in links:
        target = int(link.attrs["data-to"])
        assert int(items[k + 1].attrs["data-index"]) == target  # right before the unit it leads to
        explanation = explanations[(int(link.attrs["data-from"]), target)]
        reasons = [li.text for li in link.find_all("li")]
        assert reasons == (list(explanation.against) or [explanation.reasons[0]])


def test_verdicts_of_both_orders_are_those_of_score(seed_report, reorderer):
    scored = reorderer.assess_text(SEED)
    assert seed_report.given.order_z == pytest.approx(scored.order_z)
    assert seed_report.given.scrambled == scored.scrambled
    root = parse(render_report(seed_report))
    table = root.find_all("section", "verdicts")[0]
    rows = {tr.find_all("th")[0].text: [td.text for td in tr.find_all("td")] for tr in table.find_all("tr")[1:]}
    restored = seed_report.restored
    assert rows["verdict"] == ["scrambled" if scored.scrambled else "coherent",
                               "scrambled" if restored.scrambled else "coherent"]
    assert rows["order z"] == [f"{scored.order_z:.2f}", f"{restored.order_z:.2f}"]
    assert restored.order == tuple(seed_report.result.content_order)


def test_alternatives_show_exactly_which_units_moved(seed_report):
    result = seed_report.result
    assert len(result.alternatives) == 3
    where = {u: k for k, u in enumerate(result.permutation)}
    root = parse(render_report(seed_report))
    blocks = root.find_all("div", "alternative")
    assert [int(b.attrs["data-rank"]) for b in blocks] == [1, 2, 3]
    for block, alternative in zip(blocks, result.alternatives):
        moved = {u: (where[u], k) for k, u in enumerate(alternative.permutation) if where[u] != k}
        shown = {int(li.attrs["data-index"]): li.text for li in block.find_all("li", "moved-unit")}
        assert shown == {u: f"unit {u}: position {a} → {b}" for u, (a, b) in moved.items()}
        assert [int(li.text) for li in block.find_all("ol")[0].find_all("li")] == alternative.content_order
        marked = {int(li.text) for li in block.find_all("li", "moved")}
        assert marked == set(moved)
    assert blocks[1].attrs["data-moved"] != "0"  # the second best differs somewhere


def test_the_signature_is_shown_and_nothing_is_fetched(seed_report):
    page = render_report(seed_report)
    root = parse(page)
    assert root.find_all("p", "signature")[0].find_all("code")[0].text == seed_report.result.signature
    assert not re.search(r"https?://|src=|href=|@import|url\(", page.split('id="report-data"')[0])
    assert "default-src 'none'" in page


def test_a_document_of_120_units_starts_collapsed_with_the_text_on_demand(reorderer):
    text = "\n\n".join(f"Paragraph {k} tells of the harbour and the {k % 7} boats." for k in range(120)) + "\n"
    report = order_report(reorderer, text, alternatives=1, confidence=False, explain=False)
    page = render_report(report)
    root = parse(page)
    assert root.find_all("section", "order")[0].attrs["data-state"] == "collapsed"
    details = root.find_all("details")
    assert len(details) == 120 and not any("open" in d.attrs for d in details)
    for unit in root.find_all("div", "unit"):
        preview = unit.find_all("span", "preview")[0].text
        full = unit.find_all("div", "text")[0].text
        assert preview.startswith(full[:40].split("\n")[0][:40])  # a one-line preview, the text beside it
    assert [t for _, t in units_shown(page)] == [report.units[i] for i in report.result.permutation]
    short = parse(render_report(order_report(reorderer, BUDGET_ARTICLE, alternatives=1)))
    assert all("open" in d.attrs for d in short.find_all("details"))
    assert COLLAPSE_AT <= 120


def test_constraints_cost_and_are_honoured(reorderer, seed_report):
    content = seed_report.result.content_order
    pinned = content[-1]
    report = order_report(reorderer, SEED, Constraints(first=pinned), alternatives=0, confidence=False)
    assert report.result.content_order[0] == pinned
    assert report.unconstrained_objective == pytest.approx(seed_report.result.value)
    assert report.cost == pytest.approx(seed_report.result.value - report.result.value) and report.cost >= 0
    lean = order_report(reorderer, SEED, Constraints(first=pinned), alternatives=0, confidence=False,
                        explain=False, assess=False)
    assert lean.given is None and "assessment" not in lean.to_dict()
    assert lean.cost == pytest.approx(report.cost)
    assert "below the unconstrained best" in render_report(report)


def test_a_score_report_shows_the_input_order_and_its_weak_links(reorderer):
    report = score_report(reorderer, SEED)
    assert report.to_dict() == {**reorderer.assess_text(SEED).to_dict(),
                                "explanations": [e.to_dict() for e in report.explanations]}
    page = render_report(report)
    shown = units_shown(page)
    assert [i for i, _ in shown] == list(range(len(report.units)))
    assert [t for _, t in shown] == list(report.units)
    root = parse(page)
    links = {(int(e.attrs["data-from"]), int(e.attrs["data-to"])) for e in root.find_all("div", "link")}
    assert links == {(t.source, t.target) for t in report.given.weak_transitions} and links
    assert root.find_all("header")[0].attrs["data-kind"] == "score"


@pytest.mark.parametrize("text", ["", "Only one paragraph here.\n"])
def test_texts_too_short_to_order_still_make_a_report(reorderer, text):
    report = order_report(reorderer, text)
    page = render_report(report)
    assert [t for _, t in units_shown(page)] == [report.units[i] for i in report.result.permutation]
    assert "nothing to assess" in page


def test_order_html_writes_the_report_and_keeps_stdout_as_without(cli, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text(SEED, encoding="utf-8")
    plain = cli("order", article)
    with_report = cli("order", article, "--html", tmp_path / "report.html")
    assert with_report.exit_code == 0 and with_report.stdout == plain.stdout and with_report.stderr == ""
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    as_json = json.loads(cli("order", article, "--format", "json", "--alternatives", "3", "--confidence",
                             "--explain").stdout)
    assert [t for _, t in units_shown(page)] == [as_json["units"][i]["text"] for i in as_json["permutation"]]
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1))
    assert {k: v for k, v in data.items() if k in as_json} == as_json  # the report's data is order's JSON
    json_with_report = cli("order", article, "--format", "json", "--html", tmp_path / "r2.html")
    assert json_with_report.stdout == cli("order", article, "--format", "json").stdout
    to_stdout = cli("order", article, "--html", "-")
    assert to_stdout.stdout.startswith("<!DOCTYPE html>") and to_stdout.stdout == page


def test_score_html_writes_the_report_and_keeps_stdout_as_without(cli, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text(BUDGET_ARTICLE, encoding="utf-8")
    plain = cli("score", article, "--format", "json")
    with_report = cli("score", article, "--format", "json", "--html", tmp_path / "score.html")
    assert with_report.stdout == plain.stdout
    page = (tmp_path / "score.html").read_text(encoding="utf-8")
    assert [t for _, t in units_shown(page)] == [u["text"] for u in json.loads(plain.stdout)["units"]]
    assert cli("score", article, "--html", "-").stdout == page
