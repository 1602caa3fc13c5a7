"""Faults in front of a real server, on loopback: a TCP proxy that cuts the connection after a number of bytes
(a connection lost mid-FETCH or mid-REPORT), a server that answers garbage, and an HTTP proxy that changes
chosen answers of a CalDAV server (a status such as 507, a dropped or truncated answer, a rewritten body).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.servers.base import free_port


class TcpProxy:
    """Forwards 127.0.0.1:port to an upstream port. ``cuts`` lists, per connection in order, after how many bytes
    from the server the connection is cut (None: never); connections beyond the list are never cut. With
    ``stall``, a cut connection is not closed but falls silent: open, and nothing more from the server."""

    def __init__(self, upstream: int, cuts: list[int | None] | None = None, stall: bool = False) -> None:
        self.upstream = upstream
        self.cuts = list(cuts or [])
        self.stall = stall
        self.port = free_port()
        self.connections = 0
        self.received = 0  # bytes the server sent through the proxy, all connections
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            cut = self.cuts.pop(0) if self.cuts else None
            self.connections += 1
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pipe, args=(client, server, None, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, cut, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, cut: int | None, count: bool) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if cut is not None and sent + len(data) >= cut:
                    sink.sendall(data[: max(cut - sent, 0)])
                    if self.stall:
                        self._stopped.wait()
                    break
                sink.sendall(data)
                sent += len(data)
                if count:
                    self.received += len(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()


class GarbageServer:
    """Accepts connections and answers each with ``payload`` (an HTTP page, noise), then closes."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                client.settimeout(2)
                client.sendall(self.payload)
                with contextlib.suppress(OSError):
                    client.recv(4096)
            client.close()

    def stop(self) -> None:
        self._listener.close()


@dataclasses.dataclass
class Rule:
    """What to do to requests ``matches`` accepts, ``times`` times (None: always)."""

    matches: Callable[[str, str, bytes], bool]  # method, path, request body
    status: int | None = None  # answer this status instead (with ``body``), never reaching the server
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # with ``status``: its headers
    drop: bool = False  # forward, then close without answering
    truncate: bool = False  # forward, then send the headers and half the body, then close
    rewrite: Callable[[bytes], bytes] | None = None  # forward, then change the answer's body
    times: int | None = 1


class HttpProxy:
    """An HTTP proxy in front of a CalDAV server that applies :class:`Rule` s; everything else passes as is."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.seen: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.seen.append((self.command, self.path))
                rule = proxy._rule(self.command, self.path, body)
                if rule is not None and rule.status is not None:
                    self._answer(rule.status, {"Content-Type": "text/plain", **rule.headers}, rule.body)
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "accept-encoding")}  # bodies as text
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                kept = {k: v for k, v in answer.getheaders()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection")}
                upstream.close()
                if rule is not None and rule.drop:
                    self.close_connection = True
                    return
                if rule is not None and rule.rewrite is not None:
                    data = rule.rewrite(data)
                if rule is not None and rule.truncate:
                    self.send_response(answer.status)
                    for key, value in kept.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self._answer(answer.status, kept, data)

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_MKCALENDAR = do_OPTIONS = _any

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _rule(self, method: str, path: str, body: bytes) -> Rule | None:
        for rule in self.rules:
            if (rule.times is None or rule.times > 0) and rule.matches(method, path, body):
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclasses.dataclass
class ImapRule:
    """What to do, ``times`` times (None: always), to the client commands ``matches`` accepts (the command line
    without its tag): answer ``answer`` in the server's place (``{tag}`` is the command's tag), or ``close``."""

    matches: Callable[[str], bool]
    answer: str = ""
    close: bool = False
    times: int | None = 1


class ImapProxy:
    """An IMAP proxy in front of a real server that answers chosen commands itself (an answer the server would
    not give, a connection closed at that point); everything else passes as is. Clients that wait for each
    answer before the next command (as imaplib does) only."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.rules: list[ImapRule] = []
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, rule: ImapRule) -> ImapRule:
        self.rules.append(rule)
        return rule

    def _rule(self, command: str) -> ImapRule | None:
        for rule in self.rules:
            if (rule.times is None or rule.times > 0) and rule.matches(command):
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.upstream))
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        with contextlib.suppress(OSError), client.makefile("rb") as lines:
            for line in lines:
                tag, _, command = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
                rule = self._rule(command)
                if rule is None:
                    server.sendall(line)
                elif rule.close:
                    break
                else:
                    client.sendall(rule.answer.replace("{tag}", tag).encode())
        for end in (client, server):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def stop(self) -> None:
        self._listener.close()
