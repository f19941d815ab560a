"""In a real browser: the report shows every unit once, in order, byte for byte; the served page orders,
pins and re-solves.

The browser is Debian's chromium with chromium-driver, driven by selenium through the system
chromedriver (nothing is downloaded at test time). Where any of them is missing the tests skip,
saying which; with REORDER_REQUIRE_BROWSER=1 (as .ci/run sets) they fail instead. Screenshots are
decoded with Pillow (a dependency of matplotlib, a dev dependency) and must not be blank.
"""

from __future__ import annotations

import io
import os
import shutil
import time

import pytest

from reorder import Constraints, Reorderer
from reorder.report import order_report, render_report

from conftest import SEED_TEXT
from pages import serve_process

SEED = SEED_TEXT.read_text(encoding="utf-8")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1100,1400")
REQUIRE = os.environ.get("REORDER_REQUIRE_BROWSER") == "1"


def _missing() -> list[str]:
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install selenium)")
    for program, package in (("chromium", "chromium"), ("chromedriver", "chromium-driver")):
        if shutil.which(program) is None:
            missing.append(f"{program} (apt-get install {package})")
    return missing


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = _missing()
    if missing:
        message = f"the browser tests need {', '.join(missing)}"
        if REQUIRE:
            pytest.fail(f"{message}; REORDER_REQUIRE_BROWSER=1 forbids skipping")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def reorderer(tiny_model, stand_in):
    return Reorderer(model=tiny_model, embedder=stand_in)


SHOWN_UNITS = """
return Array.from(document.querySelectorAll('#report .units > .unit, main .units > .unit')).map(function (u) {
  var meter = u.querySelector('meter');
  return [Number(u.getAttribute('data-index')), u.querySelector('.text').textContent,
          meter ? Number(meter.value) : null];
});
"""
WEAK_LINKS = """
return Array.from(document.querySelectorAll('.units > .link.weak')).map(function (l) {
  var next = l.nextElementSibling;
  return [Number(l.getAttribute('data-from')), Number(l.getAttribute('data-to')),
          Number(next.getAttribute('data-index')), l.textContent];
});
"""


