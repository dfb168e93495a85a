"""What every service shares: its HTTP server, its registration row and heartbeat, internal calls,
event delivery, and the local endpoints (/health, /version, /v1/status) that never cross services."""

from __future__ import annotations

import threading
import time
from typing import Any

from reference_engine import (
    API_VERSION,
    DB_SCHEMA_VERSION,
    ENGINE_VERSION,
    SERVICE_API_VERSION,
    events,
    httpapi,
    internal,
    log,
    state,
)
from reference_engine.config import ADMIN_USER, SYSTEM_USER, Config
from reference_engine.httpapi import Request, Response, Route


class Service:
    """Base of the five services; subclasses add `api_routes()` and optional background loops."""

    name = "service"

    def __init__(self, config: Config, port: int) -> None:
        self.config = config
        self.port = port
        self.log = log.get(self.name)
        self.registered = threading.Event()
        self.stopping = threading.Event()
        self.server: Any = None
        self._threads: list[threading.Thread] = []

    # -- identity --------------------------------------------------------------------------------
    @property
    def registered_port(self) -> int:
        """The port written in the row (the catalog-unreachable fault overrides it)."""
        return self.port

    @property
    def base_url(self) -> str:
        return f"http://{self.config.endpoint_hostname}:{self.registered_port}"

    def status(self) -> dict[str, Any]:
        return {
            "up": True,
            "available": True,
            "busy": False,
            "message": "all good",
            "detail": {},
            "version": ENGINE_VERSION,
            "db_version": DB_SCHEMA_VERSION,
        }

    def row(self) -> dict[str, Any]:
        return {
            "servicename": self.name,
            "hostid": self.config.host_id,
            "base_url": self.base_url,
            "version": SERVICE_API_VERSION,
            "status": True,
            "status_message": "available",
            "service_detail": self.status(),
            "heartbeat": int(time.time()),
        }

    # -- HTTP ------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("GET", "/health", self._health, auth=False),
            Route("GET", "/version", self._version, auth=False),
            Route("GET", "/v1/status", lambda _r: httpapi.ok(self.status()), auth=False),
            Route("GET", "/v1", lambda _r: httpapi.text(SERVICE_API_VERSION), auth=False),
            *self.api_routes(),
        ]

    def api_routes(self) -> list[Route]:
        return []

    def _health(self, _request: Request) -> Response:
        if not self.registered.is_set():
            return httpapi.text("not registered yet", 503)
        return httpapi.text("ok")

    def _version(self, _request: Request) -> Response:
        return httpapi.ok(
            {
                "service": {"version": ENGINE_VERSION},
                "api": {"version": API_VERSION},
                "db": {"schema_version": DB_SCHEMA_VERSION},
            }
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def listen(self) -> None:
        users = {ADMIN_USER: self.config.admin_password, SYSTEM_USER: self.config.system_password}
        self.server, thread = httpapi.serve(
            self.config.listen_address, self.port, self.routes(), users, self.log
        )
        self._threads.append(thread)
        self.log.info(
            "listening on %s:%d, registering base_url %s",
            self.config.listen_address,
            self.port,
            self.base_url,
        )

    def register(self) -> None:
        state.write_row(self.config.state_dir, self.row())
        self.registered.set()
        self.log.info("registered %s (hostid %s)", self.name, self.config.host_id)

    def start_background(self) -> None:
        self._spawn("heartbeat", self._heartbeat_loop)
        for name, target in self.background_loops():
            self._spawn(name, target)

    def background_loops(self) -> list[tuple[str, Any]]:
        return []

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"{self.name}-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _heartbeat_loop(self) -> None:
        while not self.stopping.wait(state.HEARTBEAT_SECONDS):
            try:
                state.write_row(self.config.state_dir, self.row())
            except OSError as err:
                self.log.error("heartbeat not stored: %s", err)

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- helpers for subclasses --------------------------------------------------------------------
    def call(self, servicename: str, method: str, path: str, **kwargs: Any) -> Any:
        return internal.call(self.config, servicename, method, path, **kwargs)

    def event(self, event_type: str, message: str, **kwargs: Any) -> dict[str, Any]:
        source = {"servicename": self.name, "hostid": self.config.host_id, "base_url": self.base_url}
        return events.make(event_type, message, source, **kwargs)

    def emit(self, event: dict[str, Any]) -> None:
        """Deliver an event to the catalog; a failure is logged and otherwise ignored."""
        try:
            self.call("catalog", "POST", "events", body=event)
        except Exception as err:
            self.log.warning("event %s not delivered to the catalog: %s", event["type"], err)
