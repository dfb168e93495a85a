"""Loaded into the suite under test (`-p interrupt_injection`): SIGINT at one exact Docker API call.

Why: a real Ctrl-C lands at a random instant, and some instants are only milliseconds wide (the
container exists but the suite has not read the answer to its create request yet; the suite is
about to send a removal request). An outside signal hits them now and then, which makes a flaky
test. This plugin raises the signal in the suite's own process at that instant, every time.

ACS_INTERRUPT_AT="<when>:<image>" where when is `after-create` (the container exists, its handle
was not returned yet), `before-remove` (the removal request is not sent yet) or `before-logs`
(a log read, as teardown does to keep evidence), and image is a substring of the container's
image. Only the first matching call is interrupted.
"""

from __future__ import annotations

import os
import signal

from docker.api.container import ContainerApiMixin

WHEN, _, IMAGE = os.environ.get("ACS_INTERRUPT_AT", "").partition(":")
_images: dict[str, str] = {}  # container id -> image, for removals (which only name the id)
_fired = False
_create = ContainerApiMixin.create_container
_remove = ContainerApiMixin.remove_container
_logs = ContainerApiMixin.logs


def _interrupt_if(when: str, image: str) -> None:
    global _fired
    if not _fired and when == WHEN and IMAGE and IMAGE in image:
        _fired = True
        signal.raise_signal(signal.SIGINT)  # KeyboardInterrupt is raised here, before returning


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
