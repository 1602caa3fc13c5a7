"""Microsoft Graph's JSON batching on a :class:`FakeServer`: ``POST /v1.0/$batch`` (docs/microsoft-graph.md#json-batching).

As documented: a JSON body ``{"requests": [...]}`` of 1 to 20 requests, each with an ``id`` unique in the
batch (not case-sensitive), a ``method``, a ``url`` relative to the version root, optional ``headers`` and a
``body`` that needs a ``Content-Type`` header; a malformed batch answers 400 as a whole. Each request is
served on its own by the fakes' routes, with the batch's Authorization, through the server's guards and
injected faults (so a test can answer one request 429 with its own Retry-After, or 503), and counted on its
own; the answer is 200 with ``{"responses": [{id, status, headers, body}]}`` in another order than asked.
A fault that drops the connection or cuts the body on any request does so to the whole batch's answer,
after every request of it was served.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeServer, Request, Response

MAX_REQUESTS = 20
PATH = r"/v1\.0/\$batch"
PART = "x-fake-batch-part"  # set on each request of a batch in the server's log: it had no HTTP request of its own


def serve_batches(server: FakeServer) -> None:
    """Answer ``POST /v1.0/$batch`` on ``server`` (once, however many Graph fakes share it)."""
    if getattr(server, "serves_graph_batches", False):
        return
    server.serves_graph_batches = True  # type: ignore[attr-defined]
    server.route("POST", PATH)(lambda request: _batch(server, request))


def _bad(message: str) -> Response:
    return Response(400, {"error": {"code": "BadRequest", "message": message}})


def _batch(server: FakeServer, request: Request) -> Response:
    try:
        payload = request.json()
    except ValueError:
        return _bad("Unable to read JSON request payload.")
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        return _bad("Invalid batch payload: 'requests' is missing or empty.")
    if len(requests) > MAX_REQUESTS:
        return _bad(f"Invalid batch payload format: the batch holds more than {MAX_REQUESTS} requests.")
    ids = [str(item.get("id", "")).lower() for item in requests if isinstance(item, dict)]
    if len(ids) != len(requests) or "" in ids or len(set(ids)) != len(ids):
        return _bad("Invalid batch payload: every request needs an id, unique in the batch.")
    answers = [_one(server, request, item) for item in requests]
    lost = next((answer for answer in answers if answer.status < 0), None)
    if lost is not None:
        return lost  # every request was served; a dropped or cut-off answer loses the whole batch's answer
    responses = []
    for item, answer in zip(requests, answers, strict=True):
        data, headers = answer.encoded()
        body: Any = None
        if data:
            try:
                body = json.loads(data)
            except ValueError:
                body = data.decode("utf-8", "replace")
        responses.append({"id": str(item["id"]), "status": answer.status, "headers": headers, "body": body})
    responses.reverse()  # "individual responses might appear in a different order than the requests"
    return Response(200, {"responses": responses})


def _one(server: FakeServer, outer: Request, item: dict[str, Any]) -> Response:
    method, url = str(item.get("method") or "").upper(), str(item.get("url") or "")
    if not method or not url or url.startswith(("http://", "https://")):
        return _bad("Invalid request: a method and a url relative to the version root are required.")
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = b""
    if "body" in item:
        if "content-type" not in headers:
            return _bad("Content-Type header is required when a body is given.")
        body = json.dumps(item["body"]).encode()
    if "authorization" in outer.headers:
        headers.setdefault("authorization", outer.headers["authorization"])
    headers[PART] = str(item["id"])
    parts = urlsplit("/v1.0/" + url.lstrip("/"))
    return server.dispatch(Request(method, parts.path, parse_qs(parts.query, keep_blank_values=True), headers, body))
