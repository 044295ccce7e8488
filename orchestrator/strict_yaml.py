"""Reading YAML input strictly: UTF-8 named on failure, duplicate keys and alias bombs refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_YAML_NODES", "YamlInputError", "parse_yaml", "read_text"]


class YamlInputError(ValueError):
    """A YAML file that cannot be read as given; the message names the file and the fix."""


MAX_YAML_NODES = 100_000  # values a file may expand to (aliases counted each time they are used)


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                continue  # unhashable: SafeLoader's own error follows
            if key in seen:
                raise _Duplicate(key, seen[key], key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _Duplicate(Exception):
    def __init__(self, key, first: int, line: int):
        super().__init__(key, first, line)
        self.key, self.first, self.line = key, first, line


def _expanded_size(node, path: Path) -> int:
    """How many values ``node`` stands for with every alias expanded; refuses recursive aliases."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        if id(n) in active:
            raise YamlInputError(f"{path}: a YAML alias refers to the value that contains it "
                                  f"(line {n.start_mark.line + 1}); remove the recursive alias")
        active.add(id(n))
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        active.discard(id(n))
        sizes[id(n)] = min(total, MAX_YAML_NODES + 1)
        return sizes[id(n)]

    return size(node)


def parse_yaml(text: str, path: Path) -> Any:
    """The file's document, with duplicate keys and alias bombs refused."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, path) > MAX_YAML_NODES:
            raise YamlInputError(f"{path}: the YAML expands to more than {MAX_YAML_NODES:,} "
                                  "values (anchors and aliases used over and over?); write the "
                                  "experiment out plainly, keeping data: small")
        return loader.construct_document(node)
    except _Duplicate as dup:
        raise YamlInputError(f"{path}: duplicate key {dup.key!r} at line {dup.line} (first at "
                              f"line {dup.first}); keep one of them") from None
    finally:
        loader.dispose()


def read_text(path: Path) -> str:
    """The file as UTF-8 text; an unreadable or non-UTF-8 file is one line naming it and the fix."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise YamlInputError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
                              f"offset {err.start}); save the file as UTF-8") from None
    except OSError as err:
        raise YamlInputError(f"{path}: cannot read the file ({err.strerror}); check its "
                              "permissions") from None
