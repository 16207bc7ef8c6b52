"""A documented config field: its type hint, default and text are the schema of one key.

The loader (``bayesdose.schema``) validates against the dataclasses built from these fields, and
``config_reference`` generates ``docs/config.md`` from them; a design's own section (under
``bayesdose/designs/``) is declared the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import field
from typing import Any

REQUIRED = dataclasses.MISSING


def documented(text: str, default: Any = REQUIRED) -> Any:
    """A dataclass field with its documentation (and default, if it has one)."""
    if default is REQUIRED:
        return field(metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


def requirement(source: str, section: str | None = None) -> Callable[[bool, str, str], None]:
    """``require(ok, key, problem)``: an InputError naming ``[section] key`` (or ``key`` as
    given, without a section) unless ``ok``."""
    from bayesdose.errors import InputError

    def require(ok: bool, key: str, problem: str) -> None:
        if not ok:
            where = key if section is None else f"[{section}] {key}".rstrip()
            raise InputError(source, where, problem)

    return require
