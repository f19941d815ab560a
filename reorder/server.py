"""The local server of ``reorder serve``: a Starlette app that orders and scores posted texts, and its page.

Routes (see :func:`create_app`):

``GET /``
    A page where a user pastes a text (or opens a local file, read in the browser), orders it, sees
    the report (:mod:`reorder.report`) and steers the order: pin a unit first or last, drag it to a
    place, say "A before B"; each change re-solves under the constraints and shows what they cost.
``POST /api/order``
    ``{"text", "unit", "constraints", "alternatives", "confidence", "explain", "assess", "html"}`` ->
    exactly what ``reorder order --format json`` prints with those options, plus
    ``unconstrained_objective`` and ``cost`` (what the constraints cost), with ``assess`` the
    verdicts of the input and the restored order as ``assessment``
    (:meth:`reorder.report.Report.to_dict`), and with ``html`` (which implies ``assess``) the
    report's HTML as ``report_html``.
``POST /api/score``
    ``{"text", "unit", "samples", "explain", "html"}`` -> exactly what ``reorder score --format json``
    prints, plus ``explanations`` (and ``report_html``).
``GET /api/info``
    The signature of the models loaded and the server's limits.

Safe by default: it binds 127.0.0.1; a request whose Host header is not the address the server is
bound to (or localhost / 127.0.0.1 on its port) is refused (421), and so is a POST whose Origin is not
the server's own (403) or whose body is not JSON (415), so that no other web page the user visits can
use it; a body over :data:`MAX_BODY_BYTES` or a text over :data:`MAX_TEXT_BYTES` gets 413, and so does
a text of more than :data:`MAX_UNITS` units; no request names a file on the server. Every error is a
JSON object ``{"error": message}`` with a 4xx status (500 for a bug, without its traceback).

The models are loaded once, before the server listens, and are not assumed to be thread-safe: every
solver call runs in one worker thread, one at a time, so the event loop stays free to take requests
(at most :data:`MAX_PENDING` waiting; beyond that, 503). The search of each request is bounded by the
Reorderer's ``time_limit``; a request waits at most ``request_timeout`` seconds for its turn and answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ._version import __version__
from .document import UNIT_KINDS, split
from .errors import ReorderError
from .pipeline import Reorderer
from .report import REPORT_CSS, REPORT_JS, order_report, render_fragment, score_report
from .search import Constraints

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LOCAL_HOSTS",
    "MAX_ALTERNATIVES",
    "MAX_BODY_BYTES",
    "MAX_PENDING",
    "MAX_SAMPLES",
    "MAX_TEXT_BYTES",
    "MAX_UNITS",
    "allowed_hosts",
    "create_app",
    "serve",
]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Host names that reach only this machine (binding another one is warned about).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
#: The most text a request may carry, in UTF-8 bytes (1 MB).
MAX_TEXT_BYTES = 1_000_000
#: The most a request body may hold: JSON may spell a character in up to 12 bytes ("\\ud83d\\ude00").
MAX_BODY_BYTES = 8 * MAX_TEXT_BYTES
#: The most units a text may split into: the pairwise scores grow with the square of it.
MAX_UNITS = 500
#: The most alternatives a request may ask for, and the most random orders a score request may use.
MAX_ALTERNATIVES = 20
MAX_SAMPLES = 10_000
#: Requests that may wait for the solver at once; beyond, the server answers 503.
MAX_PENDING = 64
#: Seconds a request may wait for its turn and its answer.
REQUEST_TIMEOUT = 120.0

_ORDER_FIELDS = ("text", "unit", "constraints", "alternatives", "confidence", "explain", "assess", "html")
_SCORE_FIELDS = ("text", "unit", "samples", "explain", "html")
_CONSTRAINT_FIELDS = ("first", "last", "before", "groups")
_PAGE = (Path(__file__).parent / "assets" / "page.html").read_text(encoding="utf-8")
_PAGE_JS = (Path(__file__).parent / "assets" / "page.js").read_text(encoding="utf-8")
_PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; "
             "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(Exception):
    """A request the server answers with a 4xx (or 503) status and a JSON message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(payload: dict, status: int = 200) -> Response:
    # As the CLI writes it (json.dumps' defaults), so that the API answers what `--format json` prints.
    return Response(json.dumps(payload, ensure_ascii=False), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message, "status": status}, status)


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host headers the server answers: the bound address, localhost and 127.0.0.1, on its port."""
    names = {host.lower(), "localhost", "127.0.0.1"}
    return frozenset(f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names)


class _Guard:
    """ASGI middleware: refuse requests for another Host (DNS rebinding) and POSTs from another Origin
    (other web pages), before any body is read; add the security headers to every response."""

    def __init__(self, app, *, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = frozenset(f"http://{h}" for h in hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "").lower()
        origin = headers.get("origin")
        refusal = None
        if host not in self.hosts:
            refusal = _error(421, f"this server answers requests for {', '.join(sorted(self.hosts))}, not "
                                  f"Host {host or '(none)'!r}")
        elif scope["method"] not in ("GET", "HEAD") and origin is not None and origin.lower() not in self.origins:
            refusal = _error(403, f"cross-origin requests are refused (Origin {origin!r}); use the page this "
                                  "server serves, or a client that sends no Origin")
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                extra = MutableHeaders(scope=message)
                extra.setdefault("X-Content-Type-Options", "nosniff")
                extra.setdefault("Referrer-Policy", "no-referrer")
                extra.setdefault("Cache-Control", "no-store")
                extra.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _MemoEmbedder:
    """The loaded embedder, remembering the vectors of the last ``capacity`` distinct texts: a text
    re-posted while the user steers its order is embedded once. Used from the solver thread only."""

    def __init__(self, inner, capacity: int = 20_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vector in zip(missing, np.asarray(self.inner.encode(missing), dtype=np.float32)):
                self._vectors[text] = vector
        if not texts:
            return np.asarray(self.inner.encode([]), dtype=np.float32)
        for text in texts:
            self._vectors.move_to_end(text)
        vectors = np.stack([self._vectors[t] for t in texts])
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
        return vectors


class _Solver:
    """The Reorderer's loaded models behind one worker thread: one Reorderer per unit kind, all sharing
    the same scorer, embedder and headline detector, so that the models are loaded once."""

    def __init__(self, reorderer: Reorderer, *, samples: int | None, timeout: float) -> None:
        embedder = _MemoEmbedder(reorderer.embedder_)  # loads the scorer and the embedder, checks they match
        embedder.inner.encode(["The models load before the server listens.", "So the first request waits less."])
        headline = reorderer.headline_ if reorderer.roles else reorderer.headline
        self.reorderers = {
            unit: Reorderer(model=reorderer.scorer, embedder=embedder, method=reorderer.method,
                            time_limit=reorderer.time_limit, weights=reorderer.weights, unit=unit,
                            roles=reorderer.roles, headline=headline, furniture=reorderer.furniture,
                            seed=reorderer.seed)
            for unit in UNIT_KINDS
        }
        self.signature = self.reorderers[UNIT_KINDS[0]].signature()
        self.samples = samples
        self.timeout = timeout
        self.pending = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reorder-solver")

    async def run(self, function, *args, **kwargs):
        """Run ``function`` in the solver thread, after the requests before it; 503 when too many wait
        or the answer takes longer than the timeout."""
        if self.pending >= MAX_PENDING:
            raise _Refused(503, f"the server is busy ({self.pending} requests waiting); try again shortly")
        self.pending += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self.executor, lambda: function(*args, **kwargs))
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            raise _Refused(503, f"no answer within {self.timeout:g} s; try a shorter text") from None
        finally:
            self.pending -= 1


# --------------------------------------------------------------------------------------------
# Reading and checking a request
# --------------------------------------------------------------------------------------------


async def _read_object(request: Request, fields: Sequence[str]) -> dict:
    """The request's JSON object, refused with 415 (not JSON), 413 (too large) or 400 (malformed)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise _Refused(415, f"send the request as JSON (Content-Type: application/json), not {media or 'none'!r}")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _Refused(400, f"invalid Content-Length {declared!r}")
        if int(declared) > MAX_BODY_BYTES:
            raise _Refused(413, f"the request is {int(declared):,} bytes; the server takes at most "
                                f"{MAX_BODY_BYTES:,}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Refused(413, f"the request is over {MAX_BODY_BYTES:,} bytes, the most the server takes")
    try:
        data = json.loads(bytes(body).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Refused(400, f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:
        raise _Refused(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _Refused(400, f"the body must be a JSON object with {', '.join(fields)}; got a {type(data).__name__}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise _Refused(400, f"unknown field {unknown[0]!r}; a request may hold {', '.join(fields)}")
    return data


def _text(data: dict, max_text_bytes: int) -> str:
    if "text" not in data:
        raise _Refused(400, "missing field 'text': the text to order, as a JSON string")
    text = data["text"]
    if not isinstance(text, str):
        raise _Refused(400, f"'text' must be a string; got {_kind(text)}")
    match = _SURROGATE.search(text)
    if match:
        raise _Refused(400, f"'text' holds an unpaired surrogate (U+{ord(match.group()):04X}) at character "
                            f"{match.start()}; send valid Unicode")
    size = len(text.encode("utf-8"))
    if size > max_text_bytes:
        raise _Refused(413, f"the text is {size:,} bytes; the server takes at most {max_text_bytes:,} "
                            f"({max_text_bytes / 1e6:g} MB)")
    return text


def _unit(data: dict) -> str:
    unit = data.get("unit", "paragraph")
    if unit not in UNIT_KINDS:
        raise _Refused(400, f"unknown unit kind {unit!r}; choose from {', '.join(UNIT_KINDS)}")
    return unit


def _count(data: dict, name: str, default: int | None, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Refused(400, f"'{name}' must be an integer from {low} to {high}; got {_kind(value)}")
    return value


def _flag(data: dict, name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise _Refused(400, f"'{name}' must be true or false; got {_kind(value)}")
    return value


def _constraints(data: dict) -> Constraints | None:
    """The request's constraints, in the text's unit indices: {"first", "last", "before": [[a, b], ...],
    "groups": [[i, j, ...], ...]}; malformed ones are refused here (400), impossible ones by the search (422)."""
    given = data.get("constraints")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise _Refused(400, f"'constraints' must be an object with {', '.join(_CONSTRAINT_FIELDS)}; got {_kind(given)}")
    unknown = sorted(set(given) - set(_CONSTRAINT_FIELDS))
    if unknown:
        raise _Refused(400, f"unknown constraint {unknown[0]!r}; constraints may hold {', '.join(_CONSTRAINT_FIELDS)}")
    try:
        constraints = Constraints(first=given.get("first"), last=given.get("last"), before=given.get("before") or (),
                                  groups=given.get("groups") or ())
    except ReorderError as exc:
        raise _Refused(400, f"invalid constraints: {exc}") from None
    negative = sorted(i for i in constraints.named if i < 0)
    if negative:
        raise _Refused(400, f"invalid constraints: unit indices are >= 0; got {negative[0]}")
    return None if constraints.empty else constraints


def _kind(value) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 40 else f"a {type(value).__name__}"


def _check_size(text: str, unit: str, max_units: int) -> int:
    """The number of units ``text`` splits into; 413 beyond ``max_units``."""
    units = len(split(text, unit))
    if units > max_units:
        raise _Refused(413, f"the text splits into {units:,} {unit}s; the server orders at most {max_units:,} "
                            "(try --unit paragraph, or a shorter text)")
    return units


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------


def create_app(
    reorderer: Reorderer,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    samples: int | None = None,
    max_text_bytes: int = MAX_TEXT_BYTES,
    max_units: int = MAX_UNITS,
    request_timeout: float = REQUEST_TIMEOUT,
) -> Starlette:
    """The Starlette app of ``reorder serve`` over ``reorderer``'s models (loaded here, once).

    ``host`` and ``port`` are where it will listen: requests for any other Host are refused (see the
    module docstring). ``samples``: the random orders each verdict is measured against (default
    :data:`reorder.assessment.DEFAULT_SAMPLES`); a score request may ask for others. The request's
    ``unit`` picks how the text is split; every other setting (model, search, weights, roles,
    furniture, seed) is ``reorderer``'s.
    """
    solver = _Solver(reorderer, samples=samples, timeout=request_timeout)
    page = _PAGE.replace("{{CSS}}", REPORT_CSS).replace("{{JS}}", REPORT_JS + "\n" + _PAGE_JS)
    page = page.replace("{{VERSION}}", __version__)

    def answers(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except _Refused as refusal:
                return _error(refusal.status, refusal.message)
            except ReorderError as exc:  # the library says the input cannot be done: impossible constraints...
                return _error(422, str(exc))
            except Exception:  # a bug: logged here with its traceback, never sent
                logger.exception("error answering %s %s", request.method, request.url.path)
                return _error(500, "internal error; the server's log says more")

        return endpoint

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": _PAGE_CSP})

    async def info(request: Request) -> Response:
        return _json({"version": __version__, "signature": solver.signature, "units": list(UNIT_KINDS),
                      "max_text_bytes": max_text_bytes, "max_units": max_units,
                      "max_alternatives": MAX_ALTERNATIVES})

    async def order(request: Request) -> Response:
        data = await _read_object(request, _ORDER_FIELDS)
        text, unit = _text(data, max_text_bytes), _unit(data)
        constraints = _constraints(data)
        alternatives = _count(data, "alternatives", 0, 0, MAX_ALTERNATIVES)
        confidence, explain = _flag(data, "confidence", False), _flag(data, "explain", False)
        html = _flag(data, "html", False)
        assess = _flag(data, "assess", False) or html  # the report shows both verdicts
        units = _check_size(text, unit, max_units)
        if constraints is not None:
            constraints.check(units)  # a contradiction named in the text's unit indices (422)

        def work() -> dict:
            report = order_report(solver.reorderers[unit], text, constraints, alternatives=alternatives,
                                  confidence=confidence, explain=explain, assess=assess, samples=solver.samples)
            payload = report.to_dict()
            if html:
                payload["report_html"] = render_fragment(report)
            return payload

        return _json(await solver.run(work))

    async def score(request: Request) -> Response:
        data = await _read_object(request, _SCORE_FIELDS)
        text, unit = _text(data, max_text_bytes), _unit(data)
        samples = _count(data, "samples", solver.samples, 1, MAX_SAMPLES)
        explain, html = _flag(data, "explain", False), _flag(data, "html", False)
        _check_size(text, unit, max_units)

        def work() -> dict:
            report = score_report(solver.reorderers[unit], text, samples=samples, explain=explain or html)
            payload = report.to_dict()
            if not explain:
                payload.pop("explanations", None)
            if html:
                payload["report_html"] = render_fragment(report)
            return payload

        return _json(await solver.run(work))

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")

    @asynccontextmanager
    async def lifespan(app):
        yield
        solver.executor.shutdown(wait=False, cancel_futures=True)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/info", info, methods=["GET"]),
        Route("/api/order", answers(order), methods=["POST"]),
        Route("/api/score", answers(score), methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.add_middleware(_Guard, hosts=allowed_hosts(host, port))
    app.state.solver = solver
    return app


def serve(reorderer: Reorderer, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, samples: int | None = None,
          log_level: str = "info") -> None:
    """Load the models, then answer requests on ``host:port`` until interrupted (uvicorn)."""
    app = create_app(reorderer, host=host, port=port, samples=samples)
    shown = f"[{host}]" if ":" in host else host
    logger.warning("serving %s on http://%s:%d/ (Ctrl-C stops it)", app.state.solver.signature, shown, port)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=log_level == "debug",
                server_header=False, timeout_graceful_shutdown=2)
