"""The legacy feed protocol client and the feed sync, as the policy engine of Anchore Engine 1.1 runs them.

`B` is ANCHORE_FEEDS_URL. A sync lists the feeds (`GET B`, following next_token; the `feeds` key
must be present), then, for every feed both listed and enabled, lists its groups (`GET B/<feed>`),
then pages through each group's records (`GET B/<feed>/<group>`, with `since` after a first
success). Every GET is anonymous, made with module-level `requests.get` and (3 s, 60 s) timeouts,
so requests' environment proxy handling applies. 401/403/404 fail at once; other non-200 answers and
connection errors are tried three times. Failures become events, never errors of the sync itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from reference_engine import faults, proxies
from reference_engine.events import now_iso

ENABLED_FEEDS = ("vulnerabilities", "nvdv2", "github")
TIMEOUT = (3.0, 60.0)
ATTEMPTS = 3
FAIL_AT_ONCE = (401, 403, 404)
# The engine retries a failed feed request 3 times; how long it pauses is not part of the protocol.
RETRY_PAUSE = 0.25
MAX_PAGES = 10_000

Emit = Callable[..., None]


class FeedError(Exception):
    """A feed request that failed for good; its text becomes an event's `cause`."""


def http_get(url: str, params: dict[str, str] | None = None) -> requests.Response:
    """One GET with the feed client's HTTP stack; the proxy faults change only this function."""
    if faults.enabled(faults.FEEDS_IGNORE_PROXY):
        with requests.Session() as session:
            session.trust_env = False  # also drops REQUESTS_CA_BUNDLE, so pass it on explicitly
            return session.get(
                url, params=params, timeout=TIMEOUT, verify=os.environ.get("REQUESTS_CA_BUNDLE") or True
            )
    kwargs: dict[str, Any] = {}
    if faults.enabled(faults.UPPER_CASE_ONLY):
        kwargs["proxies"] = proxies.upper_case_only(url)
    elif faults.enabled(faults.PROXY_CREDENTIALS_NOT_DECODED):
        kwargs["proxies"] = proxies.undecoded_credentials(url)
    elif faults.enabled(faults.PROXY_SCHEME_IGNORED):
        kwargs["proxies"] = proxies.scheme_ignored(url)
    return requests.get(url, params=params, timeout=TIMEOUT, **kwargs)


