"""Selftest-wide fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def isolated_environ(monkeypatch: pytest.MonkeyPatch):
    """Every test starts from the machine's environment and cannot leak changes into the next.

    The machine exports proxy and CA variables of its own; tests that care set what they need.
    """
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
            monkeypatch.delenv(name)
    yield
    os.environ.clear()
    os.environ.update(saved)
