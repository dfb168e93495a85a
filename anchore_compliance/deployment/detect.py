"""Recognising the engine's containers, their service role, and registries run alongside them."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from anchore_compliance.deployment.model import ROLES

_ENGINE_IMAGE = re.compile(r"anchore[-/](engine|enterprise)|/anchore-engine|reference-engine", re.IGNORECASE)
_REGISTRY_IMAGES = frozenset({"registry", "distribution", "docker-registry", "zot", "harbor-registry"})
_NAME_ROLES = (
    ("policy", "policy_engine"),
    ("analyzer", "analyzer"),
    ("catalog", "catalog"),
    ("queue", "simplequeue"),
    ("simpleq", "simplequeue"),
    ("api", "apiext"),
)


def command_tokens(*parts: object) -> list[str]:
    """The words of a command/entrypoint/args, whether written as a string or a list."""
    tokens: list[str] = []
    for part in parts:
        if isinstance(part, str):
            try:
                tokens += shlex.split(part)
            except ValueError:
                tokens += part.split()
        elif isinstance(part, list):
            for item in part:
                tokens += command_tokens(str(item)) if isinstance(item, str) else [str(item)]
    return tokens


def role_from_command(tokens: Iterable[str]) -> str | None:
    """`anchore-manager service start [--flags] catalog` -> "catalog"; `--all` or several -> "all"."""
    words = list(tokens)
    for i in range(len(words) - 1):
        if words[i] == "service" and words[i + 1] == "start":
            rest = words[i + 2 :]
            named = [w for w in rest if w in ROLES]
            if "--all" in rest or len(named) > 1:
                return "all"
            if named:
                return named[0]
    return None


def role_from_name(name: str) -> str | None:
    lowered = name.lower()
    for fragment, role in _NAME_ROLES:
        if fragment in lowered:
            return role
    return None


def is_engine(image: str, tokens: list[str], env_names: Iterable[str]) -> bool:
    names = set(env_names)
    return bool(
        _ENGINE_IMAGE.search(image)
        or any(t.endswith("anchore-manager") for t in tokens)
        or {"ANCHORE_ENDPOINT_HOSTNAME", "ANCHORE_DB_HOST"} & names
    )


def is_registry_image(image: str) -> bool:
    """`registry:2`, `docker.io/library/registry:2.8`, `distribution/distribution`, ..."""
    name = image.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower() in _REGISTRY_IMAGES
