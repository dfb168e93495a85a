"""Attach mode: judge an engine that is already running, reached at `--engine-url`.

Nothing is launched and no container engine is needed. Only checks that need no relaunch run
(see fixtures/attached.py for which, and how the others are reported); they judge the engine's
API, because the wire (proxy, registry and feed logs) belongs to the deployment, not the suite.

This module holds the options, their validation (bad input ends the run with one line before
anything runs) and the probe that the engine answers at all, made once before any check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from anchore_compliance.config import EngineProfile, env_default
from anchore_compliance.deployment.semantics import (
    QUOTES,
    parse_proxy_url,
    redact_proxy_value,
    unquote_outer,
    valid_host,
)
from anchore_compliance.engine_api import EngineApi, EngineApiUnreachable
from anchore_compliance.errors import ExitCode, SuiteUsageError
from anchore_compliance.redaction import MASK, REDACTOR

# Anchore Engine 1.x; the seed's sixth (kubernetes_webhook) left in 0.x.
ENGINE_1X_SERVICES = ("apiext", "catalog", "simplequeue", "analyzer", "policy_engine")
PROXY_FORM = "{PROTOCOL}://[user:password@]{HOST}:{PORT}"
PASSWORD_VARIABLE = "ANCHORE_COMPLIANCE_ADMIN_PASSWORD"
# The probe's calls are answered locally or from the database: a slow answer means a hung engine.
PROBE_TIMEOUT = (3.0, 15.0)


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--engine-url",
        default=None,
        metavar="URL",
        help="attach to the engine whose API answers at URL instead of launching one; the admin "
        f"password comes from {PASSWORD_VARIABLE} only [env ANCHORE_COMPLIANCE_ENGINE_URL]",
    )
    group.addoption(
        "--engine-user",
        default=None,
        help="API user of the attached engine [env ANCHORE_COMPLIANCE_ENGINE_USER; default admin]",
    )
    group.addoption(
        "--engine-proxy",
        default=None,
        metavar="URL",
        help=f"the proxy the attached deployment uses, as {PROXY_FORM}: for route predictions "
        "and redaction [env ANCHORE_COMPLIANCE_ENGINE_PROXY]",
    )
    group.addoption(
        "--attach-image",
        default=None,
        metavar="PULLSTRING",
        help="an image the attached engine can pull, for the registry check (REG-1) "
        "[env ANCHORE_COMPLIANCE_ATTACH_IMAGE]",
    )


@dataclass(frozen=True)
class DeclaredProxy:
    """The proxy the attached deployment says it uses; the suite cannot see its log."""

    url: str = field(repr=False)
    shown: str  # the URL with its password masked

    def environment(self) -> dict[str, str]:
        """What the deployment's engine is taken to have: both variables naming this proxy."""
        return {"https_proxy": self.url, "http_proxy": self.url}


@dataclass(frozen=True)
class AttachSettings:
    engine_url: str
    user: str
    password: str = field(repr=False)
    proxy: DeclaredProxy | None
    image: str | None  # --attach-image; None: the registry check is not applicable
    expected_services: tuple[str, ...]
    services_from: str  # where expected_services came from, for the evidence

    def redacted(self) -> dict[str, Any]:
        return REDACTOR.redact_data(
            {
                "engine_url": self.engine_url,
                "user": self.user,
                "declared_proxy": self.proxy.shown if self.proxy else None,
                "attach_image": self.image,
                "expected_services": list(self.expected_services),
                "expected_services_from": self.services_from,
            }
        )


