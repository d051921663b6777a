"""A local stand-in for the Anthropic Messages API (tests and benchmarks only).

The real Claude API cannot be reached offline, so the integration tests and the LLM
benchmark point the real ``anthropic`` SDK at this server (``ANTHROPIC_BASE_URL=srv.url``)
instead. It speaks the Messages API wire format - ``POST /v1/messages``, the auth and
``anthropic-version`` headers, ``tool_use`` answers with ``usage``, and error bodies
``{"type": "error", "error": {...}}`` with ``retry-after`` on 429 - so the client code under
test is exactly what runs against Claude.

**Its answers do not come from a model.** The relationships it returns are whatever the
``responder`` callable gives for the ``<document company=".." name="..">`` found in the user
message (default: none); token counts are estimates (characters / 4). What it simulates
faithfully is the transport: latency, a per-window request limit answered with 429,
injected 429/500/529 errors and stalls, and bookkeeping of what it received.

Run standalone with ``python -m axiom.testing.anthropic_fake --port 8765 --latency 2``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import importlib
import json
import math
import re
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast

from axiom.lifecycle import Closable

#: (subject symbol, subject name, document text) -> relationship dicts
#: ``{relation, counterparty, evidence, confidence}``.
Responder = Callable[[str, str, str], list[dict[str, Any]]]

TOOL_NAME = "record_relationships"
_DOCUMENT = re.compile(r'<document company="([^"]*)" name="([^"]*)">(.*?)</document>', re.S)
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}
_ERROR_TYPES |= {404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}

_Answer = tuple[int, dict[str, str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class FakeStats:
    """What the server saw since start or :meth:`FakeAnthropicServer.reset_stats`.

    ``accepted_at`` are ``time.monotonic()`` stamps of requests that passed auth,
    validation, fault injection and the rate limit (the ones the limit counts).
    """

    requests: int = 0
    ok: int = 0
    status: dict[int, int] = field(default_factory=dict)
    max_in_flight: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    accepted_at: tuple[float, ...] = ()

    def count(self, status: int) -> int:
        """How many responses had HTTP ``status``."""
        return self.status.get(status, 0)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Answer:
    kind = _ERROR_TYPES.get(status, "api_error")
    return status, headers or {}, {"type": "error", "error": {"type": kind, "message": message}}


def _retry_headers(seconds: float) -> dict[str, str]:
    """``retry-after`` in whole seconds (what the API sends) plus exact ``retry-after-ms``."""
    ms = max(1, math.ceil(seconds * 1000))
    return {"retry-after": str(math.ceil(ms / 1000)), "retry-after-ms": str(ms)}


def _tokens(obj: object) -> int:
    return math.ceil(len(json.dumps(obj, separators=(",", ":"))) / 4)


def _invalid(req: object) -> str | None:
    """What is wrong with a Messages request body, as the API would say it, or None."""
    if not isinstance(req, dict):
        return "The request body must be a JSON object."
    missing = [name for name in ("model", "max_tokens", "messages") if name not in req]
    if missing:
        return f"{missing[0]}: Field required"
    if not isinstance(req["max_tokens"], int) or req["max_tokens"] < 1:
        return "max_tokens: must be a positive integer"
    if not isinstance(req["messages"], list) or not req["messages"]:
        return "messages: at least one message is required"
    return None


def _find_document(messages: list[Any]) -> tuple[str, str, str] | None:
    """The first ``<document>`` in the user messages (string or text-block content)."""
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) and msg.get("role") == "user" else []
        for block in content if isinstance(content, list) else [{"text": content}]:
            m = _DOCUMENT.search(str(block.get("text", ""))) if isinstance(block, dict) else None
            if m:
                return html.unescape(m[1]), html.unescape(m[2]), html.unescape(m[3])
    return None


class FakeAnthropicServer(Closable):
    """``POST /v1/messages`` on 127.0.0.1 with a free port; thread-per-connection.

    Args:
        latency_s: sleep before every successful answer (errors answer at once).
        rpm_limit: accepted requests per ``window_s`` (a sliding window); beyond it the
            server answers 429 ``rate_limit_error`` with ``retry-after`` computed from the
            window. ``None`` = no limit.
        responder: gives the relationships for a document (default: none).
        api_key: if set, any other key gets 401 ``authentication_error``.
        window_s: the rate-limit window; 60 like the API, shorter to compress test time.
        port: the port on 127.0.0.1; 0 = a free one.
    """

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        rpm_limit: int | None = None,
        responder: Responder | None = None,
        api_key: str | None = None,
        window_s: float = 60.0,
        port: int = 0,
    ) -> None:
        self.latency_s = latency_s
        self.rpm_limit = rpm_limit
        self.responder: Responder = responder or (lambda symbol, name, text: [])
        self.api_key = api_key
        self.window_s = window_s
        self._addr = ("127.0.0.1", port)
        self._lock = threading.Lock()
        self._faults: deque[tuple[int, float | None]] = deque()
        self._stalls: deque[float] = deque()
        self._window: deque[float] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.reset_stats()

    # -- lifecycle
    @property
    def url(self) -> str:
        """Base URL for ``ANTHROPIC_BASE_URL`` (only valid once started)."""
        if self._server is None:
            raise RuntimeError("FakeAnthropicServer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAnthropicServer:
        """Bind and serve from a daemon thread; returns ``self`` (idempotent)."""
        if self._server is None:
            self._server = _Server(self._addr, _Handler)
            self._server.fake = self
            serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
            self._thread = threading.Thread(target=serve, name="anthropic-fake", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close the listening socket (safe to call twice)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    close = stop

    # -- fault injection
    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` valid requests with HTTP ``status`` (no latency).

        429 always carries ``retry-after`` (``retry_after`` or 1 s); other statuses only
        when ``retry_after`` is given.
        """
        if status == 429 and retry_after is None:
            retry_after = 1.0
        with self._lock:
            self._faults.extend([(status, retry_after)] * count)

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """Make the next ``count`` valid requests sleep ``seconds`` before answering."""
        with self._lock:
            self._stalls.extend([seconds] * count)

    # -- bookkeeping
    @property
    def stats(self) -> FakeStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            counts = (self._max_in_flight, self._input_tokens, self._output_tokens)
            status, accepted = dict(self._status), tuple(self._accepted)
            return FakeStats(self._requests, self._status[200], status, *counts, accepted)

    def reset_stats(self) -> None:
        """Zero the counters (the rate-limit window and queued faults are kept)."""
        with self._lock:
            self._requests = self._in_flight = self._max_in_flight = 0
            self._input_tokens = self._output_tokens = 0
            self._status: Counter[int] = Counter()
            self._accepted: list[float] = []

    # -- the API
    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        """Answer one request; called by the HTTP handler threads."""
        with self._lock:
            self._requests += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        status = 500
        try:
            answer = self._answer(path, headers, body)
            status = answer[0]
            return answer
        finally:
            with self._lock:
                self._in_flight -= 1
                self._status[status] += 1

    def _answer(self, path: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        if path.split("?", 1)[0].rstrip("/") != "/v1/messages":
            return _error(404, f"Not found: {path}")
        # the key comes as x-api-key or as a Bearer token (how this SDK version sends it)
        key = headers.get("x-api-key") or ""
        auth = headers.get("authorization") or ""
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            return _error(401, "x-api-key header is required")
        if self.api_key is not None and key != self.api_key:
            return _error(401, "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return _error(400, "anthropic-version: header is required")
        try:
            req = json.loads(body or b"null")
        except ValueError:
            return _error(400, "The request body is not valid JSON.")
        invalid = _invalid(req)
        if invalid:
            return _error(400, invalid)
        refused = self._admit()
        if refused is not None:
            return refused
        with self._lock:
            stall = self._stalls.popleft() if self._stalls else 0.0
        time.sleep(stall + self.latency_s)
        try:
            message = self._message(req)
        except Exception as exc:  # the responder is test code: show its bug, answer 500
            traceback.print_exc(file=sys.stderr)
            return _error(500, f"responder failed: {exc!r}")
        return 200, {}, message

    def _admit(self) -> _Answer | None:
        """Injected faults first, then the sliding-window request limit."""
        with self._lock:
            if self._faults:
                status, after = self._faults.popleft()
                extra = _retry_headers(after) if after is not None else {}
                return _error(status, f"injected {status} ({_ERROR_TYPES.get(status)})", extra)
            now = time.monotonic()
            if self.rpm_limit is not None:
                while self._window and self._window[0] <= now - self.window_s:
                    self._window.popleft()
                if len(self._window) >= self.rpm_limit:
                    wait = self._window[0] + self.window_s - now
                    msg = f"Number of requests has exceeded your rate limit ({self.rpm_limit})"
                    return _error(429, msg, _retry_headers(wait))
                self._window.append(now)
            self._accepted.append(now)
        return None

    def _message(self, req: dict[str, Any]) -> dict[str, Any]:
        tools = req.get("tools") or []
        names = {t.get("name") for t in tools if isinstance(t, dict)}
        choice = req.get("tool_choice") or {}
        forced = TOOL_NAME in names and (
            choice.get("type") == "any"
            or (choice.get("type") == "tool" and choice.get("name") == TOOL_NAME)
        )
        found = _find_document(req["messages"])
        rels = self.responder(*found) if found else []
        input_tokens = _tokens([req.get("system"), req["messages"], tools])
        content: list[dict[str, Any]]
        if forced:
            tool_input = {"relationships": rels}
            output_tokens, stop = _tokens(tool_input), "tool_use"
            block_id = f"toolu_{uuid.uuid4().hex[:24]}"
            content = [{"type": "tool_use", "id": block_id, "name": TOOL_NAME, "input": tool_input}]
        else:
            text = json.dumps(rels)
            output_tokens, stop = math.ceil(len(text) / 4), "end_turn"
            content = [{"type": "text", "text": text}]
        if output_tokens > req["max_tokens"]:  # the answer would not fit: truncated, unusable
            output_tokens, stop, content = req["max_tokens"], "max_tokens", []
        with self._lock:
            self._input_tokens += input_tokens
            self._output_tokens += output_tokens
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": req["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # stalled handlers must not block shutdown
    request_queue_size = 1024  # 100+ clients connect at once
    fake: FakeAnthropicServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeout tests) is normal here; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server_version = "anthropic-fake/1"
    # Headers and body are separate writes: with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms a response) and the transport, not the model, is slow.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = cast(_Server, self.server).fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send(*fake.handle(self.path, headers, body))

    def do_GET(self) -> None:
        self._send(*_error(404, f"Not found: {self.path}"))

    def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status, "Overloaded" if status == 529 else None)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client gave up (its timeout); nothing to do

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and benchmarks send thousands of requests."""


def main(argv: list[str] | None = None) -> None:
    """``python -m axiom.testing.anthropic_fake``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m axiom.testing.anthropic_fake",
        description="Local stand-in for the Anthropic Messages API (answers come from a "
        "responder, not a model).",
    )
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--rpm", type=int, default=None, help="requests per minute, then 429")
    parser.add_argument("--api-key", default=None, help="accept only this key")
    parser.add_argument("--responder", default=None, help="module:function giving relations")
    args = parser.parse_args(argv)
    responder: Responder | None = None
    if args.responder:
        module, _, attr = args.responder.partition(":")
        responder = getattr(importlib.import_module(module), attr)
    with FakeAnthropicServer(
        latency_s=args.latency,
        rpm_limit=args.rpm,
        responder=responder,
        api_key=args.api_key,
        port=args.port,
    ) as srv:
        print(f"fake Anthropic Messages API on {srv.url}", flush=True)
        print(f"  export ANTHROPIC_BASE_URL={srv.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
