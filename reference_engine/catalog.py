"""The catalog: service rows, images, events, registry records and the analysis archive.

It owns the business state other services read and write over HTTP: apiext lists services and
images through it, the analyzer reports status and stores analysis results in it, and every service
delivers its events to it. Adding an image looks the manifest up with `skopeo inspect --raw`
(registry traffic through Go's proxy rules) and enqueues an analysis job on the simplequeue.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import threading
import uuid
from typing import Any

import requests

from reference_engine import events, faults, httpapi, imageref, skopeo, state
from reference_engine.httpapi import Request, Response, Route
from reference_engine.service import Service

ANALYSIS_QUEUE = "images_to_analyze"
UNUSED_PORT = 1  # tcpmux: nothing listens there, so connections are refused at once
REQUEUE_SECONDS = 5.0
PING_TIMEOUT = (3.0, 60.0)


class Catalog(Service):
    name = "catalog"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.images: dict[str, dict[str, Any]] = {}
        self.unqueued: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.registries: dict[str, dict[str, Any]] = {}
        self.archive: dict[tuple[str, str], Any] = {}
        self.vulnerability_reports: dict[str, Any] = {}

    @property
    def registered_port(self) -> int:
        if faults.enabled(faults.CATALOG_UNREACHABLE):
            return UNUSED_PORT
        return self.port

    def api_routes(self) -> list[Route]:
        return [
            Route("GET", "/v1/system/services", self.list_services),
            Route("GET", "/v1/system/services/{servicename}", self.list_services),
            Route("POST", "/v1/image", self.add_image),
            Route("GET", "/v1/image", self.list_images),
            Route("GET", "/v1/image/{digest}", self.get_image),
            Route("PUT", "/v1/image/{digest}", self.update_image),
            Route("POST", "/v1/events", self.add_event),
            Route("GET", "/v1/events", self.list_events),
            Route("POST", "/v1/system/registries", self.add_registry),
            Route("GET", "/v1/system/registries", self.list_registries),
            Route("POST", "/v1/archive/{bucket}/{name}", self.put_document),
            Route("GET", "/v1/archive/{bucket}/{name}", self.get_document),
        ]

    def background_loops(self) -> list[tuple[str, Any]]:
        return [("analysis-queuer", self._queuer_loop)]

    # -- services --------------------------------------------------------------------------------
    def list_services(self, request: Request) -> Response:
        rows = state.read_rows(self.config.state_dir)
        wanted = request.params.get("servicename")
        return httpapi.ok([row for row in rows if not wanted or row["servicename"] == wanted])

    # -- events ----------------------------------------------------------------------------------
    def store_event(self, event: dict[str, Any]) -> None:
        record = {"generated_uuid": uuid.uuid4().hex, "created_at": events.now_iso(), "event": event}
        with self.lock:
            self.events.append(record)

    def add_event(self, request: Request) -> Response:
        event = request.json()
        if not isinstance(event, dict) or "type" not in event:
            return httpapi.error("event must be an object with a type", 400)
        self.store_event(event)
        return httpapi.ok(event)

    def list_events(self, request: Request) -> Response:
        """Newest first; event_type takes a glob (system.feeds.*) or a dotted prefix."""
        pattern = request.query.get("event_type", "")
        level = request.query.get("level", "").upper()
        resource_type = request.query.get("resource_type", "")
        with self.lock:
            records = list(reversed(self.events))
        selected = [
            r
            for r in records
            if _type_matches(r["event"]["type"], pattern)
            and (not level or r["event"].get("level", "").upper() == level)
            and (not resource_type or r["event"].get("resource", {}).get("type") == resource_type)
            and (not request.query.get("since") or r["event"]["timestamp"] >= request.query["since"])
            and (not request.query.get("before") or r["event"]["timestamp"] < request.query["before"])
        ]
        limit = int(request.query.get("limit") or 0) or len(selected) or 1
        page = max(1, int(request.query.get("page") or 1))
        chunk = selected[(page - 1) * limit : page * limit]
        return httpapi.ok(
            {"results": chunk, "next_page": page * limit < len(selected), "item_count": len(chunk)}
        )

    # -- registries ------------------------------------------------------------------------------
    def add_registry(self, request: Request) -> Response:
        body = request.json() or {}
        registry = str(body.get("registry", "")).strip()
        if not registry:
            return httpapi.error("registry is required", 400)
        record = {
            "registry": registry,
            "registry_name": body.get("registry_name") or registry,
            "registry_user": body.get("registry_user"),
            "registry_pass": body.get("registry_pass"),
            "registry_type": body.get("registry_type") or "docker_v2",
            "registry_verify": bool(body.get("registry_verify", True)),
            "created_at": events.now_iso(),
            "last_updated": events.now_iso(),
            "userId": "admin",
        }
        if request.flag("validate"):
            problem = self._ping_registry(record)
            if problem:
                return httpapi.error(
                    f"cannot ping supplied registry with supplied credentials - exception: {problem}", 406
                )
        with self.lock:
            self.registries[registry] = record
        return httpapi.ok([record])

    def _ping_registry(self, record: dict[str, Any]) -> str | None:
        """GET https://<registry>/v2/ with requests (https only, like the engine); None when it works."""
        url = f"https://{record['registry']}/v2/"
        auth = (record["registry_user"], record["registry_pass"]) if record["registry_user"] else None
        where = f"failed check to access registry ({url},{record['registry_user']})"
        try:
            response = requests.get(url, auth=auth, verify=record["registry_verify"], timeout=PING_TIMEOUT)
        except requests.RequestException as err:
            return f"{where} - exception: {err}"
        return None if response.status_code == 200 else f"{where} - HTTP {response.status_code}"

    def list_registries(self, _request: Request) -> Response:
        with self.lock:
            return httpapi.ok(list(self.registries.values()))

    def credentials_for(self, registry: str) -> skopeo.Credentials:
        with self.lock:
            record = self.registries.get(registry)
        if not record:
            return skopeo.Credentials()
        return skopeo.Credentials(record["registry_user"], record["registry_pass"], record["registry_verify"])

    # -- images ----------------------------------------------------------------------------------
    def add_image(self, request: Request) -> Response:
        body = request.json() or {}
        tag = request.query.get("tag") or body.get("tag") or ""
        try:
            ref = imageref.parse(tag)
        except ValueError as err:
            return httpapi.error("cannot handle image input string", 400, raw_exception_message=str(err))
        try:
            manifest, digest, parent_digest = skopeo.lookup(
                f"{ref.registry}/{ref.repo}", ref.pullstring, self.credentials_for(ref.registry)
            )
        except skopeo.SkopeoError as err:
            self.log.warning("registry lookup failed for %s: %s", ref.pullstring, err)
            self.store_event(
                self.event(
                    "system.image_analysis.registry_lookup_failed",
                    "Referenced image not found in registry",
                    level="ERROR",
                    resource_id=ref.pullstring,
                    resource_type="image_reference",
                    details=err.as_dict(),
                )
            )
            return httpapi.error(
                "cannot fetch image digest/manifest from registry",
                400,
                [err.error_code],
                raw_exception_message=str(err),
            )
        with self.lock:
            record = self.images.get(digest)
            if record is None:
                record = _new_record(ref, digest, parent_digest, manifest)
                self.images[digest] = record
                self.unqueued.add(digest)
            else:
                _add_tag(record, ref, digest)
                if request.flag("force"):
                    record.update(
                        analysis_status="not_analyzed", analyzed_at=None, last_updated=events.now_iso()
                    )
                    self.unqueued.add(digest)
            snapshot = _public(record)
        self._enqueue(digest)
        return httpapi.ok([snapshot])

    def _enqueue(self, digest: str) -> None:
        """Put an analysis job on the simplequeue; a failure leaves it for the queuer loop to retry."""
        with self.lock:
            if digest not in self.unqueued:
                return  # queued meanwhile by the other caller (request thread or queuer loop)
            self.unqueued.discard(digest)
            job = {"userId": "admin", "imageDigest": digest, "manifest": self.images[digest]["manifest"]}
        try:
            self.call("simplequeue", "POST", f"queues/{ANALYSIS_QUEUE}", body=job, params={"qcount": 0})
        except Exception as err:
            self.log.warning("analysis job for %s not queued yet: %s", digest, err)
            with self.lock:
                self.unqueued.add(digest)

    def _queuer_loop(self) -> None:
        while not self.stopping.wait(REQUEUE_SECONDS):
            with self.lock:
                pending = sorted(self.unqueued)
            for digest in pending:
                self._enqueue(digest)

    def list_images(self, _request: Request) -> Response:
        with self.lock:
            return httpapi.ok([_public(r) for r in self.images.values()])

    def get_image(self, request: Request) -> Response:
        with self.lock:
            record = self.images.get(request.params["digest"])
            if record is None:
                return httpapi.error("image not found", 404)
            return httpapi.ok([_public(record)])

    def update_image(self, request: Request) -> Response:
        """The analyzer's status updates; completing an analysis starts a vulnerability scan."""
        changes = request.json() or {}
        digest = request.params["digest"]
        with self.lock:
            record = self.images.get(digest)
            if record is None:
                return httpapi.error("image not found", 404)
            for key in ("analysis_status", "analyzed_at", "image_content", "image_status"):
                if key in changes:
                    record[key] = changes[key]
            record["last_updated"] = events.now_iso()
            snapshot = _public(record)
        if changes.get("analysis_status") == "analyzed":
            image_id = snapshot["image_detail"][0]["imageId"]
            threading.Thread(target=self._vulnerability_scan, args=(digest, image_id), daemon=True).start()
        return httpapi.ok(snapshot)

    def _vulnerability_scan(self, digest: str, image_id: str) -> None:
        """Ask the policy engine for the image's vulnerabilities, as the catalog's scan does."""
        try:
            report = self.call("policy_engine", "GET", f"users/admin/images/{image_id}/vulnerabilities")
        except Exception as err:
            self.log.warning("vulnerability scan of %s failed: %s", digest, err)
            return
        with self.lock:
            self.vulnerability_reports[digest] = report

    # -- archive ---------------------------------------------------------------------------------
    def put_document(self, request: Request) -> Response:
        body = request.json() or {}
        with self.lock:
            self.archive[(request.params["bucket"], request.params["name"])] = body.get("document")
        return httpapi.ok(True)

    def get_document(self, request: Request) -> Response:
        with self.lock:
            key = (request.params["bucket"], request.params["name"])
            if key not in self.archive:
                return httpapi.error("document not found", 404)
            return httpapi.ok({"document": self.archive[key]})


