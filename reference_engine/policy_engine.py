"""The policy engine: feed sync (legacy provider only) and the images loaded from analyses.

A sync runs synchronously inside `POST /v1/feeds` under the simplequeue's `feed_sync` lease and
always answers 200: feed failures show in events delivered to the catalog and in the per-feed
results, never as an error of the call. Loading an image fetches its analysis from the catalog's
archive, as the engine's image ingress does.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from reference_engine import events, faults, feeds, httpapi
from reference_engine.httpapi import Request, Response, Route
from reference_engine.service import Service

FEED_SYNC_LEASE = "feed_sync"
LEASE_TTL_SECONDS = 3600
SYNC_READ_TIMEOUT = 900.0  # apiext waits this long for a synchronous sync


class PolicyEngine(Service):
    name = "policy_engine"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store = feeds.FeedStore()
        self.client = feeds.LegacyFeedClient(self.config.feeds_url)
        self.sync_lock = threading.Lock()
        self.images: dict[tuple[str, str], dict[str, Any]] = {}
        self.images_lock = threading.Lock()

    def api_routes(self) -> list[Route]:
        return [
            Route("GET", "/v1/feeds", self.list_feeds),
            Route("POST", "/v1/feeds", self.sync_feeds),
            Route("POST", "/v1/images", self.ingress_image),
            Route("GET", "/v1/users/{user_id}/images", self.list_images),
            Route("GET", "/v1/users/{user_id}/images/{image_id}/vulnerabilities", self.vulnerabilities),
        ]

    def background_loops(self) -> list[tuple[str, Any]]:
        if self.config.feed_sync_interval > 0:
            return [("feed-sync", self._periodic_sync)]
        return []

    # -- feeds -----------------------------------------------------------------------------------
    def list_feeds(self, _request: Request) -> Response:
        return httpapi.ok(self.store.to_api())

    def sync_feeds(self, _request: Request) -> Response:
        return httpapi.ok(self.run_sync())

    def run_sync(self) -> list[dict[str, Any]]:
        """One sync under the feed_sync lease; every failure ends as events, never as an exception."""
        with self.sync_lock:
            client_id = f"{self.config.host_id}-{self.name}-{uuid.uuid4().hex[:8]}"
            try:
                lease = self._acquire_lease(client_id)
            except Exception as err:
                self.log.error("feed sync not run: %s", err)
                self.emit(
                    self.event(
                        "system.feeds.sync.failed",
                        "Feed sync failed",
                        level="ERROR",
                        resource_id="feeds",
                        resource_type="feeds",
                        details={"cause": f"could not acquire the {FEED_SYNC_LEASE} lease: {err}"},
                    )
                )
                return []
            try:
                return feeds.sync(self.store, self.client, self._emit_feed_event, self.config.grype_db_url)
            finally:
                try:
                    self.call(
                        "simplequeue",
                        "GET",
                        f"leases/{FEED_SYNC_LEASE}/release",
                        params={"client_id": client_id, "epoch": lease["epoch"]},
                    )
                except Exception as err:
                    self.log.warning("feed_sync lease not released (it will expire): %s", err)

    def _acquire_lease(self, client_id: str) -> dict[str, Any]:
        if not self.call("simplequeue", "GET", f"leases/{FEED_SYNC_LEASE}"):
            self.call("simplequeue", "POST", "leases", params={"lease_id": FEED_SYNC_LEASE})
        lease = self.call(
            "simplequeue",
            "GET",
            f"leases/{FEED_SYNC_LEASE}/acquire",
            params={"client_id": client_id, "ttl": LEASE_TTL_SECONDS},
        )
        if not lease:
            raise RuntimeError(f"another owner holds lease {FEED_SYNC_LEASE}")
        return lease

    def _emit_feed_event(self, event_type: str, message: str, **kwargs: Any) -> None:
        if faults.enabled(faults.FEED_FAILURES_SILENT) and isinstance(kwargs.get("details"), dict):
            kwargs["details"] = {k: v for k, v in kwargs["details"].items() if k != "cause"}
        self.emit(self.event(event_type, message, **kwargs))

    def _periodic_sync(self) -> None:
        self.run_sync()
        while not self.stopping.wait(self.config.feed_sync_interval):
            self.run_sync()

    # -- images ----------------------------------------------------------------------------------
    def ingress_image(self, request: Request) -> Response:
        """Load an analysed image: fetch its analysis from the catalog archive (catalog://...)."""
        body = request.json() or {}
        user_id, image_id, fetch_url = body.get("user_id"), body.get("image_id"), body.get("fetch_url", "")
        prefix = "catalog://"
        if not (user_id and image_id and fetch_url.startswith(prefix)):
            return httpapi.error("user_id, image_id and a catalog:// fetch_url are required", 400)
        _account, bucket, name = fetch_url[len(prefix) :].split("/", 2)
        try:
            document = self.call("catalog", "GET", f"archive/{bucket}/{name}")["document"]
        except Exception as err:
            return httpapi.error(f"cannot fetch the image analysis from the catalog: {err}", 500)
        loaded = {
            "user_id": user_id,
            "image_id": image_id,
            "digest": document.get("imageDigest"),
            "layer_count": document.get("layer_count"),
            "loaded_at": events.now_iso(),
        }
        with self.images_lock:
            self.images[(user_id, image_id)] = loaded
        return httpapi.ok({"status": "loaded", "problems": []})

    def list_images(self, request: Request) -> Response:
        with self.images_lock:
            return httpapi.ok([i for (u, _), i in self.images.items() if u == request.params["user_id"]])

    def vulnerabilities(self, request: Request) -> Response:
        """No package analysis here, so no matches; the call exists for the catalog's scan."""
        key = (request.params["user_id"], request.params["image_id"])
        with self.images_lock:
            if key not in self.images:
                return httpapi.error("image not found", 404)
        return httpapi.ok(
            {
                "user_id": key[0],
                "image_id": key[1],
                "vulnerabilities": [],
                "legacy_report": {},
                "last_modified": events.now_iso(),
            }
        )