class LegacyFeedClient:
    def __init__(self, base_url: str, retry_pause: float = RETRY_PAUSE) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_pause = retry_pause

    def get_json(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        last_error = FeedError(f"GET {url} was not tried")
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = http_get(url, params)
            except requests.RequestException as err:
                last_error = FeedError(str(err))
            else:
                status = response.status_code
                if status in FAIL_AT_ONCE:
                    raise FeedError(f"GET {response.url} answered HTTP {status} {response.reason}")
                if status == 200:
                    content_type = response.headers.get("Content-Type")
                    if content_type != "application/json":
                        raise FeedError(f"GET {response.url} answered Content-Type {content_type!r}")
                    try:
                        document = response.json()
                    except ValueError as err:
                        raise FeedError(f"GET {response.url} answered malformed JSON: {err}") from None
                    if not isinstance(document, dict):
                        raise FeedError(f"GET {response.url} answered JSON that is not an object")
                    return document
                last_error = FeedError(f"GET {response.url} answered HTTP {status} {response.reason}")
            if attempt < ATTEMPTS:
                time.sleep(self.retry_pause)
        raise last_error

    def pages(self, url: str, key: str, params: dict[str, str] | None = None) -> Iterator[list[Any]]:
        """Yield `key` of every page, following next_token."""
        token = None
        for _ in range(MAX_PAGES):
            query = dict(params or {})
            if token:
                query["next_token"] = token
            document = self.get_json(url, query or None)
            if key not in document:
                raise FeedError(f"GET {url} answered without a {key!r} key")
            yield document[key] or []
            token = document.get("next_token")
            if not token:
                return
        raise FeedError(f"GET {url}: more than {MAX_PAGES} pages")

    def feeds(self) -> list[dict[str, Any]]:
        return [feed for page in self.pages(self.base_url, "feeds") for feed in page]

    def groups(self, feed: str) -> list[dict[str, Any]]:
        return [group for page in self.pages(f"{self.base_url}/{quote(feed)}", "groups") for group in page]

    def records(self, feed: str, group: str, since: str | None) -> Iterator[list[Any]]:
        url = f"{self.base_url}/{quote(feed)}/{quote(group, safe=':')}"
        return self.pages(url, "data", {"since": since} if since else None)


@dataclass
class GroupState:
    name: str
    description: str = ""
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    enabled: bool = True
    last_sync: str | None = None
    records: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeedState:
    name: str
    description: str = ""
    access_tier: int = 0
    enabled: bool = True
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    last_full_sync: str | None = None
    groups: dict[str, GroupState] = field(default_factory=dict)


class FeedStore:
    """The feed metadata and records the policy engine keeps (in its database, in the engine)."""

    def __init__(self) -> None:
        self.feeds: dict[str, FeedState] = {}

    def to_api(self) -> list[dict[str, Any]]:
        """A snapshot; safe while a sync runs (list() of a dict's values is atomic under the GIL)."""
        return [
            {
                "name": feed.name,
                "created_at": feed.created_at,
                "updated_at": feed.updated_at,
                "last_full_sync": feed.last_full_sync,
                "enabled": feed.enabled,
                "groups": [
                    {
                        "name": group.name,
                        "created_at": group.created_at,
                        "updated_at": group.updated_at,
                        "enabled": group.enabled,
                        "last_sync": group.last_sync,
                        "record_count": len(group.records),
                    }
                    for group in list(feed.groups.values())
                ],
            }
            for feed in list(self.feeds.values())
        ]


def _record_key(record: Any) -> str:
    vulnerability = record.get("Vulnerability") if isinstance(record, dict) else None
    if isinstance(vulnerability, dict) and vulnerability.get("Name"):
        return str(vulnerability["Name"])
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def sync(store: FeedStore, client: LegacyFeedClient, emit: Emit, grype_db_url: str) -> list[dict[str, Any]]:
    """Run one sync; return the per-feed results that `POST /v1/system/feeds` answers."""
    started_at, started = now_iso(), time.monotonic()
    emit(
        "system.feeds.sync.started",
        "Feed sync started",
        resource_id="feeds",
        resource_type="feeds",
        details={"sync_feed_types": list(ENABLED_FEEDS)},
    )
    try:
        listed = client.feeds()
    except FeedError as err:
        emit(
            "system.feeds.sync.failed",
            "Feed sync failed",
            level="ERROR",
            resource_id="feeds",
            resource_type="feeds",
            details={"cause": str(err)},
        )
        return []
    if faults.enabled(faults.FEEDS_SECOND_HOST):
        with contextlib.suppress(requests.RequestException):  # the grype listing never fails a sync
            http_get(grype_db_url)
    for entry in listed:
        name = str(entry.get("name", ""))
        feed = store.feeds.setdefault(name, FeedState(name=name))
        feed.description = str(entry.get("description", ""))
        feed.access_tier = int(entry.get("access_tier", 0) or 0)
        feed.enabled = name in ENABLED_FEEDS
    results = [
        _sync_feed(store.feeds[name], client, emit, started_at)
        for name in dict.fromkeys(str(e.get("name", "")) for e in listed)
        if store.feeds[name].enabled
    ]
    failures = [r for r in results if r["status"] != "success"]
    details = {"result": results, "total_time_seconds": round(time.monotonic() - started, 3)}
    if failures:
        emit(
            "system.feeds.sync.failed",
            "Feed sync failed",
            level="ERROR",
            resource_id="feeds",
            resource_type="feeds",
            details={**details, "cause": failures[0]["cause"]},
        )
    else:
        emit(
            "system.feeds.sync.completed",
            "Feed sync completed",
            resource_id="feeds",
            resource_type="feeds",
            details=details,
        )
    for result in results:
        result.pop("cause", None)
    return results


def _sync_feed(feed: FeedState, client: LegacyFeedClient, emit: Emit, started_at: str) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"feed": feed.name, "status": "success", "total_time_seconds": 0.0, "groups": []}
    try:
        listed = client.groups(feed.name)
    except FeedError as err:
        result.update(
            status="failure", cause=str(err), total_time_seconds=round(time.monotonic() - started, 3)
        )
        emit(
            "system.feeds.sync.feed_failed",
            f"Feed sync failed for feed {feed.name}",
            level="ERROR",
            resource_id=feed.name,
            resource_type="feed",
            details={"feed": feed.name, "cause": str(err)},
        )
        return result
    for entry in listed:
        name = str(entry.get("name", ""))
        group = feed.groups.setdefault(name, GroupState(name=name))
        group.description = str(entry.get("description", ""))
        group_result, cause = _sync_group(feed.name, group, client, emit, started_at)
        if cause is not None and result["status"] == "success":
            result.update(status="failure", cause=cause)
        result["groups"].append(group_result)
    result["total_time_seconds"] = round(time.monotonic() - started, 3)
    feed.updated_at = now_iso()
    if result["status"] == "success":
        feed.last_full_sync = started_at
        emit(
            "system.feeds.sync.feed_completed",
            f"Feed sync completed for feed {feed.name}",
            resource_id=feed.name,
            resource_type="feed",
            details={"feed": feed.name, "groups": [g["group"] for g in result["groups"]]},
        )
    else:
        emit(
            "system.feeds.sync.feed_failed",
            f"Feed sync failed for feed {feed.name}",
            level="ERROR",
            resource_id=feed.name,
            resource_type="feed",
            details={"feed": feed.name, "cause": result["cause"]},
        )
    return result


def _sync_group(
    feed: str, group: GroupState, client: LegacyFeedClient, emit: Emit, started_at: str
) -> tuple[dict[str, Any], str | None]:
    """Return the group's result and, when it failed, the cause."""
    started = time.monotonic()
    result: dict[str, Any] = {"group": group.name, "status": "success", "total_time_seconds": 0.0}
    fetched, cause = 0, None
    try:
        for page in client.records(feed, group.name, group.last_sync):
            for record in page:
                group.records[_record_key(record)] = record
                fetched += 1
    except FeedError as err:
        result["status"], cause = "failure", str(err)
        emit(
            "system.feeds.sync.group_failed",
            f"Feed group sync failed for {feed}/{group.name}",
            level="ERROR",
            resource_id=f"{feed}/{group.name}",
            resource_type="feed_group",
            details={"feed": feed, "group": group.name, "cause": str(err)},
        )
    else:
        group.last_sync = started_at
        group.updated_at = now_iso()
        emit(
            "system.feeds.sync.group_completed",
            f"Feed group sync completed for {feed}/{group.name}",
            resource_id=f"{feed}/{group.name}",
            resource_type="feed_group",
            details={"feed": feed, "group": group.name, "updated_record_count": fetched},
        )
    result.update(
        total_time_seconds=round(time.monotonic() - started, 3),
        updated_record_count=fetched,
        total_records=len(group.records),
        updated_image_count=0,
    )
    return result, cause
