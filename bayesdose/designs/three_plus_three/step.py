"""3+3's words on a real trial (``recommend --design 3+3`` or ``3+3-deesc``): the branch of the
rule that applied, with the counts at the current dose (``ThreePlusThree.decide_one``)."""

from __future__ import annotations

from typing import Any

from bayesdose.data import TrialData
from bayesdose.designs.base import States
from bayesdose.designs.three_plus_three.simulated import ThreePlusThree
from bayesdose.schema import Design
from bayesdose.steps import Details


def step_details(rule: ThreePlusThree, design: Design, data: TrialData, state: States,
                 document: dict[str, Any]) -> Details:
    """The rule that applied, as a sentence with its counts (3+3 has no numbers of its own)."""
    return Details(rule.decide_one(state.n[0], state.dlt[0], int(state.last_level[0]))[4])
