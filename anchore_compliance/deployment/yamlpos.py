"""A YAML loader that remembers where every key and value was written.

Findings name a file and a line, so the loaders need positions that `yaml.safe_load` throws away.
Mappings, sequences and strings come back as thin subclasses of dict, list and str carrying
1-based line numbers; everything else (numbers, booleans, null) is plain, and its line is found
through the mapping or sequence that holds it. Merge keys (`<<: *anchor`) keep the line of the
anchor, which is where the value must be fixed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

import yaml


class YStr(str):
    """A YAML string with the line it starts on and its quoting style (None, "'" or '"')."""

    line: int = 0
    style: str | None = None


class YMap(dict):
    """A YAML mapping; `key_lines` and `value_lines` give the line of each key and its value."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}

    def line_of(self, key: Any, default: int | None = None) -> int:
        value = self.get(key)
        if isinstance(value, YStr):
            return value.line
        return self.value_lines.get(
            key, self.key_lines.get(key, default if default is not None else self.line)
        )


class YSeq(list):
    """A YAML sequence; `item_lines[i]` is the line of item i."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.item_lines: list[int] = []


class _PositionLoader(yaml.SafeLoader):
    pass


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_str(loader: _PositionLoader, node: yaml.ScalarNode) -> YStr:
    value = YStr(loader.construct_scalar(node))
    value.line = _line(node)
    value.style = node.style if node.style in ("'", '"') else None
    return value


def _construct_map(loader: _PositionLoader, node: yaml.MappingNode) -> YMap:
    loader.flatten_mapping(node)
    result = YMap()
    result.line = _line(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = _line(key_node)
        result.value_lines[key] = _line(value_node)
    return result


def _construct_seq(loader: _PositionLoader, node: yaml.SequenceNode) -> YSeq:
    result = YSeq()
    result.line = _line(node)
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(_line(item))
    return result


_PositionLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_PositionLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_PositionLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_documents(text: str) -> Iterator[Any]:
    """Every document of a (multi-document) YAML text, with positions. Raises yaml.YAMLError."""
    return yaml.load_all(text, Loader=_PositionLoader)


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """One line for a YAML error: where and what."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return f"{where}{problem}"
