"""`reorder serve`: the API answers what the CLI prints, refuses bad requests with a clear 4xx JSON error,
refuses other hosts and origins, honours constraints, and stays right under concurrent clients.

Fast: Starlette's TestClient (and, for concurrency, a real uvicorn on a free port) over the tiny model
saved to a directory and the stand-in embedder; one test starts `reorder serve` as a subprocess.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from starlette.testclient import TestClient

from reorder import Reorderer
from reorder.server import MAX_BODY_BYTES, create_app

from conftest import BUDGET_ARTICLE, SEED_TEXT
from pages import free_port, serve_process, units_shown

SEED = SEED_TEXT.read_text(encoding="utf-8")
PORT = 8765
EXTRA_KEYS = {"unconstrained_objective", "cost"}


@pytest.fixture(scope="module")
def model_reorderer(tiny_model_dir, stand_in):
    """What `reorder ... --model <tiny model>` builds, with the stand-in embedder."""
    return Reorderer(model=str(tiny_model_dir), embedder=stand_in)


@pytest.fixture(scope="module")
def client(model_reorderer):
    app = create_app(model_reorderer, host="127.0.0.1", port=PORT)
    with TestClient(app, base_url=f"http://127.0.0.1:{PORT}", raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def seed_file(tmp_path):
    path = tmp_path / "seed.txt"
    path.write_text(SEED, encoding="utf-8")
    return path


def test_order_answers_exactly_what_order_format_json_prints(client, cli, seed_file):
    printed = json.loads(cli("order", seed_file, "--format", "json", "--alternatives", "3", "--confidence",
                             "--explain").stdout)
    response = client.post("/api/order", json={"text": SEED, "alternatives": 3, "confidence": True, "explain": True})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) - set(printed) == EXTRA_KEYS
    assert {k: v for k, v in answer.items() if k in printed} == printed
    assert answer["cost"] == 0 and answer["unconstrained_objective"] == printed["objective"]
    plain = json.loads(cli("order", seed_file, "--format", "json").stdout)
    answer = client.post("/api/order", json={"text": SEED}).json()
    assert {k: v for k, v in answer.items() if k not in EXTRA_KEYS} == plain


def test_score_answers_exactly_what_score_format_json_prints(client, cli, seed_file):
    printed = json.loads(cli("score", seed_file, "--format", "json").stdout)
    assert client.post("/api/score", json={"text": SEED}).json() == printed
    answer = client.post("/api/score", json={"text": SEED, "explain": True, "html": True}).json()
    assert set(answer) - set(printed) == {"explanations", "report_html"}
    assert [t for _, t in units_shown(answer["report_html"])] == [u["text"] for u in printed["units"]]


def test_a_pin_and_a_before_are_honoured_and_their_cost_is_given(client):
    best = client.post("/api/order", json={"text": SEED}).json()
    content = [i for i in best["permutation"] if best["units"][i]["role"] == "content"]
    last, second = content[-1], content[1]
    constraints = {"first": last, "before": [[second, content[0]]]}
    answer = client.post("/api/order", json={"text": SEED, "constraints": constraints, "html": True}).json()
    order = [i for i in answer["permutation"] if answer["units"][i]["role"] == "content"]
    assert order[0] == last and order.index(second) < order.index(content[0])
    assert answer["unconstrained_objective"] == pytest.approx(best["objective"])
    assert answer["cost"] == pytest.approx(best["objective"] - answer["objective"]) and answer["cost"] > 0
    assert answer["assessment"]["restored"]["order"] == order
    shown = units_shown(answer["report_html"])
    assert [i for i, _ in shown] == answer["permutation"]
    assert [t for _, t in shown] == [answer["units"][i]["text"] for i in answer["permutation"]]
    constraints = {"groups": [[content[2], content[0]]]}
    groups = client.post("/api/order", json={"text": SEED, "constraints": constraints}).json()
    order = [i for i in groups["permutation"] if groups["units"][i]["role"] == "content"]
    assert order[order.index(content[2]) + 1] == content[0]


BAD_REQUESTS = [
    ("invalid JSON", b'{"text": "no closing brace"', 400, "not valid JSON"),
    ("not an object", json.dumps(["text"]).encode(), 400, "must be a JSON object"),
    ("missing text", json.dumps({"unit": "paragraph"}).encode(), 400, "missing field 'text'"),
    ("text not a string", json.dumps({"text": 42}).encode(), 400, "'text' must be a string"),
    ("2 MB text", json.dumps({"text": "word " * 400_000}).encode(), 413, "at most 1,000,000"),
    ("unknown unit kind", json.dumps({"text": SEED, "unit": "word"}).encode(), 400, "unknown unit kind 'word'"),
    ("a file path", json.dumps({"text": SEED, "path": "/etc/passwd"}).encode(), 400, "unknown field 'path'"),
    ("malformed constraints", json.dumps({"text": SEED, "constraints": {"before": [[1, 2, 3]]}}).encode(), 400,
     "invalid constraints"),
    ("a negative index", json.dumps({"text": SEED, "constraints": {"first": -1}}).encode(), 400, ">= 0"),
    ("an unknown constraint", json.dumps({"text": SEED, "constraints": {"middle": 3}}).encode(), 400,
     "unknown constraint 'middle'"),
    ("impossible constraints", json.dumps({"text": SEED, "constraints": {"before": [[4, 5], [5, 6], [6, 4]]}}).encode(),
     422, "units 4, 5, 6"),
    ("a furniture unit pinned", json.dumps({"text": SEED, "constraints": {"first": 0}}).encode(), 422,
     "not a content unit"),
    ("an index past the end", json.dumps({"text": SEED, "constraints": {"last": 99}}).encode(), 422, "99"),
    ("too many alternatives", json.dumps({"text": SEED, "alternatives": 500}).encode(), 400, "'alternatives'"),
    ("a flag not a bool", json.dumps({"text": SEED, "confidence": "yes"}).encode(), 400, "'confidence'"),
    ("an unpaired surrogate", b'{"text": "bad \\udc80 text"}', 400, "unpaired surrogate"),
    ("bytes that are not UTF-8", b'{"text": "caf\xe9"}', 400, "not UTF-8"),
]


@pytest.mark.parametrize("body, status, message", [b[1:] for b in BAD_REQUESTS], ids=[b[0] for b in BAD_REQUESTS])
def test_each_bad_request_gets_a_clear_json_error_and_the_server_keeps_serving(client, body, status, message):
    response = client.post("/api/order", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error", "status"} and error["status"] == status
    assert message in error["error"] and "Traceback" not in response.text
    assert client.post("/api/order", json={"text": BUDGET_ARTICLE}).status_code == 200


def test_score_refuses_bad_requests_too(client):
    assert client.post("/api/score", json={"text": SEED, "samples": 0}).status_code == 400
    assert client.post("/api/score", json={"text": SEED, "constraints": {}}).status_code == 400
    assert client.post("/api/score", json={"text": "x" * 1_000_001}).status_code == 413


def test_bodies_past_the_limit_and_non_json_bodies_are_refused_before_reading(client):
    response = client.post("/api/order", content=b"{}", headers={"Content-Type": "application/json",
                                                                 "Content-Length": str(MAX_BODY_BYTES + 1)})
    assert response.status_code == 413
    response = client.post("/api/order", data={"text": SEED})  # a form: what a foreign page can send unasked
    assert response.status_code == 415 and "application/json" in response.json()["error"]


def test_too_many_units_are_refused(model_reorderer):
    app = create_app(model_reorderer, port=PORT, max_units=5)
    with TestClient(app, base_url=f"http://127.0.0.1:{PORT}") as client:
        response = client.post("/api/order", json={"text": SEED})
        assert response.status_code == 413 and "at most 5" in response.json()["error"]


@pytest.mark.parametrize("host, status", [("127.0.0.1:8765", 200), ("localhost:8765", 200),
                                          ("evil.example:8765", 421), ("127.0.0.1:9999", 421), ("localhost", 421)])
def test_only_the_bound_host_is_answered(client, host, status):
    assert client.get("/", headers={"Host": host}).status_code == status
    response = client.post("/api/order", json={"text": BUDGET_ARTICLE}, headers={"Host": host})
    assert response.status_code == status
    if status != 200:
        assert "Host" in response.json()["error"]


@pytest.mark.parametrize("origin, status", [("http://127.0.0.1:8765", 200), ("http://localhost:8765", 200),
                                            ("http://evil.example", 403), ("null", 403),
                                            ("http://127.0.0.1:8766", 403), ("https://127.0.0.1:8765", 403)])
def test_cross_origin_posts_are_refused(client, origin, status):
    response = client.post("/api/order", json={"text": BUDGET_ARTICLE}, headers={"Origin": origin})
    assert response.status_code == status
    if status == 403:
        assert "cross-origin" in response.json()["error"]


def test_a_host_given_by_the_user_is_answered(model_reorderer):
    app = create_app(model_reorderer, host="192.0.2.7", port=PORT)
    with TestClient(app, base_url=f"http://192.0.2.7:{PORT}") as client:
        assert client.post("/api/order", json={"text": BUDGET_ARTICLE}).status_code == 200
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 421


def test_the_page_is_self_contained_and_framed_by_nobody(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    page = response.text
    assert 'id="text"' in page and 'id="file"' in page and 'id="order-button"' in page
    assert "http://" not in page and "https://" not in page
    info = client.get("/api/info").json()
    assert info["signature"].startswith("reorder:") and "model:tiny" in info["signature"]
    assert client.get("/missing").json()["status"] == 404
    assert client.get("/api/order").status_code == 405


def test_ten_concurrent_clients_get_every_answer_right(model_reorderer):
    """A real uvicorn on a free port; ten threads post a mix of requests for a few seconds."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(model_reorderer, port=port), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        requests = [("/api/order", {"text": SEED}), ("/api/order", {"text": BUDGET_ARTICLE, "alternatives": 2}),
                    ("/api/order", {"text": SEED, "constraints": {"last": 2}}),
                    ("/api/score", {"text": BUDGET_ARTICLE}), ("/api/order", {"text": SEED, "unit": "sentence"})]
        with httpx.Client(base_url=url, timeout=60) as http:
            expected = [http.post(path, json=body).json() for path, body in requests]
        results: list[tuple[int, bool]] = []
        errors: list[str] = []

        def client(k: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                stop = time.monotonic() + 4
                j = k
                while time.monotonic() < stop or j == k:
                    path, body = requests[j % len(requests)]
                    try:
                        response = http.post(path, json=body)
                        results.append((response.status_code, response.json() == expected[j % len(requests)]))
                    except Exception as exc:  # noqa: BLE001 - recorded, the test fails on it
                        errors.append(repr(exc))
                    j += 1
                    response = http.post("/api/order", content=b"{oops", headers={"Content-Type": "application/json"})
                    results.append((response.status_code, response.status_code == 400))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert len(results) >= 20 and all(ok for _, ok in results)
        assert {status for status, _ in results} == {200, 400}
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_reorder_serve_warns_when_listening_beyond_this_machine(cli, monkeypatch):
    import reorder.server

    calls = []
    monkeypatch.setattr(reorder.server, "serve", lambda reorderer, **kwargs: calls.append(kwargs))
    result = cli("serve", "--port", "9000")
    assert result.exit_code == 0 and result.stderr == "" and calls[-1]["host"] == "127.0.0.1"
    result = cli("serve", "--host", "0.0.0.0", "--port", "9000")
    assert result.exit_code == 0 and "0.0.0.0" in result.stderr and "no authentication" in result.stderr
    assert calls[-1] == {"host": "0.0.0.0", "port": 9000, "log_level": "warning"}
    assert cli("serve", "--port", "0").exit_code == 2


def test_reorder_serve_runs_as_a_command(tiny_model_dir):
    with serve_process(tiny_model_dir) as served:
        status, answer = served.post("/api/order", {"text": BUDGET_ARTICLE, "constraints": {"last": 1}})
        assert status == 200 and answer["permutation"][-1] == 1 and "model:tiny" in answer["signature"]
        status, error = served.post("/api/order", {"text": BUDGET_ARTICLE}, headers={"Origin": "http://evil.example"})
        assert status == 403 and "cross-origin" in error["error"]
