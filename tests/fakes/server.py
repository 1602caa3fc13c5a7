"""A loopback HTTP server for the provider fakes: routes, a request log, latency and fault injection.

Each fake (Gmail, Google Calendar, Google OAuth, Graph, Entra) registers routes on a :class:`FakeServer`
and keeps its own state; the tests inject faults (a status with a body and headers, or a dropped
connection) for requests matching a predicate, a given number of times.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclasses.dataclass
class Request:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    match: re.Match[str] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclasses.dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes as is
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json; charset=UTF-8")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=UTF-8")
            return self.body.encode(), headers
        return self.body or b"", headers


Handler = Callable[[Request], Response]
DROP = Response(status=-1)  # a fault that closes the connection without an answer
TRUNCATE = Response(status=-2)  # headers and part of the body, then the connection closes (a reset mid-page)


@dataclasses.dataclass
class Fault:
    when: Callable[[Request], bool]
    response: Response
    times: int


class FakeServer:
    def __init__(self, latency: float = 0.0, max_concurrent: int | None = None,
                 tls: tuple[str, str] | None = None) -> None:
        self.tls = tls  # (certificate, key) files: serve https (msal accepts only https authorities)
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        # Called before routing (not for DROP/faults); answering a Response refuses the request (401, 429 ...).
        self.guards: list[Callable[[Request], Response | None]] = []
        self.max_concurrent = max_concurrent  # more requests at once get 429 (Outlook's MailboxConcurrency)
        self.in_flight = 0
        self.peak_in_flight = 0
        self.faults: list[Fault] = []
        self.log: list[Request] = []
        self.latency = latency
        self.lock = threading.RLock()  # fakes hold it while changing their state
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- set-up -------------------------------------------------------------------------------------------

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append((method, re.compile(pattern + r"\Z"), handler))
            return handler

        return register

    def locked(self, handler: Handler) -> Handler:
        """``handler`` run under the fake's lock, as every handler that reads or changes a fake's state is."""

        def run(request: Request) -> Response:
            with self.lock:
                return handler(request)

        return run

    def inject(self, when: Callable[[Request], bool], response: Response, times: int = 1) -> None:
        """Answer the next ``times`` requests matching ``when`` with ``response`` (or DROP the connection)."""
        with self.lock:
            self.faults.append(Fault(when, response, times))

    def start(self) -> str:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each small answer on loopback waits ~40 ms for its ACK

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        scheme = "http"
        if self.tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.base_url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Logged requests, optionally only those with this method and a path matching this regex."""
        with self.lock:
            return [r for r in self.log if (method is None or r.method == method)
                    and (path is None or re.search(path, r.path))]

    # ---- serving ------------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        request = Request(
            handler.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in handler.headers.items()}, body,
        )
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            over = self.max_concurrent is not None and self.in_flight > self.max_concurrent
        try:
            if self.latency:
                time.sleep(self.latency)
            if over:
                with self.lock:
                    self.log.append(request)
                response = Response(429, {"error": {"code": "ApplicationThrottled",
                                                    "message": "Application is over its MailboxConcurrency limit."}},
                                    {"Retry-After": "1"})
            else:
                response = self.dispatch(request)
        finally:
            with self.lock:
                self.in_flight -= 1
        if response.status == -1:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if response.status == -2:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            handler.wfile.write(b'{"value": [')
            handler.wfile.flush()
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        data, headers = response.encoded()
        handler.send_response(response.status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def dispatch(self, request: Request) -> Response:
        """Answer one request (also used for the parts of a batch, which are not logged twice over HTTP)."""
        with self.lock:
            self.log.append(request)
            for fault in self.faults:
                if fault.times > 0 and fault.when(request):
                    fault.times -= 1
                    return fault.response
        for guard in self.guards:
            refused = guard(request)
            if refused is not None:
                return refused
        for method, pattern, route in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.match = match
                return route(request)
        return Response(404, {"error": {"code": 404, "message": f"no route for {request.method} {request.path}"}})


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """No proxy for loopback while the fakes serve: httplib2 and requests honour http_proxy (docs/testing.md)."""
    saved = {name: os.environ.get(name) for name in ("no_proxy", "NO_PROXY")}
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
