"""The simplequeue: named FIFO queues with in-flight messages, and leases.

The catalog enqueues analysis jobs, the analyzer polls for them, and the policy engine takes the
`feed_sync` lease around every feed sync, as in the engine (whose queues live in the database).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from typing import Any

from reference_engine import events, httpapi
from reference_engine.httpapi import Request, Response, Route
from reference_engine.service import Service

MAX_WAIT_SECONDS = 5.0


class SimpleQueue(Service):
    name = "simplequeue"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cond = threading.Condition()
        self.queues: dict[str, deque[dict[str, Any]]] = {}
        self.in_flight: dict[str, tuple[str, float, dict[str, Any]]] = {}
        self.leases: dict[str, dict[str, Any]] = {}

    def api_routes(self) -> list[Route]:
        return [
            Route("GET", "/v1/queues", self.list_queues),
            Route("POST", "/v1/queues/{queue}", self.enqueue),
            Route("GET", "/v1/queues/{queue}", self.dequeue),
            Route("DELETE", "/v1/queues/{queue}", self.delete_message),
            Route("GET", "/v1/queues/{queue}/qlen", self.qlen),
            Route("POST", "/v1/leases", self.create_lease),
            Route("GET", "/v1/leases", lambda _r: httpapi.ok(list(self.leases.values()))),
            Route("GET", "/v1/leases/{lease_id}", self.describe_lease),
            Route("GET", "/v1/leases/{lease_id}/acquire", self.acquire_lease),
            Route("GET", "/v1/leases/{lease_id}/release", self.release_lease),
            Route("PUT", "/v1/leases/{lease_id}/ttl", self.refresh_lease),
        ]

    # -- queues ----------------------------------------------------------------------------------
    def list_queues(self, _request: Request) -> Response:
        with self.cond:
            return httpapi.ok(sorted(self.queues))

    def enqueue(self, request: Request) -> Response:
        data = request.json()
        message = {"id": uuid.uuid4().hex, "data": data, "created_at": events.now_iso()}
        with self.cond:
            queue = self.queues.setdefault(request.params["queue"], deque())
            if request.flag("forcefirst"):
                queue.appendleft(message)
            else:
                queue.append(message)
            self.cond.notify_all()
        return httpapi.ok(True)

    def _requeue_expired(self) -> None:
        now = time.monotonic()
        for handle, (queue, deadline, message) in list(self.in_flight.items()):
            if deadline <= now:
                del self.in_flight[handle]
                self.queues.setdefault(queue, deque()).appendleft(message)

    def dequeue(self, request: Request) -> Response:
        """The oldest message, held in flight for visibility_timeout seconds; {} when none came."""
        name = request.params["queue"]
        wait = min(float(request.query.get("wait_max_seconds") or 0), MAX_WAIT_SECONDS)
        visibility = float(request.query.get("visibility_timeout") or 0) or 3600.0
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                self._requeue_expired()
                queue = self.queues.get(name)
                if queue:
                    message = queue.popleft()
                    handle = uuid.uuid4().hex
                    self.in_flight[handle] = (name, time.monotonic() + visibility, message)
                    return httpapi.ok({**message, "receipt_handle": handle})
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return httpapi.ok({})
                self.cond.wait(remaining)

    def delete_message(self, request: Request) -> Response:
        with self.cond:
            found = self.in_flight.pop(request.query.get("receipt_handle", ""), None)
        return httpapi.ok(found is not None)

    def qlen(self, request: Request) -> Response:
        with self.cond:
            return httpapi.ok(len(self.queues.get(request.params["queue"], ())))

    # -- leases ----------------------------------------------------------------------------------
    def create_lease(self, request: Request) -> Response:
        lease_id = request.query.get("lease_id", "")
        if not lease_id:
            return httpapi.error("lease_id is required", 400)
        with self.cond:
            lease = self.leases.setdefault(
                lease_id, {"id": lease_id, "held_by": None, "expires_at": None, "epoch": 0}
            )
            return httpapi.ok(_public_lease(lease))

    def describe_lease(self, request: Request) -> Response:
        with self.cond:
            lease = self.leases.get(request.params["lease_id"])
            return httpapi.ok(_public_lease(lease) if lease else None)

    def acquire_lease(self, request: Request) -> Response:
        """The lease for client_id, or null when another holder's ttl has not run out."""
        client_id = request.query.get("client_id", "")
        ttl = float(request.query.get("ttl") or 60)
        now = time.time()
        with self.cond:
            lease = self.leases.get(request.params["lease_id"])
            if lease is None:
                return httpapi.error("lease not found", 404)
            free = lease["held_by"] in (None, client_id) or (lease["expires_at"] or 0) <= now
            if not free:
                return httpapi.ok(None)
            lease.update(held_by=client_id, expires_at=now + ttl, epoch=lease["epoch"] + 1)
            return httpapi.ok(_public_lease(lease))

    def release_lease(self, request: Request) -> Response:
        client_id = request.query.get("client_id", "")
        with self.cond:
            lease = self.leases.get(request.params["lease_id"])
            if lease is None or lease["held_by"] != client_id:
                return httpapi.ok(None)
            lease.update(held_by=None, expires_at=None)
            return httpapi.ok(_public_lease(lease))

    def refresh_lease(self, request: Request) -> Response:
        client_id = request.query.get("client_id", "")
        with self.cond:
            lease = self.leases.get(request.params["lease_id"])
            if lease is None or lease["held_by"] != client_id:
                return httpapi.ok(None)
            lease["expires_at"] = time.time() + float(request.query.get("ttl") or 60)
            return httpapi.ok(_public_lease(lease))


def _public_lease(lease: dict[str, Any]) -> dict[str, Any]:
    return dict(lease)
