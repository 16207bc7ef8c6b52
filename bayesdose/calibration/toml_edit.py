"""Set keys of a TOML config in its text, keeping every other line and comment as it was.

``calibrated.toml`` is the user's config with the calibrated values: a protocol's config keeps
its layout and comments, and each changed key carries a comment saying where its value came
from. Keys of ``[section]`` tables (``[model]``, ``[designs.crm]``) are replaced on their line
(a value spread over several lines included) or added at the end of their table, or in a new
table at the end of the file. The result is parsed again and must equal the input with exactly
these keys changed; anything else (a key set by a dotted name or an inline table) is refused
rather than written wrong.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")  # [table], not [[array of tables]]
_ANY_HEADER = re.compile(r"^\s*\[")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def toml_value(value: Any) -> str:
    """A number or a list of numbers as TOML."""
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def set_keys(text: str, changes: dict[tuple[str, str], tuple[Any, str]]) -> str:
    """``text`` with each ``(table, key)`` set to ``(value, comment)``."""
    lines = text.splitlines()
    out: list[str] = []
    table, written = "", set()
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _HEADER.match(line)
        if header or _ANY_HEADER.match(line):
            out = _close_table(out, table, changes, written)
            table = header.group(1).strip() if header else ""
        key = _KEY.match(line)
        if key and (table, key.group(1)) in changes:
            value, comment = changes[table, key.group(1)]
            out.append(f"{key.group(1)} = {toml_value(value)}  # {comment}")
            written.add((table, key.group(1)))
            i = _value_end(lines, i)
        else:
            out.append(line)
        i += 1
    out = _close_table(out, table, changes, written)
    for table in dict.fromkeys(t for t, _ in changes):
        missing = [(t, k) for t, k in changes if t == table and (t, k) not in written]
        if missing:
            out += ["", f"[{table}]"]
            out = _close_table(out, table, changes, written)
    result = "\n".join(out) + "\n"
    _check(text, result, changes)
    return result


def _close_table(out: list[str], table: str, changes: dict, written: set) -> list[str]:
    """Add the keys of ``table`` not yet written, after its last non-blank line."""
    missing = [(t, k) for t, k in changes if t == table and (t, k) not in written]
    if not missing or not table:
        return out
    end = len(out)
    while end > 0 and not out[end - 1].strip():
        end -= 1
    added = []
    for t, k in missing:
        value, comment = changes[t, k]
        added.append(f"{k} = {toml_value(value)}  # {comment}")
        written.add((t, k))
    return out[:end] + added + out[end:]


def _value_end(lines: list[str], i: int) -> int:
    """The last line of the value starting on line ``i`` (a list may span lines)."""
    depth = 0
    for j in range(i, len(lines)):
        code = lines[j].split("#", 1)[0] if j > i else lines[j].split("=", 1)[1].split("#", 1)[0]
        depth += code.count("[") - code.count("]")
        if depth <= 0:
            return j
    return len(lines) - 1


def _check(before: str, after: str, changes: dict[tuple[str, str], tuple[Any, str]]) -> None:
    expected = tomllib.loads(before)
    for (table, key), (value, _) in changes.items():
        node = expected
        for part in table.split("."):
            node = node.setdefault(part, {})
        node[key] = list(value) if isinstance(value, tuple | list) else value
    try:
        same = tomllib.loads(after) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise ValueError("the config sets these keys in a way this editor does not handle "
                         "(a dotted key or an inline table)")
