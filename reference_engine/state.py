"""Service registration rows: the stand-in for the engine's `services` database table.

Every container of one engine shares the state directory (a bind mount). Each service instance
writes one JSON row there, atomically, and rewrites it on every heartbeat. Services find each other
only by reading these rows, as the official engine reads its database, so "up" comes from
heartbeats, never from a network check.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

HEARTBEAT_SECONDS = 5.0
# A row whose heartbeat is older than this is reported down (the engine's service watcher does so).
STALE_AFTER_SECONDS = 60.0


def _row_path(state_dir: Path, servicename: str, hostid: str) -> Path:
    safe_host = re.sub(r"[^A-Za-z0-9_.-]", "_", hostid)
    return state_dir / "services" / f"{servicename}__{safe_host}.json"


def write_row(state_dir: Path, row: dict[str, Any]) -> None:
    """Write (or rewrite) one row atomically: readers see the old row or the new one, never half."""
    path = _row_path(state_dir, row["servicename"], row["hostid"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".row-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(row, handle)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_rows(state_dir: Path) -> list[dict[str, Any]]:
    """Every row, with status turned false where the heartbeat is stale."""
    rows = []
    now = time.time()
    for path in sorted((state_dir / "services").glob("*.json")):
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if row.get("status") and now - float(row.get("heartbeat", 0)) > STALE_AFTER_SECONDS:
            row = {**row, "status": False, "status_message": "no heartbeat"}
        rows.append(row)
    return rows


def available(state_dir: Path, servicename: str) -> list[dict[str, Any]]:
    return [row for row in read_rows(state_dir) if row.get("servicename") == servicename and row["status"]]
