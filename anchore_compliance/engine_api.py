"""A small client for the subset of Anchore Engine's v1 API that the checks use.

Non-2xx answers are returned as data (the engine's answer is evidence); only a connection that
cannot be made raises. The session ignores the machine's proxy and CA variables: the suite talks
to the engine directly, and its own traffic must never show up in the proxy's log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

DEFAULT_TIMEOUT = (3.0, 120.0)


class EngineApiUnreachable(Exception):
    """The engine's API did not answer at all."""


@dataclass(frozen=True)
class ApiResponse:
    method: str
    path: str
    status: int
    body: Any  # parsed JSON, else text
    elapsed: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def summary(self) -> str:
        text = str(self.body)
        if len(text) > 300:
            text = text[:300] + "..."
        return f"{self.method} {self.path} -> {self.status} {text}"


class EngineApi:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.auth = (username, password)

    def close(self) -> None:
        self._session.close()

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> ApiResponse:
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        started = time.monotonic()
        try:
            response = self._session.request(
                method, self.base_url + path, auth=None if auth else False, **kwargs
            )
        except requests.RequestException as exc:
            raise EngineApiUnreachable(f"{method} {self.base_url}{path}: {type(exc).__name__}") from exc
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return ApiResponse(method, path, response.status_code, body, time.monotonic() - started)

    # Local answers (no service crossing).
    def health(self) -> ApiResponse:
        return self.request("GET", "/health", auth=False, timeout=(2.0, 5.0))

    def version(self) -> ApiResponse:
        return self.request("GET", "/version", auth=False)

    # Answers that cross services.
    def system(self) -> ApiResponse:
        return self.request("GET", "/v1/system")

    def system_services(self) -> ApiResponse:
        return self.request("GET", "/v1/system/services")

    def feeds(self) -> ApiResponse:
        return self.request("GET", "/v1/system/feeds")

    def sync_feeds(self) -> ApiResponse:
        return self.request("POST", "/v1/system/feeds")

    def events(self, event_type: str) -> ApiResponse:
        return self.request("GET", "/v1/events", params={"event_type": event_type})

    def images(self) -> ApiResponse:
        return self.request("GET", "/v1/images")

    def add_image(self, pullstring: str, *, force: bool = True) -> ApiResponse:
        params = {"force": "true"} if force else None
        return self.request(
            "POST", "/v1/images", params=params, json={"source": {"tag": {"pullstring": pullstring}}}
        )

    def image(self, digest: str) -> ApiResponse:
        return self.request("GET", f"/v1/images/{digest}")


def poll(
    fetch: Callable[[], ApiResponse],
    done: Callable[[ApiResponse], bool],
    *,
    timeout: float,
    interval: float = 0.1,
) -> tuple[ApiResponse, bool]:
    """Call `fetch` until `done` holds or `timeout` passes; return the last answer and whether done."""
    deadline = time.monotonic() + timeout
    while True:
        response = fetch()
        if done(response):
            return response, True
        if time.monotonic() >= deadline:
            return response, False
        time.sleep(interval)
