"""Fixtures of the reference engine's own tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refengine_standins import EngineProcess, LegacyFeedStandIn, RecordingProxy

from reference_engine import faults


@pytest.fixture
def feed_standin() -> Iterator[LegacyFeedStandIn]:
    standin = LegacyFeedStandIn()
    yield standin
    standin.close()


@pytest.fixture
def recording_proxy() -> Iterator[RecordingProxy]:
    proxy = RecordingProxy()
    yield proxy
    proxy.close()


@pytest.fixture
def no_faults() -> Iterator[None]:
    """In-process tests start with no fault active and leave none behind."""
    faults.configure(set())
    yield
    faults.configure(set())


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[Callable[..., EngineProcess]]:
    """Make engines (started, not yet waited for); all are stopped, and their logs shown on failure."""
    engines: list[EngineProcess] = []

    def make(feeds_url: str = "http://127.0.0.1:1/v1/service/feeds", **kwargs) -> EngineProcess:
        engine = EngineProcess(tmp_path / f"engine{len(engines)}", feeds_url, **kwargs)
        engines.append(engine)
        return engine.start()

    yield make
    for engine in engines:
        engine.stop()
        print(f"--- {engine.log_path} ---\n{engine.log()[-6000:]}")
