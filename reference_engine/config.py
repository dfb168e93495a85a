"""Configuration from the environment, read the way the official image reads it.

The official image substitutes `ANCHORE_*` variables into its config file; here they are read
directly. Variables that only the reference engine knows start with `REFERENCE_ENGINE_` (or are the
state and certificate directories, which stand in for the database and the image's mount point).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from reference_engine import SERVICE_NAMES, faults

DEFAULT_FEEDS_URL = "https://ancho.re/v1/service/feeds"
DEFAULT_GRYPE_DB_URL = "https://toolbox-data.anchore.io/grype/databases/listing.json"
DEFAULT_STATE_DIR = "/var/lib/reference-engine"
DEFAULT_CERTS_DIR = "/home/anchore/certs"
# One port per service when several run in one process (the engine's historic all-in-one layout).
ALL_IN_ONE_PORTS = {
    "apiext": 8228,
    "catalog": 8082,
    "simplequeue": 8083,
    "analyzer": 8084,
    "policy_engine": 8087,
}
SYSTEM_USER = "_system"
ADMIN_USER = "admin"


class ConfigError(Exception):
    """A setting that makes the engine refuse to start; reported as one line, exit status 2."""


def _port(value: str, variable: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"{variable}={value!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{variable}={value!r} is not a port number")
    return port


@dataclass(frozen=True)
class Config:
    admin_password: str
    endpoint_hostname: str = "localhost"
    host_id: str = "anchore-quickstart"
    feeds_url: str = DEFAULT_FEEDS_URL
    grype_db_url: str = DEFAULT_GRYPE_DB_URL
    log_level: str = "INFO"
    vulnerabilities_provider: str | None = None
    feed_sync_interval: int = 0
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    certs_dir: Path = Path(DEFAULT_CERTS_DIR)
    listen_address: str = "0.0.0.0"
    faults: frozenset[str] = field(default_factory=frozenset)
    environ: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def system_password(self) -> str:
        """The internal user's password: derived, so every container of one engine agrees on it."""
        seed = f"reference-engine/{SYSTEM_USER}/{self.admin_password}".encode()
        return hashlib.sha256(seed).hexdigest()

    def port_for(self, service: str, alone: bool) -> int:
        """`ANCHORE_SERVICE_PORT` for a service alone in its process, else its own port variable."""
        if alone:
            return _port(self.environ.get("ANCHORE_SERVICE_PORT", "8228"), "ANCHORE_SERVICE_PORT")
        variable = f"ANCHORE_{service.upper()}_PORT"
        return _port(self.environ.get(variable, str(ALL_IN_ONE_PORTS[service])), variable)


def load(environ: dict[str, str] | None = None) -> Config:
    """Read and check the environment; raise ConfigError with a one-line reason."""
    env = dict(os.environ if environ is None else environ)
    password = env.get("ANCHORE_ADMIN_PASSWORD", "")
    if not password:
        raise ConfigError("ANCHORE_ADMIN_PASSWORD is required (the password of the admin user)")
    try:
        active_faults = faults.parse(env.get("REFERENCE_ENGINE_FAULTS", ""))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    interval_text = env.get("ANCHORE_FEED_SYNC_INTERVAL_SEC", "") or "0"
    try:
        interval = max(0, int(interval_text))
    except ValueError:
        raise ConfigError(f"ANCHORE_FEED_SYNC_INTERVAL_SEC={interval_text!r} is not a number") from None
    return Config(
        admin_password=password,
        endpoint_hostname=env.get("ANCHORE_ENDPOINT_HOSTNAME") or "localhost",
        host_id=env.get("ANCHORE_HOST_ID") or "anchore-quickstart",
        feeds_url=(env.get("ANCHORE_FEEDS_URL") or DEFAULT_FEEDS_URL).rstrip("/"),
        grype_db_url=env.get("ANCHORE_GRYPE_DB_URL") or DEFAULT_GRYPE_DB_URL,
        log_level=(env.get("ANCHORE_LOG_LEVEL") or "INFO").upper(),
        vulnerabilities_provider=env.get("ANCHORE_VULNERABILITIES_PROVIDER") or None,
        feed_sync_interval=interval,
        state_dir=Path(env.get("ANCHORE_REFERENCE_STATE_DIR") or DEFAULT_STATE_DIR),
        certs_dir=Path(env.get("ANCHORE_CERTS_DIR") or DEFAULT_CERTS_DIR),
        listen_address=env.get("REFERENCE_ENGINE_LISTEN") or "0.0.0.0",
        faults=active_faults,
        environ=env,
    )


def check_services(config: Config, services: list[str]) -> None:
    """Refuse what the official image refuses before any service starts."""
    unknown = [name for name in services if name not in SERVICE_NAMES]
    if unknown:
        raise ConfigError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICE_NAMES)}")
    if "policy_engine" in services and config.vulnerabilities_provider != "legacy":
        # The official image's default is the literal "null", which the policy engine rejects at start.
        value = config.vulnerabilities_provider or "null"
        raise ConfigError(
            f"ANCHORE_VULNERABILITIES_PROVIDER={value!r} is not a usable vulnerabilities provider for "
            "policy_engine; this reference engine implements only 'legacy'"
        )
