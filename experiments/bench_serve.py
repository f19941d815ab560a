"""Latency and robustness of ``reorder serve``: POST /api/order on the seed, alone and under 10 clients.

    python experiments/bench_serve.py [--model news] [--repeats 10] [--clients 10] [--seconds 30]

Starts ``reorder serve`` as a subprocess on a free port (the models load once, before it listens;
that time is reported apart), then:

1. latency: the seed (``seeds/russia-syria-withdrawal-2016.txt``) posted ``--repeats`` times, one
   request at a time, in two forms: the plain request (``{"text"}``: what ``reorder order --format
   json`` computes) and the page's request (3 alternatives, confidence, explanations, both verdicts
   and the report's HTML). The first request of a text embeds its units; the server remembers the
   vectors, so the repeats (what a user steering the order sends) do not: both are reported.
2. concurrency: ``--clients`` threads post for ``--seconds`` seconds a mix of requests (the plain
   and the page's request, one pinned, /api/score, and a bad one that must get its 400), each
   answer compared with the one the same request got alone beforehand. Reported: requests, errors
   (an exception or an unexpected status), wrong answers (a 200 whose JSON differs).

Timings are wall-clock on a shared machine: read them as orders of magnitude. Writes
``experiments/results/bench_serve.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import reorder

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
SEED = (ROOT / "seeds" / "russia-syria-withdrawal-2016.txt").read_text(encoding="utf-8")
PAGE_REQUEST = {"alternatives": 3, "confidence": True, "explain": True, "html": True}


def post(url: str, payload: dict | bytes, timeout: float = 300) -> tuple[int, dict, float]:
    """(status, JSON answer, seconds) of one POST."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response), time.perf_counter() - start
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str | None) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    command = [sys.executable, "-m", "reorder", "serve", "--port", str(port), *(["--model", model] if model else [])]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    while True:
        if process.poll() is not None:
            raise SystemExit(f"reorder serve exited: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url + "/api/info", timeout=2):
                return process, url, time.perf_counter() - start
        except OSError:
            time.sleep(0.2)


def latency(url: str, payload: dict, repeats: int) -> dict:
    first = post(url + "/api/order", payload)
    assert first[0] == 200, first[1]
    seconds = []
    for _ in range(repeats):
        status, _, elapsed = post(url + "/api/order", payload)
        assert status == 200
        seconds.append(elapsed)
    return {"first_s": first[2], "repeats": repeats, "median_s": statistics.median(seconds),
            "min_s": min(seconds), "max_s": max(seconds)}


def concurrency(url: str, clients: int, duration: float, pin: int) -> dict:
    requests = [("/api/order", {"text": SEED}, 200), ("/api/order", {"text": SEED, **PAGE_REQUEST}, 200),
                ("/api/order", {"text": SEED, "constraints": {"first": pin}}, 200),
                ("/api/score", {"text": SEED}, 200), ("/api/order", b'{"text": ', 400)]
    expected = [post(url + path, body)[1] for path, body, _ in requests]
    counts = {"requests": 0, "errors": 0, "wrong": 0}
    lock = threading.Lock()
    seconds: list[float] = []
    problems: list[str] = []

    def client(k: int) -> None:
        stop = time.monotonic() + duration
        j = k
        while time.monotonic() < stop:
            path, body, status = requests[j % len(requests)]
            try:
                got, answer, elapsed = post(url + path, body)
                error, wrong = got != status, got == status and answer != expected[j % len(requests)]
            except Exception as exc:  # noqa: BLE001 - counted as an error
                error, wrong, elapsed = True, False, 0.0
                problems.append(repr(exc))
            with lock:
                counts["requests"] += 1
                counts["errors"] += error
                counts["wrong"] += wrong
                seconds.append(elapsed)
            j += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    seconds.sort()
    return {**counts, "clients": clients, "seconds": wall, "requests_per_s": counts["requests"] / wall,
            "median_s": statistics.median(seconds), "p95_s": seconds[int(0.95 * (len(seconds) - 1))],
            "max_s": seconds[-1], "problems": problems[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="coherence model (default: the shipped news model)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    process, url, load_s = start_server(args.model)
    try:
        with urllib.request.urlopen(url + "/api/info") as response:
            info = json.load(response)
        print(f"loaded in {load_s:.1f} s: {info['signature']}", flush=True)
        plain = latency(url, {"text": SEED}, args.repeats)
        print(f"plain request: first {plain['first_s']:.2f} s, median {plain['median_s']:.2f} s", flush=True)
        page = latency(url, {"text": SEED, **PAGE_REQUEST}, args.repeats)
        print(f"page request: first {page['first_s']:.2f} s, median {page['median_s']:.2f} s", flush=True)
        best = post(url + "/api/order", {"text": SEED})[1]
        content = [i for i in best["permutation"] if best["units"][i]["role"] == "content"]
        load = concurrency(url, args.clients, args.seconds, pin=content[-1])
        print(f"{args.clients} clients x {args.seconds:g} s: {load['requests']} requests, "
              f"{load['errors']} errors, {load['wrong']} wrong answers; median {load['median_s']:.2f} s, "
              f"p95 {load['p95_s']:.2f} s", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    units = len(reorder.split(SEED).units)
    lines = [
        "# reorder serve: latency and concurrency", "",
        f"The seed ({units} paragraphs), `reorder serve` as a subprocess, {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.machine()}), shared with other work; one run. Models loaded in "
        f"{load_s:.1f} s, before the server listens.", "",
        "| POST /api/order, one at a time | first request (embeds the units) | median of the repeats | "
        "min | max |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| plain `{{\"text\"}}` ({args.repeats} repeats) | {plain['first_s']:.2f} s | {plain['median_s']:.2f} s | "
        f"{plain['min_s']:.2f} s | {plain['max_s']:.2f} s |",
        f"| the page's (3 alternatives, confidence, explanations, verdicts, HTML; {args.repeats} repeats) | "
        f"{page['first_s']:.2f} s | {page['median_s']:.2f} s | {page['min_s']:.2f} s | {page['max_s']:.2f} s |",
        "",
        f"{args.clients} clients posting for {args.seconds:g} s ({load['seconds']:.0f} s until the last answer), "
        "a mix of the plain and the page's request, one pinned "
        "first, /api/score and an invalid body (400 expected), each answer compared with the one it got alone: "
        f"**{load['requests']} requests, {load['errors']} errors, {load['wrong']} wrong answers**; latency under "
        f"load median {load['median_s']:.2f} s, p95 {load['p95_s']:.2f} s, max {load['max_s']:.2f} s "
        f"({load['requests_per_s']:.2f} requests/s: one solver thread serves them in turn).",
    ]
    reorder.write_results(RESULTS / "bench_serve", {"units": units, "load_s": load_s, "plain": plain, "page": page,
                                                    "concurrency": load, "cpu_count": os.cpu_count()},
                          signature=info["signature"], seed=0, markdown="\n".join(lines))


if __name__ == "__main__":
    main()
