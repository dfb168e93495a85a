"""Env files, read the way the tool that uses them reads them.

- `docker run --env-file` (and an env file given to the audit on its own): every line is
  `NAME=VALUE` with the value passed through verbatim, quotes, trailing spaces and a CR of a
  CRLF file included; `NAME` alone takes the value from the docker client's environment; a name
  holding whitespace (`export NAME=...`, `NAME = value`) makes docker refuse the whole file.
- Docker Compose v2 `env_file:` (compose-go's dotenv reader): `export ` allowed, spaces around
  `=` trimmed, one level of surrounding quotes removed, ` #` starts a comment in unquoted values,
  and `${VAR}`/`$VAR` in unquoted or double-quoted values are substituted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_INTERPOLATION = re.compile(r"(?<!\$)\$(\{[^}]*\}?|[A-Za-z_][A-Za-z0-9_]*)")
_ENV_NAME = re.compile(r"^(export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*$")
_WHITESPACE = " \t"


@dataclass(frozen=True)
class EnvLine:
    """One assignment. `value` None: taken from the environment of whoever starts the container."""

    name: str
    value: str | None
    line: int
    stripped_quote: str = ""
    interpolated: bool = False  # Compose substitutes part of the value when it starts


@dataclass(frozen=True)
class EnvLineProblem:
    line: int
    name: str
    problem: str
    fix: str


def _lines(text: str) -> list[str]:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.split("\n")


def looks_like_env_file(text: str) -> bool:
    """True when every non-blank, non-comment line is an assignment (or a bare name) and at least
    one is an assignment: a YAML file always has `key: value` lines that fail this."""
    assignments = 0
    for raw in _lines(text):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, _ = line.partition("=")
        if not _ENV_NAME.match(name):
            return False
        assignments += bool(sep)
    return assignments > 0


def parse_docker(text: str) -> tuple[list[EnvLine], list[EnvLineProblem]]:
    """An env file as `docker run --env-file` reads it."""
    result: list[EnvLine] = []
    problems: list[EnvLineProblem] = []
    for number, raw in enumerate(_lines(text), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.lstrip(_WHITESPACE)
        if any(c in name for c in _WHITESPACE):
            bare = name.split()[-1]
            if name.startswith("export") and len(name.split()) == 2:
                problem = f"docker reads {name!r} as the variable name and refuses the whole file"
                fix = f"remove 'export ': {bare}=..."
            else:
                problem = "whitespace around '=': docker refuses the whole file"
                fix = f"write {bare}=value with no space before '='"
            problems.append(EnvLineProblem(number, bare, problem, fix))
            name = bare
            value = value.lstrip(_WHITESPACE) if sep else value
        if not name:
            continue
        result.append(EnvLine(name=name, value=value if sep else None, line=number))
    return result, problems


def _unquoted_compose_value(value: str) -> str:
    comment = re.search(r"\s#", value)
    if comment:
        value = value[: comment.start()]
    return value.strip()


def _double_quoted(value: str) -> str | None:
    out, escaped = [], False
    for char in value[1:]:
        if escaped:
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(char, char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return "".join(out)
        else:
            out.append(char)
    return None


def parse_compose(text: str) -> tuple[list[EnvLine], list[EnvLineProblem]]:
    """An env file as Docker Compose v2 reads it for `env_file:`."""
    result: list[EnvLine] = []
    for number, raw in enumerate(_lines(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep:
            result.append(EnvLine(name=name, value=None, line=number))
            continue
        value = value.strip()
        quote, interpolated = "", False
        if value[:1] == "'" and value.find("'", 1) > 0:
            quote, value = "'", value[1 : value.find("'", 1)]
        elif value[:1] == '"' and _double_quoted(value) is not None:
            quote, value = '"', _double_quoted(value) or ""
            interpolated = bool(_INTERPOLATION.search(value))
        else:
            value = _unquoted_compose_value(value)
            interpolated = bool(_INTERPOLATION.search(value))
        result.append(EnvLine(name, value, number, stripped_quote=quote, interpolated=interpolated))
    return result, []


def compose_interpolates(value: str) -> bool:
    """Does Compose substitute something in this value of a compose file (`$$` is a literal `$`)?"""
    return bool(_INTERPOLATION.search(value))


def compose_unescape(value: str) -> str:
    return value.replace("$$", "$")
