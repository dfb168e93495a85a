"""apiext: the public API (base /v1, HTTP Basic admin:<ANCHORE_ADMIN_PASSWORD>).

Everything but /health, /version and /v1/status crosses to another service: to the catalog for
services, images, registries and events, to the policy engine for feeds. Failures answer as the
engine answers, including its quiet one: `GET /v1/system` says 200 with no services when the
catalog cannot be reached.
"""

from __future__ import annotations

from typing import Any

from reference_engine import httpapi, skopeo
from reference_engine.httpapi import Request, Response, Route
from reference_engine.policy_engine import SYNC_READ_TIMEOUT
from reference_engine.service import Service

# The catalog's registry lookup may run skopeo twice (a manifest list, then the image).
LOOKUP_READ_TIMEOUT = 2 * skopeo.INSPECT_TIMEOUT + 30
_SERVICE_KEYS = ("servicename", "hostid", "base_url", "version", "status", "status_message", "service_detail")


def _service_state(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row.get(key) for key in _SERVICE_KEYS}


class Apiext(Service):
    name = "apiext"

    def api_routes(self) -> list[Route]:
        return [
            Route("GET", "/v1/system", self.system),
            Route("GET", "/v1/system/services", self.services),
            Route("GET", "/v1/system/feeds", self.list_feeds),
            Route("POST", "/v1/system/feeds", self.sync_feeds),
            Route("GET", "/v1/events", self.list_events),
            Route("POST", "/v1/images", self.add_image),
            Route("GET", "/v1/images", self.list_images),
            Route("GET", "/v1/images/{digest}", self.get_image),
            Route("POST", "/v1/registries", self.add_registry),
            Route("GET", "/v1/registries", self.list_registries),
        ]

    def _relay(self, servicename: str, method: str, path: str, **kwargs: Any) -> Response:
        try:
            return httpapi.ok(self.call(servicename, method, path, **kwargs))
        except Exception as err:
            self.log.warning(
                "%s %s via %s failed: %s", method, path, servicename, getattr(err, "raw", "") or err
            )
            return httpapi.from_exception(err)

    def system(self, _request: Request) -> Response:
        """The engine swallows any failure here: 200 with an empty list."""
        try:
            rows = self.call("catalog", "GET", "system/services") or []
        except Exception as err:
            self.log.warning("service list from the catalog failed: %s", getattr(err, "raw", "") or err)
            rows = []
        return httpapi.ok({"service_states": [_service_state(row) for row in rows]})

    def services(self, _request: Request) -> Response:
        response = self._relay("catalog", "GET", "system/services")
        if response.status == 200:
            response.body = [_service_state(row) for row in response.body or []]
        return response

    def list_feeds(self, _request: Request) -> Response:
        return self._relay("policy_engine", "GET", "feeds", params={"include_counts": True})

    def sync_feeds(self, request: Request) -> Response:
        flush = request.flag("flush")
        return self._relay(
            "policy_engine", "POST", "feeds", params={"force_flush": flush}, read_timeout=SYNC_READ_TIMEOUT
        )

    def list_events(self, request: Request) -> Response:
        return self._relay("catalog", "GET", "events", params=dict(request.query))

    def add_image(self, request: Request) -> Response:
        body = request.json() or {}
        source = body.get("source") if isinstance(body, dict) else None
        tag = None
        if isinstance(source, dict):
            tag = (source.get("tag") or {}).get("pullstring")
        elif isinstance(body, dict):
            tag = body.get("tag")
        if not tag or not isinstance(tag, str):
            return httpapi.error("must supply source.tag.pullstring (or tag) in the request body", 400)
        return self._relay(
            "catalog",
            "POST",
            "image",
            params={"tag": tag, "force": True if request.flag("force") else None},
            read_timeout=LOOKUP_READ_TIMEOUT,
        )

    def list_images(self, _request: Request) -> Response:
        return self._relay("catalog", "GET", "image")

    def get_image(self, request: Request) -> Response:
        return self._relay("catalog", "GET", f"image/{request.params['digest']}")

    def add_registry(self, request: Request) -> Response:
        body = request.json() or {}
        response = self._relay(
            "catalog", "POST", "system/registries", body=body, params={"validate": request.flag("validate")}
        )
        if response.status == 200:
            response.body = [{**r, "registry_pass": "*****"} for r in response.body or []]
        return response

    def list_registries(self, _request: Request) -> Response:
        response = self._relay("catalog", "GET", "system/registries")
        if response.status == 200:
            response.body = [{**r, "registry_pass": "*****"} for r in response.body or []]
        return response
