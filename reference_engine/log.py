"""Plain log lines on stderr, each naming its service; credentials in URLs never reach the log."""

from __future__ import annotations

import logging
import re
import sys

# scheme://user:password@host -> scheme://***@host (also a bare user@ in a URL).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"]*@")
_LEVELS = {"SPEW": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING}


def redact(text: str) -> str:
    """Hide the userinfo of every URL in `text` (proxy URLs carry credentials)."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup(level_name: str) -> None:
    """Configure the root of the package's loggers once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _RedactingFormatter("%(asctime)s [%(service)s] %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger("reference_engine")
    root.handlers[:] = [handler]
    level = _LEVELS.get(level_name.upper(), getattr(logging, level_name.upper(), logging.INFO))
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    root.propagate = False


def get(service: str) -> logging.LoggerAdapter:
    """A logger whose lines carry the service name (several services may share one process)."""
    return logging.LoggerAdapter(logging.getLogger(f"reference_engine.{service}"), {"service": service})