def _not_blank(driver, name: str, tmp_path) -> None:
    from PIL import Image

    png = driver.get_screenshot_as_png()
    (tmp_path / f"{name}.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 10, f"{name}: the screenshot is blank ({colours})"


def _check_report_in_dom(driver, report) -> None:
    result = report.result
    shown = driver.execute_script(SHOWN_UNITS)
    assert [index for index, _, _ in shown] == result.permutation  # each unit once, in the restored order
    assert [text for _, text, _ in shown] == [result.units[i] for i in result.permutation]  # byte for byte
    confidence = dict(zip(result.content_order, result.confidence))
    for index, _, value in shown:
        assert value == (pytest.approx(confidence[index], abs=1e-4) if index in confidence else None)
    weak = {(t.source, t.target) for t in report.restored.transitions if t.weak}
    links = driver.execute_script(WEAK_LINKS)
    assert {(a, b) for a, b, _, _ in links} == weak
    assert all(b == next_unit and "weak link" in text for _, b, next_unit, text in links)


def test_the_report_of_the_seed_shows_every_unit_once_in_order_with_its_markers(browser, reorderer, tmp_path):
    plain = order_report(reorderer, SEED)
    content = plain.result.content_order
    steered = order_report(reorderer, SEED, Constraints(first=content[-1], last=content[0]))  # has a weak link
    for name, report in (("restored", plain), ("steered", steered)):
        path = tmp_path / f"{name}.html"
        path.write_text(render_report(report), encoding="utf-8")
        browser.get(path.as_uri())
        _check_report_in_dom(browser, report)
        verdicts = browser.execute_script(
            "return Array.from(document.querySelectorAll('td.verdict')).map(function (td) { return td.textContent; })")
        assert verdicts == ["scrambled" if a.scrambled else "coherent" for a in (report.given, report.restored)]
        assert report.result.signature in browser.find_element("css selector", ".signature code").text
        _not_blank(browser, name, tmp_path)
    assert any(t.weak for t in steered.restored.transitions)


def test_script_in_a_text_is_shown_as_text_and_never_run(browser, reorderer, tmp_path):
    text = ("A <script>window.pwned = 1</script> headline\n\n"
            "<img src=x onerror=\"window.pwned = 2\"> is a paragraph.\n\n"
            "And </script><script>window.pwned = 3</script> one more.\r\n")
    report = order_report(reorderer, text)
    path = tmp_path / "evil.html"
    path.write_text(render_report(report), encoding="utf-8")
    browser.get(path.as_uri())
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.execute_script("return document.querySelectorAll('script').length") == 2
    shown = browser.execute_script(SHOWN_UNITS)
    assert [t for _, t, _ in shown] == [report.units[i] for i in report.result.permutation]


def test_a_long_document_starts_collapsed_and_opens_on_demand(browser, reorderer, tmp_path):
    text = "\n\n".join(f"Paragraph {k} of a long file about the harbour." for k in range(120)) + "\n"
    report = order_report(reorderer, text, alternatives=1, confidence=False, explain=False)
    path = tmp_path / "long.html"
    path.write_text(render_report(report), encoding="utf-8")
    browser.get(path.as_uri())
    count_open = "return document.querySelectorAll('.unit details[open]').length"
    assert browser.execute_script(count_open) == 0
    assert browser.find_element("css selector", ".unit .text").is_displayed() is False
    browser.find_element("css selector", "button[data-action=expand]").click()
    assert browser.execute_script(count_open) == 120
    shown = browser.execute_script(SHOWN_UNITS)
    assert [t for _, t, _ in shown] == [report.units[i] for i in report.result.permutation]


def _wait(driver, script: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    error = driver.execute_script("return document.getElementById('error').textContent")
    raise AssertionError(f"timed out waiting for: {script} (page error: {error!r})")


def _solves(driver, count: int) -> None:
    _wait(driver, f"return document.body.getAttribute('data-solves') === '{count}' && "
                  "document.body.getAttribute('data-busy') === 'false'")


def _content_order(driver) -> list[int]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#report .units > .unit.content'))"
        ".map(function (u) { return Number(u.getAttribute('data-index')); })")


def test_the_served_page_orders_an_opened_file_then_re_solves_under_a_pin(browser, tiny_model_dir, tmp_path):
    from selenium.webdriver.support.ui import Select

    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(SEED, encoding="utf-8")
    with serve_process(tiny_model_dir) as served:
        browser.get(served.url + "/")
        browser.find_element("id", "file").send_keys(str(seed_file))  # read in the browser by FileReader
        _wait(browser, "return document.getElementById('text').value.length > 0")
        assert browser.execute_script("return document.getElementById('text').value") == SEED
        Select(browser.find_element("id", "unit")).select_by_value("paragraph")
        browser.find_element("id", "order-button").click()
        _solves(browser, 1)
        page_request = {"text": SEED, "unit": "paragraph", "constraints": {}, "alternatives": 3, "confidence": True,
                        "explain": True, "html": True}
        status, expected = served.post("/api/order", page_request)
        assert status == 200
        shown = browser.execute_script(SHOWN_UNITS)
        assert [i for i, _, _ in shown] == expected["permutation"]
        assert [t for _, t, _ in shown] == [expected["units"][i]["text"] for i in expected["permutation"]]
        _not_blank(browser, "served", tmp_path)

        content = _content_order(browser)
        pinned = content[-1]
        browser.find_element("css selector", f"#unit-{pinned} button[data-pin=first]").click()
        _solves(browser, 2)
        steered = _content_order(browser)
        assert steered[0] == pinned and sorted(steered) == sorted(content)
        assert "cost" in browser.find_element("id", "cost").text
        status, answer = served.post("/api/order", {**page_request, "constraints": {"first": pinned}})
        assert [i for i, _, _ in browser.execute_script(SHOWN_UNITS)] == answer["permutation"]
        assert f"{answer['cost']:.3f}" in browser.find_element("id", "cost").text

        a, b = steered[-1], steered[1]  # "A before B" where A now comes last
        Select(browser.find_element("id", "before-a")).select_by_value(str(a))
        Select(browser.find_element("id", "before-b")).select_by_value(str(b))
        browser.find_element("id", "add-before").click()
        _solves(browser, 3)
        again = _content_order(browser)
        assert again[0] == pinned and again.index(a) < again.index(b)
        constraints = browser.execute_script("return Array.from(document.querySelectorAll('#constraints li'))"
                                             ".map(function (li) { return li.textContent; })")
        assert len(constraints) == 2 and constraints[0].startswith(f"unit {pinned} ")
        _not_blank(browser, "steered", tmp_path)


@pytest.mark.slow
def test_the_seed_s_report_with_the_real_model_shows_each_paragraph_once_in_order_s_order(browser, real_reorderer,
                                                                                           tmp_path):
    report = order_report(real_reorderer, SEED)
    assert report.result.permutation == real_reorderer.reorder_text(SEED).permutation  # `reorder order`'s order
    path = tmp_path / "seed.html"
    path.write_text(render_report(report), encoding="utf-8")
    browser.get(path.as_uri())
    _check_report_in_dom(browser, report)
    _not_blank(browser, "seed", tmp_path)
