"""Configuration errors that name the file, the key and the reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    key: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = self.key or "<root>"
        return f"{where}: {key}: {self.reason}"


def pydantic_reason(err: Mapping[str, Any]) -> str:
    """The reason of one pydantic error without its «Value error, » prefix (the text is ours, for the user)."""
    msg = str(err.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


class ConfigError(Exception):
    """Raised when a settings, taxonomy or region file is invalid.

    Nothing is half-loaded: the loader either returns a complete validated
    object or raises this error with every issue it found.
    """

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))
