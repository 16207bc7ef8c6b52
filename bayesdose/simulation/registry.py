"""Design names, shared by every command: ``blrm``, ``3+3``, ``3+3-deesc``, ``crm``, ``boin``;
``optimal`` is reserved for the benchmark."""

from __future__ import annotations

from collections.abc import Callable

from bayesdose.design import Design
from bayesdose.errors import InputError
from bayesdose.simulation.blrm import BlrmDesign
from bayesdose.simulation.boin import BoinDesign
from bayesdose.simulation.crm import CrmDesign
from bayesdose.simulation.interface import SimulatedDesign
from bayesdose.simulation.three_plus_three import ThreePlusThree

BENCHMARK = "optimal"

DESIGNS: dict[str, Callable[[Design], SimulatedDesign]] = {
    "blrm": BlrmDesign,
    "3+3": lambda design: ThreePlusThree(design, deescalation=False),
    "3+3-deesc": lambda design: ThreePlusThree(design, deescalation=True),
    "crm": CrmDesign,
    "boin": BoinDesign,
}


def parse_design_names(text: str, source: str = "--designs") -> list[str]:
    """Comma-separated design names, checked; order kept, duplicates dropped."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise InputError(source, None, "give at least one design name")
    for name in names:
        if name == BENCHMARK:
            raise InputError(source, name, "'optimal' is the benchmark, reported for every run")
        if name not in DESIGNS:
            raise InputError(source, name, f"unknown design; expected one of {sorted(DESIGNS)}")
    return names


def make_design(name: str, design: Design) -> SimulatedDesign:
    return DESIGNS[name](design)