def parse_declared_proxy(value: str, option: str = "--engine-proxy") -> DeclaredProxy:
    """Validate a proxy URL of the documented form; raise one line naming every problem.

    The password is registered with the redactor first, so that no later output shows it.
    """
    # Quotes around the value are reported once; the rest is judged on what they enclose.
    url = parse_proxy_url(unquote_outer(value))
    if url.password:
        for form in {url.password, unquote(url.password)}:
            REDACTOR.add_secret(form, user=unquote(url.user or ""))
    shown = redact_proxy_value(value, MASK)
    problems = []
    if any(char.isspace() for char in value):
        problems.append("it holds whitespace")
    if any(quote in value for quote in QUOTES):
        problems.append("it holds quote characters, which no HTTP client strips")
    if url.scheme is None:
        problems.append("it has no scheme")
    elif url.scheme.lower() not in ("http", "https"):
        problems.append(f"scheme {url.scheme}:// is neither http:// nor https://")
    host = url.host.strip().strip(QUOTES)
    if not host:
        problems.append("it has no host")
    elif not valid_host(host):
        problems.append(f"{host!r} is not a host name or address")
    port = (url.port or "").strip().strip(QUOTES)
    if not port:
        problems.append("it has no port")
    elif not port.isdigit() or not 1 <= int(port) <= 65535:
        problems.append(f"port {port!r} is not a number from 1 to 65535")
    if url.rest not in ("", "/"):
        problems.append(f"{url.rest!r} after the port is not part of the form")
    if problems:
        # repr: a newline in the value must not break the one-line message.
        raise SuiteUsageError(
            f"{option} {REDACTOR.redact(shown)!r}: {'; '.join(problems)}; form: {PROXY_FORM}"
        )
    return DeclaredProxy(url=value, shown=REDACTOR.redact(shown))


def parse_engine_url(value: str) -> str:
    usage = "--engine-url must be http(s)://HOST[:PORT][/PATH], e.g. http://anchore.example:8228"
    if any(char.isspace() for char in value) or any(quote in value for quote in QUOTES):
        raise SuiteUsageError(f"{usage}; it holds whitespace or quotes")
    parts = urlsplit(value)
    if "@" in parts.netloc:
        # Not echoed: it may be a password.
        raise SuiteUsageError(f"--engine-url holds credentials; give the password in {PASSWORD_VARIABLE}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise SuiteUsageError(f"{usage}; got {value!r} (bad port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SuiteUsageError(f"{usage}; got {value!r}")
    return value.rstrip("/")


def resolve(config: pytest.Config, profile: EngineProfile) -> AttachSettings | None:
    """Attach settings from options, then environment; None when no engine URL is given."""
    url = config.getoption("engine_url") or env_default("ENGINE_URL")
    if not url:
        for option in ("engine_proxy", "attach_image"):
            if config.getoption(option):
                flag = "--" + option.replace("_", "-")
                raise SuiteUsageError(f"{flag} describes an attached engine; it needs --engine-url")
        return None
    user = config.getoption("engine_user") or env_default("ENGINE_USER", "admin")
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if not password:
        raise SuiteUsageError(
            f"attaching to an engine needs its password in {PASSWORD_VARIABLE} (never on the command line)"
        )
    REDACTOR.add_secret(password, user=user)
    proxy_value = config.getoption("engine_proxy") or env_default("ENGINE_PROXY")
    explicit_profile = config.getoption("engine_profile") or env_default("ENGINE_PROFILE")
    return AttachSettings(
        engine_url=parse_engine_url(url),
        user=user,
        password=password,
        proxy=parse_declared_proxy(proxy_value) if proxy_value else None,
        image=config.getoption("attach_image") or env_default("ATTACH_IMAGE"),
        expected_services=profile.services if explicit_profile else ENGINE_1X_SERVICES,
        services_from=f"engine profile {profile.name}" if explicit_profile else "Anchore Engine 1.x",
    )


def probe(settings: AttachSettings) -> None:
    """Make sure the engine answers and takes the credentials, or raise one line.

    Only local answers and one authenticated call: whether the services reach each other is
    for the checks to judge, not a reason to stop.
    """
    where = f"the engine API at {settings.engine_url}"
    api = EngineApi(settings.engine_url, settings.user, settings.password)
    try:
        health = api.health()
        if health.status != 200:
            raise SuiteUsageError(
                f"{where} does not answer as an Anchore Engine: GET /health answered {health.status}",
                ExitCode.ENGINE_UNREACHABLE,
            )
        api.request("GET", "/version", auth=False, timeout=PROBE_TIMEOUT)
        system = api.request("GET", "/v1/system", timeout=PROBE_TIMEOUT)
    except EngineApiUnreachable as error:
        raise SuiteUsageError(
            f"{where} did not answer ({error}); check --engine-url and that this machine can reach it",
            ExitCode.ENGINE_UNREACHABLE,
        ) from None
    finally:
        api.close()
    if system.status in (401, 403):
        raise SuiteUsageError(
            f"{where} refused user {settings.user!r} (GET /v1/system answered {system.status}); "
            f"check --engine-user and {PASSWORD_VARIABLE}",
            ExitCode.ENGINE_CREDENTIALS_REJECTED,
        )
