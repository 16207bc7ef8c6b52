"""Design names, shared by every command: ``blrm``, ``3+3``, ``3+3-deesc``, ``crm``, ``boin``;
``optimal`` is reserved for the benchmark. The time-aware ``tite-blrm`` and ``tite-crm`` are
simulated only (``simulation.withtime``): a study with one of them runs every design in time."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from bayesdose.design import Design
from bayesdose.errors import InputError
from bayesdose.simulation.interface import SimulatedDesign

BENCHMARK = "optimal"

# name -> (module, class, keyword arguments); a design's module (CRM and BOIN import SciPy) is
# imported when the design is first made, so a worker process imports only what it runs.
DESIGNS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "blrm": ("bayesdose.simulation.blrm", "BlrmDesign", {}),
    "3+3": ("bayesdose.simulation.three_plus_three", "ThreePlusThree", {"deescalation": False}),
    "3+3-deesc": ("bayesdose.simulation.three_plus_three", "ThreePlusThree",
                  {"deescalation": True}),
    "crm": ("bayesdose.simulation.crm", "CrmDesign", {}),
    "boin": ("bayesdose.simulation.boin", "BoinDesign", {}),
}
# Designs that decide with patients still in follow-up: simulated in time only.
TIME_AWARE: dict[str, tuple[str, str, dict[str, Any]]] = {
    "tite-blrm": ("bayesdose.simulation.tite_blrm", "TiteBlrm", {}),
    "tite-crm": ("bayesdose.simulation.tite_crm", "TiteCrm", {}),
}


def parse_design_names(text: str, source: str = "--designs") -> list[str]:
    """Comma-separated design names, checked; order kept, duplicates dropped."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise InputError(source, None, "give at least one design name")
    for name in names:
        if name == BENCHMARK:
            raise InputError(source, name, "'optimal' is the benchmark, reported for every run")
        if name not in DESIGNS and name not in TIME_AWARE:
            known = sorted([*DESIGNS, *TIME_AWARE])
            raise InputError(source, name, f"unknown design; expected one of {known}")
    return names


def make_design(name: str, design: Design) -> SimulatedDesign:
    """The simulated design ``name`` (of DESIGNS) for a trial design."""
    return _construct(DESIGNS[name], design)


def make_time_aware(name: str, design: Design) -> Any:
    """The time-aware design ``name`` (of TIME_AWARE, a ``timedstates.TimedDesign``)."""
    return _construct(TIME_AWARE[name], design)


def _construct(entry: tuple[str, str, dict[str, Any]], design: Design) -> Any:
    module, cls, options = entry
    return getattr(import_module(module), cls)(design, **options)
