"""Scenario sets: the true DLT rate of every dose, read from TOML, and the true MTD.

A scenario file holds ``[[scenario]]`` tables, each with ``name``, ``p_true`` (one rate per
dose, in [0, 1], non-decreasing with dose) and, optionally, ``p_response`` (the true response
rate per dose, in [0, 1], in any order: efficacy may plateau or fall), which designs with
backfill (``NAME+backfill``) need: their patients respond, and their operating characteristics
include the optimal biological dose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayesdose.designs.registry import is_backfill
from bayesdose.errors import InputError
from bayesdose.input_files import unprintable
from bayesdose.schema import read_toml

TIE_TOLERANCE = 1e-9
NO_DOSE_MARGIN = 0.10


@dataclass(frozen=True)
class Scenario:
    name: str
    p_true: tuple[float, ...]
    p_response: tuple[float, ...] | None = None


def require_responses(scenarios: list[Scenario], names: list[str], source: str) -> None:
    """An InputError when a design with backfill is simulated in a scenario without
    ``p_response`` (``source``: where the scenarios come from)."""
    backfilled = [name for name in names if is_backfill(name)]
    missing = next((s for s in scenarios if s.p_response is None), None)
    if backfilled and missing is not None:
        raise InputError(source, f"scenario {missing.name!r} p_response",
                         f"missing: {', '.join(backfilled)} need(s) the true response rate "
                         "of every dose in every scenario (p_response = [0, ...] for none)")


def true_mtd(p_true: tuple[float, ...] | list[float], target: float) -> int | None:
    """0-based true MTD: the dose whose true rate is closest to ``target`` (ties within 1e-9 go
    to the lower dose); None ("no dose") when even the lowest dose's rate exceeds the target by
    more than 0.10."""
    if p_true[0] > target + NO_DOSE_MARGIN:
        return None
    distance = [abs(p - target) for p in p_true]
    best = min(distance)
    return next(k for k, d in enumerate(distance) if d <= best + TIE_TOLERANCE)


def load_scenarios(path: str | Path, n_doses: int) -> list[Scenario]:
    """Read and validate a scenario set for a panel of ``n_doses`` doses."""
    return scenarios_from_dict(read_toml(path), n_doses, str(path))


def scenarios_from_dict(raw: dict[str, Any], n_doses: int, source: str) -> list[Scenario]:
    return unique_names([_scenario(t, i, n_doses, source)
                         for i, t in enumerate(scenario_tables(raw, source))], source)


def scenario_tables(raw: dict[str, Any], source: str) -> list[Any]:
    """The [[scenario]] tables of a scenario file (one drug or two), or an InputError."""
    unknown = sorted(set(raw) - {"scenario"})
    if unknown:
        raise InputError(source, unknown[0], "unknown key; expected [[scenario]] tables")
    tables = raw.get("scenario")
    if not isinstance(tables, list) or not tables:
        raise InputError(source, "[[scenario]]", "expected at least one [[scenario]] table")
    return tables


def unique_names[T](scenarios: list[T], source: str) -> list[T]:
    """``scenarios``, once their names are checked to be unique."""
    names = [s.name for s in scenarios]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise InputError(source, f"scenario {duplicate!r}", "scenario names must be unique")
    return scenarios


def _scenario(table: Any, index: int, n_doses: int, source: str) -> Scenario:
    where = f"[[scenario]] #{index + 1}"
    if not isinstance(table, dict):
        raise InputError(source, where, "expected a table with name and p_true")
    unknown = sorted(set(table) - {"name", "p_true", "p_response"})
    if unknown:
        raise InputError(source, f"{where} {unknown[0]}",
                         "unknown key; expected name, p_true, p_response")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(source, f"{where} name", "expected a non-empty string")
    if problem := unprintable(name):  # the name heads lines of simulate's table
        raise InputError(source, f"{where} name", f"{problem} in {name!r}")
    where = f"scenario {name!r} p_true"
    p = _rates(table.get("p_true"), n_doses, source, where)
    for k in range(1, n_doses):
        if p[k] < p[k - 1]:
            raise InputError(
                source, f"{where}[{k}]",
                f"DLT rates must not decrease with dose ({p[k]:g} < {p[k - 1]:g})",
            )
    response = table.get("p_response")
    if response is not None:
        response = _rates(response, n_doses, source, f"scenario {name!r} p_response")
    return Scenario(name, p, response)


def _rates(p: Any, n_doses: int, source: str, where: str) -> tuple[float, ...]:
    """A list of one probability per dose, checked."""
    if not isinstance(p, list):
        raise InputError(source, where, "missing or not a list of probabilities")
    if len(p) != n_doses:
        raise InputError(
            source, where, f"has {len(p)} values but the dose panel has {n_doses} doses"
        )
    for k, v in enumerate(p):
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or not 0 <= v <= 1:
            problem = f"expected a probability in [0, 1], got {v!r}"
            raise InputError(source, f"{where}[{k}]", problem)
    return tuple(float(v) for v in p)
