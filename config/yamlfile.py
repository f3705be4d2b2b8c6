"""YAML reading that remembers the line of every key, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, ConfigIssue

Lines = dict[tuple[Any, ...], int]
#: libyaml's parser where PyYAML was built with it (the same nodes and marks, about 6x faster than the pure-Python one:
#: every `cur` command and every ``App`` reads the configuration)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _construct(node: yaml.Node, path: tuple[Any, ...], lines: Lines, loader: Any) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise ConfigError(
                    [ConfigIssue("", ".".join(map(str, path + (key,))), "duplicate key", key_node.start_mark.line + 1)]
                )
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, path + (key,), lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), lines, loader) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as e:  # a date-looking scalar that is no date: 2026-02-30
        raise ConfigError([ConfigIssue("", dotted(path), f"invalid value {node.value!r}: {e}", node.start_mark.line + 1)]) from None


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with the faster parser."""
    return yaml.load(text, Loader=_Loader)  # _Loader is a safe loader


def _compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document, parsed by ``_Loader``. A text libyaml refuses is parsed again by the
    pure-Python parser, so a user sees the error (problem and line) in the words always shown."""
    if _Loader is not yaml.SafeLoader:
        fast = _Loader(text)
        try:
            return fast.get_single_node()
        except yaml.YAMLError:
            pass
        finally:
            fast.dispose()
    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def load_yaml(path: Path) -> tuple[Any, Lines]:
    """Parse a YAML file; return the data and a map from key path to line.

    Raises ConfigError naming the file and line on a syntax error.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(name, "", "file not found")]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([ConfigIssue(name, "", f"not UTF-8 text: {e.reason} at byte {e.start}")]) from None
    loader = yaml.SafeLoader("")  # constructs the data from the nodes (the same for either parser)
    try:
        node = _compose(text)
        if node is None:
            return None, {}
        lines: Lines = {}
        data = _construct(node, (), lines, loader)
        return data, lines
    except ConfigError as e:
        raise ConfigError([ConfigIssue(name, i.key, i.reason, i.line) for i in e.issues]) from None
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise ConfigError([ConfigIssue(name, "", f"YAML syntax error: {e.problem}", line)]) from None
    except yaml.YAMLError as e:
        raise ConfigError([ConfigIssue(name, "", f"YAML error: {e}")]) from None
    finally:
        loader.dispose()


def line_of(lines: Lines, path: tuple[Any, ...]) -> int | None:
    """Line of the deepest known prefix of ``path``."""
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
