"""A minimal HTTP API layer on the standard library's ThreadingHTTPServer.

Routes are (method, path pattern, handler, auth) tuples; handlers take a Request and return a
Response. Errors use the engine's JSON shape `{"message", "httpcode", "detail": {"error_codes"}}`;
a missing or wrong login is answered, as by the engine's API, with a plain-text 401 `Unauthorized`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from reference_engine import internal


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    user: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The JSON body, or None when empty; a malformed body raises ValueError (answered 400)."""
        return json.loads(self.body) if self.body.strip() else None

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("true", "1", "yes")


@dataclass
class Response:
    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if self.content_type == "application/json":
            return json.dumps(self.body).encode()
        return str(self.body).encode()


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    auth: bool = True

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern) + "/?$"
        found = re.match(regex, path)
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


def ok(body: Any) -> Response:
    return Response(200, body)


def text(body: str, status: int = 200) -> Response:
    return Response(status, body, content_type="text/plain")


def error(message: str, httpcode: int, error_codes: list[str] | None = None, **detail: Any) -> Response:
    """The engine's error document (anchore_engine.common.helpers.make_response_error)."""
    body = {"message": message, "httpcode": httpcode, "detail": {**detail, "error_codes": error_codes or []}}
    return Response(httpcode, body)


def from_exception(err: Exception) -> Response:
    """Turn a failed internal call into the answer the engine gives: the callee's error document
    when it sent one, else `failed <method> url=...` with 500."""
    if isinstance(err, internal.InternalCallError):
        upstream = err.error_json
        if {"message", "httpcode", "detail"} <= set(upstream):
            detail = dict(upstream["detail"]) if isinstance(upstream["detail"], dict) else {}
            detail.setdefault("error_codes", [])
            return Response(int(upstream["httpcode"]), {**upstream, "detail": detail})
        return error(str(err), 500)
    return error(str(err), 500)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(
    address: str,
    port: int,
    routes: list[Route],
    users: dict[str, str],
    log: Any,
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Bind and serve `routes` in a daemon thread; `users` maps user name to password."""

    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "reference-engine"
        sys_version = ""

        def _authenticated_user(self) -> str | None:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return user if user in users and users[user] == password else None

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            response = self._route(request)
            payload = response.encode()
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _route(self, request: Request) -> Response:
            allowed = False
            for route in routes:
                params = route.match(request.method, request.path)
                if params is None:
                    allowed = allowed or route.match(route.method, request.path) is not None
                    continue
                request.params = params
                if route.auth:
                    request.user = self._authenticated_user()
                    if request.user is None:
                        return Response(
                            401,
                            "Unauthorized",
                            content_type="text/plain",
                            headers={"WWW-Authenticate": 'Basic realm="Authentication required"'},
                        )
                try:
                    return route.handler(request)
                except ValueError as err:
                    return error(f"bad request: {err}", 400)
                except Exception as err:
                    log.exception("unexpected error answering %s %s", request.method, request.path)
                    return error(str(err), 500)
            if allowed:
                return error("Method Not Allowed", 405)
            return error("Not Found", 404)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s - %s", self.address_string(), format % args)

    server = _Server((address, port), RequestHandler)
    # A short poll interval makes shutdown() quick, so stopping an engine takes well under a second.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"http-{port}", daemon=True
    )
    thread.start()
    return server, thread
