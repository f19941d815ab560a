"""Helpers of the report, server and browser tests: read a report's HTML as a tree, run `reorder serve`.

``parse(html)`` builds a small element tree with the standard library's parser (text as the DOM's
``textContent`` would hold it, character references decoded); ``serve_process`` starts ``reorder serve``
as a subprocess over the tiny model and the stand-in embedder (the same seam as conftest's
``stand_in_by_name``, applied inside the subprocess) on a free port, and waits until it answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

from conftest import REPO

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)  # Element or str

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        """The element's textContent."""
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [e for e in self.iter() if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        for k in range(len(self.stack) - 1, 0, -1):
            if self.stack[k].tag == tag:
                del self.stack[k:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def units_shown(html: str) -> list[tuple[int, str]]:
    """(data-index, text) of every unit card of the order shown, in document order."""
    root = parse(html)
    shown = []
    for unit in root.find_all("div", "unit"):
        if "dropped" in unit.classes:
            continue
        (text,) = [e for e in unit.find_all("div", "text")]
        shown.append((int(unit.attrs["data-index"]), text.text))
    return shown


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STAND_IN_SERVE = """
import sys
import reorder.pipeline
from reorder import HashingEmbedder
reorder.pipeline.load_embedder = lambda model=None, **kwargs: HashingEmbedder(name="test-hashing-384")
from reorder.cli import main
main(sys.argv[1:], prog_name="reorder")
"""
"""`reorder` with the stand-in embedder for the name-less default (the tiny model's is test-hashing-384)."""


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen

    def post(self, path: str, payload: dict, headers: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path, data=json.dumps(payload).encode("utf-8"),
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)


@contextlib.contextmanager
def serve_process(model_dir, *args: str, port: int | None = None, timeout: float = 60.0):
    """Run ``reorder serve --model MODEL_DIR ARGS`` (stand-in embedder) until the block ends."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", STAND_IN_SERVE, "serve", "--model", str(model_dir), "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"reorder serve exited with {process.returncode}: {process.stderr.read()}")
            try:
                with urllib.request.urlopen(url + "/api/info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"reorder serve did not answer within {timeout:g} s")
            time.sleep(0.2)
        yield Served(url, port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
