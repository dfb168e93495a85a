"""Image pull strings, split as the engine splits them (docker.io and library/ by default)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repo: str
    tag: str | None
    digest: str | None = None

    @property
    def fulltag(self) -> str:
        return f"{self.registry}/{self.repo}:{self.tag or 'latest'}"

    @property
    def pullstring(self) -> str:
        if self.digest:
            return f"{self.registry}/{self.repo}@{self.digest}"
        return self.fulltag


def parse(text: str) -> ImageRef:
    """Split `registry/repo[:tag][@digest]`; raise ValueError for what the engine cannot handle."""
    text = text.strip()
    if not text or any(c.isspace() for c in text) or "://" in text:
        raise ValueError(f"cannot handle image input string {text!r}")
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ValueError(f"invalid digest in {text!r}")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if not path or not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*", path):
        raise ValueError(f"cannot handle image input string {text!r}")
    if tag is None and not digest:
        tag = "latest"
    return ImageRef(registry=registry, repo=path, tag=tag, digest=digest or None)