def _type_matches(event_type: str, pattern: str) -> bool:
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(event_type, pattern)
    return event_type == pattern or event_type.startswith(pattern.rstrip(".") + ".")


def _detail(ref: imageref.ImageRef, digest: str, image_id: str) -> dict[str, Any]:
    now = events.now_iso()
    return {
        "registry": ref.registry,
        "repo": ref.repo,
        "tag": ref.tag or "latest",
        "fulltag": ref.fulltag,
        "digest": digest,
        "fulldigest": f"{ref.registry}/{ref.repo}@{digest}",
        "imageDigest": digest,
        "imageId": image_id,
        "userId": "admin",
        "created_at": now,
        "last_updated": now,
        "tag_detected_at": now,
        "dockerfile": None,
    }


def _image_id(manifest: str) -> str:
    try:
        config_digest = json.loads(manifest).get("config", {}).get("digest", "")
    except (ValueError, AttributeError):
        config_digest = ""
    return config_digest.split(":", 1)[-1]


def _new_record(ref: imageref.ImageRef, digest: str, parent_digest: str, manifest: str) -> dict[str, Any]:
    now = events.now_iso()
    return {
        "imageDigest": digest,
        "parentDigest": parent_digest,
        "userId": "admin",
        "image_type": "docker",
        "image_status": "active",
        "analysis_status": "not_analyzed",
        "analyzed_at": None,
        "created_at": now,
        "last_updated": now,
        "annotations": {},
        "image_content": {
            "metadata": dict.fromkeys(
                ("arch", "distro", "distro_version", "dockerfile_mode", "image_size", "layer_count")
            )
        },
        "image_detail": [_detail(ref, digest, _image_id(manifest))],
        "manifest": manifest,
    }


def _add_tag(record: dict[str, Any], ref: imageref.ImageRef, digest: str) -> None:
    if all(d["fulltag"] != ref.fulltag for d in record["image_detail"]):
        record["image_detail"].append(_detail(ref, digest, record["image_detail"][0]["imageId"]))


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the API shows it (the raw manifest stays inside the catalog)."""
    return copy.deepcopy({k: v for k, v in record.items() if k != "manifest"})
