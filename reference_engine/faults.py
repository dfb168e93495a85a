"""Deliberate faults, so the project can show that each compliance check fails when an engine
breaks the requirement it judges.

`REFERENCE_ENGINE_FAULTS` is a comma-separated list of the names below; an unknown name stops the
engine at start. Each fault lives as a few lines at the place where the behaviour it changes lives,
guarded by `enabled(NAME)`. The string after each name says which documented requirement it breaks
and how a real engine comes to break it that way.
"""

from __future__ import annotations

CATALOG_UNREACHABLE = "catalog-unreachable"
"""Breaks "each Anchore service should be able to connect the other services": the catalog registers
a base_url whose port nothing listens on, as an engine does whose ANCHORE_SERVICE_PORT or endpoint
host name does not match where the catalog really listens. Internal calls to it fail, and the quiet
failures of the API (an empty `GET /v1/system`) follow."""

FEEDS_IGNORE_PROXY = "feeds-ignore-proxy"
"""Breaks "the Anchore Engine can be configured to access a proxy server by using environment
variables" for feed traffic: the feed client uses a requests Session with trust_env=False, which a
client written to "control its own HTTP settings" does, and so goes direct."""

FEEDS_SECOND_HOST = "feeds-second-host"
"""Breaks "only a single end point is required for this synchronization, host: ancho.re TCP
port: 443": each sync also fetches the grype DB listing from toolbox-data.anchore.io (failures
ignored), as the engine's grype vulnerabilities provider does."""

INTERNAL_IGNORES_NO_PROXY = "internal-ignores-no-proxy"
"""Breaks "no_proxy: hosts which should be accessed directly" for calls between services: they pass
explicit proxies taken from https_proxy/http_proxy, which requests then uses whatever no_proxy says,
as code does that copies the proxy variables into a `proxies=` argument (anchore-engine #300)."""

REGISTRY_IGNORES_PROXY = "registry-ignores-proxy"
"""Breaks the proxy requirement for registry access: skopeo is started with an environment from
which every proxy variable was removed, as an engine does that builds a minimal child environment."""

REGISTRY_IGNORES_NO_PROXY = "registry-ignores-no-proxy"
"""Breaks "no_proxy" for registry access: skopeo gets the proxy variables but not no_proxy/NO_PROXY,
as an engine does that passes on only the variables it knows about, so a registry that should be
reached directly is sent to the proxy."""

PROXY_CREDENTIALS_NOT_DECODED = "proxy-credentials-not-decoded"
"""Breaks "if the username or password contains non-url safe characters then these should be
urlencoded": the feed client builds Proxy-Authorization from the still percent-encoded
user:password of the proxy URL, as a client does that splits the URL by hand, so the proxy rejects
an encoded password such as p%40ss%21 with 407."""

UPPER_CASE_ONLY = "upper-case-only"
"""Breaks the documented lower-case names https_proxy/http_proxy/no_proxy: the feed client and
internal calls read only HTTPS_PROXY/HTTP_PROXY/NO_PROXY, and skopeo gets only the upper-case ones,
as a client does that looks up only the conventional upper-case names."""

PROXY_QUOTES_STRIPPED = "proxy-quotes-stripped"
"""Breaks "do not use double quotes around the proxy variable values": the engine strips the
quotes at start and carries on, as an entrypoint does that "cleans up" its environment, so a quoted
value that every other client of the same deployment fails on works here and hides the mistake."""

FEED_FAILURES_SILENT = "feed-failures-silent"
"""Breaks the visibility of a restricted network's failures: feed-sync failure events carry no
cause, so users see only that the sync failed (anchore-engine #771, #47: "Msg: None")."""

PROXY_SETTINGS_PERSISTED = "proxy-settings-persisted"
"""Breaks "environment variables that are read by the Anchore Engine at run time": at its first
start each service stores the proxy variables in the engine's state, and on every later start it
puts the stored values back over its environment, as an engine does that keeps its configuration
in its database and prefers that copy, so a relaunch with changed variables changes nothing."""

PROXY_SCHEME_IGNORED = "proxy-scheme-ignored"
"""Breaks the {PROTOCOL} part of "{PROTOCOL}://{IP or HOSTNAME}:{PORT}": the feed client speaks
plain HTTP to the proxy whatever the scheme of its URL, as CPython's urllib does with an
https:// proxy URL, so a proxy that only speaks TLS never gets a request it understands."""

ENTRYPOINT_DROPS_PROXY_ENVIRONMENT = "entrypoint-drops-proxy-environment"
"""Breaks setting the variables "through Docker Compose or Kubernetes": the entrypoint starts
the services with a fresh environment that keeps only the engine's own settings, as one does that
starts them through `su -` or `sudo` (env_reset), so the proxy variables a deployment sets never
reach the services."""

KNOWN: tuple[str, ...] = (
    CATALOG_UNREACHABLE,
    FEEDS_IGNORE_PROXY,
    FEEDS_SECOND_HOST,
    INTERNAL_IGNORES_NO_PROXY,
    REGISTRY_IGNORES_PROXY,
    REGISTRY_IGNORES_NO_PROXY,
    PROXY_CREDENTIALS_NOT_DECODED,
    UPPER_CASE_ONLY,
    PROXY_QUOTES_STRIPPED,
    FEED_FAILURES_SILENT,
    PROXY_SETTINGS_PERSISTED,
    PROXY_SCHEME_IGNORED,
    ENTRYPOINT_DROPS_PROXY_ENVIRONMENT,
)

_active: frozenset[str] = frozenset()


def parse(value: str) -> frozenset[str]:
    """Parse a REFERENCE_ENGINE_FAULTS value; raise ValueError naming any unknown fault."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        raise ValueError(
            f"unknown fault(s) in REFERENCE_ENGINE_FAULTS: {', '.join(unknown)} (known: {', '.join(KNOWN)})"
        )
    return frozenset(names)


def configure(names: frozenset[str] | set[str]) -> None:
    """Set the active faults for this process (at start, or from a test)."""
    global _active
    _active = frozenset(parse(",".join(names)))


def enabled(name: str) -> bool:
    """Whether fault `name` is active; a misspelt name is a bug, not a silent False."""
    if name not in KNOWN:
        raise KeyError(f"no such fault: {name}")
    return name in _active


def active() -> frozenset[str]:
    return _active
