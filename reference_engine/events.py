"""Events in the engine's shape; every service but the catalog delivers them to the catalog.

The catalog owns the event list (the engine keeps it in its database); other services POST to the
catalog's `/v1/events`, so an event that reaches the API has crossed services. Delivery failures are
only logged, as in the engine: events are a side channel, never a reason for an operation to fail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    """UTC timestamp as the engine writes it, e.g. 2026-11-29T20:23:01.123456Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make(
    event_type: str,
    message: str,
    source: dict[str, Any],
    *,
    level: str = "INFO",
    resource_id: str = "",
    resource_type: str = "",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `event` object of `GET /v1/events` results."""
    return {
        "type": event_type,
        "level": level,
        "message": message,
        "details": details or {},
        "timestamp": now_iso(),
        "resource": {"user_id": "admin", "id": resource_id, "type": resource_type},
        "source": {**source, "request_id": None},
    }
