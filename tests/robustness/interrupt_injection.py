"""Loaded into the suite under test (`-p interrupt_injection`): SIGINT at one exact point.

Why: a real Ctrl-C lands at a random instant, and some instants are only milliseconds wide (the
container exists but the suite has not read the answer to its create request yet; the suite is
about to send a removal request; pytest is reporting a check). An outside signal hits them now
and then, which makes a flaky test. This plugin raises the signal in the suite's own process at
that instant, every time.

ACS_INTERRUPT_AT="<when>:<what>". At a Docker API call, `what` is a substring of the container's
image and `when` is `after-create` (the container exists, its handle was not returned yet),
`before-remove` (the removal request is not sent yet) or `before-logs` (a log read, as teardown
does to keep evidence). In pytest, `when` is `after-report` (a check's result has just been
reported, by pytest and the suite's own reporting) and `what` a substring of its node id, or
`at-load` (no `what`): as pytest imports this plugin, loading plugins before it runs anything.
Only the first matching point is interrupted.
"""

from __future__ import annotations

import os
import signal

import pytest
from docker.api.container import ContainerApiMixin

WHEN, _, WHAT = os.environ.get("ACS_INTERRUPT_AT", "").partition(":")
_images: dict[str, str] = {}  # container id -> image, for removals (which only name the id)
_fired = False
_create = ContainerApiMixin.create_container
_remove = ContainerApiMixin.remove_container
_logs = ContainerApiMixin.logs


def _interrupt_if(when: str, name: str) -> None:
    global _fired
    if not _fired and when == WHEN and WHAT and WHAT in name:
        _fired = True
        signal.raise_signal(signal.SIGINT)  # KeyboardInterrupt is raised here, before returning


if WHEN == "at-load":
    signal.raise_signal(signal.SIGINT)


def create_container(self, image: str, *args, **kwargs):
    created = _create(self, image, *args, **kwargs)
    _images[created["Id"]] = image
    _interrupt_if("after-create", image)
    return created


def _image_of(container) -> str:
    return _images.get(container if isinstance(container, str) else container.get("Id", ""), "")


def remove_container(self, container, *args, **kwargs):
    _interrupt_if("before-remove", _image_of(container))
    return _remove(self, container, *args, **kwargs)


def logs(self, container, *args, **kwargs):
    _interrupt_if("before-logs", _image_of(container))
    return _logs(self, container, *args, **kwargs)


ContainerApiMixin.create_container = create_container
ContainerApiMixin.remove_container = remove_container
ContainerApiMixin.logs = logs


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _interrupt_if("after-report", report.nodeid)
