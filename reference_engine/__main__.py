"""`anchore-manager service start <service>...|--all`, as the official image runs its services.

One service alone listens on ANCHORE_SERVICE_PORT (8228); several in one process (`--all`) each
listen on their own port (ANCHORE_<SERVICE>_PORT, defaulting to the engine's historic all-in-one
layout). Configuration errors end the process at once with one line on stderr and status 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from reference_engine import SERVICE_NAMES, certs, config, faults, log, proxies
from reference_engine.analyzer import Analyzer
from reference_engine.apiext import Apiext
from reference_engine.catalog import Catalog
from reference_engine.policy_engine import PolicyEngine
from reference_engine.service import Service
from reference_engine.simplequeue import SimpleQueue

SERVICE_CLASSES: dict[str, type[Service]] = {
    "apiext": Apiext,
    "catalog": Catalog,
    "simplequeue": SimpleQueue,
    "analyzer": Analyzer,
    "policy_engine": PolicyEngine,
}
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anchore-manager", description="Reference Anchore Engine 1.1.0")
    commands = parser.add_subparsers(dest="command", required=True)
    service = commands.add_parser("service", help="run engine services").add_subparsers(
        dest="action", required=True
    )
    start = service.add_parser("start", help="start services in this process")
    start.add_argument("--all", action="store_true", help="start all five services")
    start.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICE_NAMES))
    return parser


def _fail(message: str) -> int:
    print(f"anchore-manager: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = list(SERVICE_NAMES) if args.all else list(dict.fromkeys(args.services))
    if not names:
        return _fail("name at least one service, or --all")
    try:
        settings = config.load()
        config.check_services(settings, names)
        ports = {name: settings.port_for(name, alone=len(names) == 1) for name in names}
    except config.ConfigError as err:
        return _fail(str(err))
    faults.configure(settings.faults)
    if faults.enabled(faults.ENTRYPOINT_DROPS_PROXY_ENVIRONMENT):
        for name in _PROXY_VARIABLES & os.environ.keys():
            del os.environ[name]
    if faults.enabled(faults.PROXY_SETTINGS_PERSISTED):
        stored = settings.state_dir / "proxy-settings" / f"{'+'.join(names)}.json"
        proxies.restore_or_store(_PROXY_VARIABLES, stored)
    if faults.enabled(faults.PROXY_QUOTES_STRIPPED):
        for name in _PROXY_VARIABLES & os.environ.keys():
            os.environ[name] = os.environ[name].strip('"')
    log.setup(settings.log_level)
    main_log = log.get("+".join(names) if len(names) < len(SERVICE_NAMES) else "all")
    bundle = certs.install(settings.certs_dir)
    if bundle:
        main_log.info("custom CA certificates from %s installed in %s", settings.certs_dir, bundle)
    proxy_env = {k: v for k, v in os.environ.items() if k in _PROXY_VARIABLES}
    main_log.info("proxy environment: %s", proxy_env or "none")
    if faults.active():
        main_log.warning("faults enabled: %s", ", ".join(sorted(faults.active())))

    services = [SERVICE_CLASSES[name](settings, ports[name]) for name in names]
    try:
        for service in services:
            service.listen()
        for service in services:
            service.register()
    except OSError as err:
        for service in services:
            service.stop()
        return _fail(f"cannot start: {err}")
    for service in services:
        service.start_background()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    main_log.info("stopping")
    for service in services:
        service.stopping.set()  # background loops first, so none of them calls a closed server
    for service in services:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
