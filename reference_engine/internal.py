"""Calls between services, made as the official engine makes them.

Each call finds its target by reading the registration rows, then uses module-level
`requests.get/post/put/delete` (no Session, no `proxies=`, no trust_env change), so requests' own
environment proxy handling applies exactly as in the real engine, with HTTP Basic auth as the
internal system user and bounded timeouts. Failures raise errors whose text copies the engine's
(`failed get url=...`), because that text is what users and the suite see in 500 answers.
"""

from __future__ import annotations

import json
import random
from typing import Any

import requests

from reference_engine import faults, proxies, state
from reference_engine.config import SYSTEM_USER, Config

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 60.0

_METHODS = {"GET": requests.get, "POST": requests.post, "PUT": requests.put, "DELETE": requests.delete}


class ServiceNotFoundError(Exception):
    """No registered, available row for the service (the engine's wording)."""

    def __init__(self, servicename: str) -> None:
        super().__init__(
            f"could not find valid endpoint for service ({servicename}) - exception: cannot locate "
            f"registered and available service in config/DB: {servicename}"
        )


class InternalCallError(Exception):
    """A call that did not answer 200, or did not answer at all (httpcode 500, like the engine)."""

    def __init__(self, method: str, url: str, httpcode: int, error_json: Any, raw: str) -> None:
        super().__init__(f"failed {method.lower()} url={url}")
        self.httpcode = httpcode
        self.error_json = error_json if isinstance(error_json, dict) else {}
        self.raw = raw


def endpoint(config: Config, servicename: str) -> str:
    """base_url + "/" + version of a random available instance, as the engine builds it."""
    rows = state.available(config.state_dir, servicename)
    if not rows:
        raise ServiceNotFoundError(servicename)
    row = random.choice(rows)
    return f"{row['base_url'].rstrip('/')}/{row['version']}"


def _fault_kwargs(url: str) -> dict[str, Any]:
    if faults.enabled(faults.INTERNAL_IGNORES_NO_PROXY):
        return {"proxies": proxies.ignoring_no_proxy()}
    if faults.enabled(faults.UPPER_CASE_ONLY):
        return {"proxies": proxies.upper_case_only(url)}
    return {}


def call(
    config: Config,
    servicename: str,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
    read_timeout: float = READ_TIMEOUT,
) -> Any:
    """Call `path` (relative to /v1) on an instance of `servicename`; return the decoded JSON."""
    url = f"{endpoint(config, servicename)}/{path.lstrip('/')}"
    send = _METHODS[method]
    try:
        response = send(
            url,
            params={k: v for k, v in (params or {}).items() if v is not None} or None,
            data=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json", "x-anchore-account": "admin"},
            auth=(SYSTEM_USER, config.system_password),
            timeout=(CONNECT_TIMEOUT, read_timeout),
            **_fault_kwargs(url),
        )
    except requests.RequestException as err:
        raise InternalCallError(method, url, 500, {}, str(err)) from err
    try:
        decoded = response.json() if response.content else None
    except ValueError:
        decoded = None
    if response.status_code != 200:
        raise InternalCallError(method, url, response.status_code, decoded, response.text[:2000])
    return decoded
