"""The simulation study behind a design report: run it (into ``OUT/simulation``, the same
files ``bayesdose simulate`` writes) or reuse a finished one; either way the report reads its
numbers from the ``summary.json`` on disk."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayesdose.defaults import DEFAULT_METHOD
from bayesdose.errors import InputError
from bayesdose.input_files import read_input
from bayesdose.schema import Design
from bayesdose.simulation.scenarios import Scenario, true_mtd


@dataclass(frozen=True)
class Study:
    """A finished study: its summary document and where it came from."""

    summary: dict[str, Any]
    path: Path  # summary.json
    seconds: float | None  # wall time of the simulation; None when reused
    reused: bool
    omitted: dict[str, str]  # design -> why it is not compared


# With [backfill] enabled, the report adds these designs with backfill (``NAME+backfill``):
# the config's own design, BLRM-EWOC, and BF-BOIN, the published backfill design. Two, so the
# tables stay readable; any other is compared by ``bayesdose simulate --designs`` and ``--sim``.
REPORT_BACKFILL = ("blrm+backfill", "boin+backfill")


def report_designs(design: Design, scenarios: Sequence[Scenario] = (),
                   method: str = DEFAULT_METHOD) -> tuple[list[str], dict[str, str]]:
    """The designs to compare, and the reasons the others are left out. With ``[backfill]
    enabled``, ``REPORT_BACKFILL`` too, when they can run: the ``scenarios`` have response
    rates, the config a DLT window, and the ``method`` is not exact."""
    from bayesdose.designs.registry import REPORT_DESIGNS

    # the registry's order; the optimal benchmark comes with all
    names, omitted = designs_allowed(design, REPORT_DESIGNS)
    if design.backfill.enabled:
        for name in REPORT_BACKFILL:
            try:
                _check_backfill(design, name, scenarios, method)
            except InputError as err:
                omitted[name] = str(err)
                continue
            names.append(name)
    return names, omitted


def designs_allowed(design: Design, candidates: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Of ``candidates``, the designs the config allows (in their order), and why each other
    one is left out (its config error)."""
    from bayesdose.designs.registry import make_design

    names, omitted = [], {}
    for name in candidates:
        try:
            make_design(name, design)
        except InputError as err:
            omitted[name] = err.problem
            continue
        names.append(name)
    return names, omitted


def _check_backfill(design: Design, name: str, scenarios: Sequence[Scenario],
                    method: str) -> None:
    """An InputError when the backfill design ``name`` cannot run in this study."""
    from bayesdose.simulation.scenarios import require_responses
    from bayesdose.simulation.withtime import check_timed

    require_responses(list(scenarios), [name], "the scenario file")
    check_timed(design, [name], method)


def run(design: Design, scenarios: list[Scenario], trials: int, seed: int, method: str,
        folder: Path) -> Study:
    """Simulate every report design in every scenario; write ``folder/summary.json``."""
    from bayesdose.simulation.study import study_summary
    from bayesdose.simulation.tree import TreeTooLarge

    names, omitted = report_designs(design, scenarios, method)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        study_summary(design, scenarios, names, trials, seed, method, out=folder, progress=True)
    except TreeTooLarge as err:
        raise InputError("--method exact", None, f"{err}; use --method simulate") from None
    seconds = time.perf_counter() - start
    path = folder / "summary.json"
    return Study(read_summary(path), path, seconds, False, omitted)


def reuse(folder: Path, design: Design, scenarios: list[Scenario]) -> Study:
    """The study in a ``bayesdose simulate`` output folder, checked against the scenarios."""
    path = folder / "summary.json"
    summary = read_summary(path)
    check_design(summary, design, str(path))
    check_scenarios(summary, design, scenarios, str(path))
    present = set(summary["scenarios"][0]["designs"])
    names, omitted = report_designs(design, scenarios)
    omitted.update({n: "not in the reused simulation" for n in names if n not in present})
    return Study(summary, path, None, True, omitted)


def read_summary(path: Path) -> dict[str, Any]:
    raw = read_input(path, missing="file not found (expected the output folder of bayesdose "
                     "simulate)")
    try:
        summary = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(str(path), None, f"not a summary.json document: {err}") from None
    if not isinstance(summary, dict) or not summary.get("scenarios") or "method" not in summary:
        raise InputError(str(path), None, "not a summary.json of bayesdose simulate")
    return summary


def check_design(summary: dict[str, Any], design: Design, source: str) -> None:
    """The summary must come from this design config (its settings, wherever the file is)."""
    from bayesdose.simulation.chunks import design_sha256

    # design_sha256 was called config_sha256 before; both are the hash of the settings
    key = next((k for k in ("design_sha256", "config_sha256") if k in summary), None)
    if key is None:
        raise InputError(source, "design_sha256", "missing: cannot tell which design config "
                         "was simulated (written by an older bayesdose); run bayesdose "
                         "simulate again")
    if summary[key] != design_sha256(design):
        raise InputError(source, key, f"was simulated with another design config "
                         f"than {design.source}; run bayesdose simulate with this config, or "
                         "report without --sim")


def check_scenarios(summary: dict[str, Any], design: Design, scenarios: list[Scenario],
                    source: str) -> None:
    """The summary must hold exactly the scenarios of the scenario file, with the true MTDs of
    the design's target."""
    have = [(s.get("name"), s.get("p_true")) for s in summary["scenarios"]]
    want = [(s.name, list(s.p_true)) for s in scenarios]
    same = len(have) == len(want) and all(
        a == c and isinstance(b, list) and len(b) == len(d)
        and all(math.isclose(x, y, abs_tol=1e-12) for x, y in zip(b, d, strict=True))
        for (a, b), (c, d) in zip(have, want, strict=True)
    )
    if not same:
        raise InputError(source, None, "its scenarios differ from the scenario file's "
                         "(names or true DLT rates)")
    for entry, scenario in zip(summary["scenarios"], scenarios, strict=True):
        mtd = true_mtd(scenario.p_true, design.decision.target)
        if entry.get("true_mtd") != (None if mtd is None else mtd + 1):
            raise InputError(source, f"scenario {scenario.name!r}", "its true MTD differs from "
                             "the config's target: simulated with another config?")
