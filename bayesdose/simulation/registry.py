"""Design names, shared by every command: ``blrm``, ``3+3``, ``3+3-deesc``, ``crm``, ``boin``;
``optimal`` is reserved for the benchmark. The time-aware ``tite-blrm`` and ``tite-crm`` are
simulated only (``simulation.withtime``): a study with one of them runs every design in time."""

from __future__ import annotations

from collections.abc import Callable

from bayesdose.design import Design
from bayesdose.errors import InputError
from bayesdose.simulation.blrm import BlrmDesign
from bayesdose.simulation.boin import BoinDesign
from bayesdose.simulation.crm import CrmDesign
from bayesdose.simulation.interface import SimulatedDesign
from bayesdose.simulation.three_plus_three import ThreePlusThree
from bayesdose.simulation.tite_blrm import TiteBlrm
from bayesdose.simulation.tite_crm import TiteCrm

BENCHMARK = "optimal"

DESIGNS: dict[str, Callable[[Design], SimulatedDesign]] = {
    "blrm": BlrmDesign,
    "3+3": lambda design: ThreePlusThree(design, deescalation=False),
    "3+3-deesc": lambda design: ThreePlusThree(design, deescalation=True),
    "crm": CrmDesign,
    "boin": BoinDesign,
}
# Designs that decide with patients still in follow-up: simulated in time only.
TIME_AWARE: dict[str, Callable[[Design], object]] = {"tite-blrm": TiteBlrm, "tite-crm": TiteCrm}


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
    return DESIGNS[name](design)
