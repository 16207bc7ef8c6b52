"""BOIN's reasons on a real trial (``recommend --design boin``): the observed DLT rate at the
current dose against the escalation and de-escalation boundaries lambda_e and lambda_d, and the
eliminated doses with the elimination rule's posterior probability.

The branch that decided is ``BoinDesign.plan``'s, the one ``decide`` takes, so the words cannot
tell another story than the step. The rate comparisons are exact: with n patients at the
current dose, ``y <= floor(lambda_e n)`` is ``y / n <= lambda_e`` and ``y >=`` the
de-escalation count is ``y / n > lambda_d`` (``core.deescalation_count``), except where the
elimination count caps it: then the words give the elimination instead.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from bayesdose.data import TrialData
from bayesdose.designs.base import States
from bayesdose.designs.boin.core import prob_overdose
from bayesdose.designs.boin.simulated import (
    DEESCALATE,
    EARLY_STOP,
    ELIMINATED,
    ESCALATE,
    FILL,
    FULL,
    HIGHER_ELIMINATED,
    LOWEST,
    NO_HIGHER,
    START,
    STAY,
    TITRATION,
    BoinDesign,
)
from bayesdose.schema import Design
from bayesdose.steps import Column, Details

_ESCALATE = ("{seen}: the DLT rate {rate:.3f} is <= lambda_e {le:.3f} (escalate with at most {e} "
             "DLTs in {n})")
_DEESCALATE = ("{seen}: the DLT rate {rate:.3f} is > lambda_d {ld:.3f} (de-escalate with {d} or "
               "more DLTs in {n})")
# The branch of ``BoinDesign.plan`` in words; the fields are filled in by ``_reason``.
WHY = {
    START: "no patients yet: start at {dose}",
    TITRATION: "accelerated titration: no DLT yet at {dose}, one patient at the next dose",
    FILL: "the titration patient at {dose} is the first of a cohort: {size} more there",
    FULL: "{total} patients treated, the maximum sample size: the MTD is the dose whose "
          "isotonic estimate of the DLT rate is closest to the target {target:g} (select.mtd)",
    ELIMINATED: "{lowest_seen}, the lowest dose: P(DLT rate > {target:g}) = {p_lowest:.3f} > "
                "{cutoff:g}, so it and every dose above are eliminated: stop for safety, no MTD",
    EARLY_STOP: "{seen}: {n} patients there reach n_earlystop ({stop}) and the rule would "
                "stay: stop, the MTD by select.mtd",
    ESCALATE: _ESCALATE + ": escalate",
    NO_HIGHER: _ESCALATE + ", but no dose is above: stay",
    HIGHER_ELIMINATED: _ESCALATE + ", but the dose above, {above}, is eliminated: stay",
    DEESCALATE: _DEESCALATE + ": de-escalate",
    LOWEST: _DEESCALATE + ", but this is the lowest dose: stay",
    STAY: "{seen}: the DLT rate {rate:.3f} is between lambda_e {le:.3f} and lambda_d {ld:.3f} "
          "(escalate with at most {e}, de-escalate with {d} or more DLTs in {n}): stay",
}
_ELIMINATES = ("{seen}: P(DLT rate > {target:g}) = {p:.3f} > {cutoff:g} eliminates it and every "
               "dose above: de-escalate")


def step_details(boin: BoinDesign, design: Design, data: TrialData, state: States,
                 document: dict[str, Any]) -> Details:
    """BOIN's boundaries and eliminated doses, in the document and in words."""
    n, y = data.n, data.dlt
    eliminated = boin.eliminated(n[None], y[None])[0]
    p_above = prob_overdose(boin.target, y, n)
    for k, entry in enumerate(document["doses"]):
        treated = n[k] > 0
        entry.update(dlt_rate=float(y[k] / n[k]) if treated else None,
                     p_above_target=float(p_above[k]) if treated else None,
                     eliminated=bool(eliminated[k]))
    c = int(state.last_level[0])
    document["boin"] = {
        "target": boin.target, "lambda_e": boin.lambda_e, "lambda_d": boin.lambda_d,
        "elimination_cutoff": boin.cutoff, "n_earlystop": boin.n_earlystop,
        "at_current_dose": None if c < 0 else _counts(boin, int(n[c]), int(y[c])),
    }
    target = f"{boin.target:g}"
    return Details(
        reason=_reason(boin, design, state, eliminated),
        lines=(f"BOIN, target {target}: escalate if the DLT rate at the current dose is <= "
               f"lambda_e {boin.lambda_e:.3f}, de-escalate if it is > lambda_d "
               f"{boin.lambda_d:.3f}, otherwise stay; a dose with 3 or more patients and "
               f"P(DLT rate > {target}) > {boin.cutoff:g} (Beta(1, 1) prior) is eliminated "
               "with every dose above it",
               _eliminated_line(boin, design, data, eliminated)),
        columns=(Column("dlt_rate", "DLT rate"), Column("p_above_target", f"P(rate > {target})"),
                 Column("eliminated", "eliminated")),
        draw=functools.partial(draw_boundaries, boin,
                               [int(k) for k in np.flatnonzero(eliminated)]),
    )


def _counts(boin: BoinDesign, n: int, y: int) -> dict[str, Any]:
    """The current dose's counts and the boundaries for its number of patients."""
    eliminate = int(boin.eliminate[n])
    return {"n": n, "dlt": y, "dlt_rate": y / n, "escalate_if_dlt_le": int(boin.escalate[n]),
            "deescalate_if_dlt_ge": int(boin.deescalate[n]),
            "eliminate_if_dlt_ge": None if eliminate > n else eliminate}


def _eliminated_line(boin: BoinDesign, design: Design, data: TrialData,
                     eliminated: np.ndarray) -> str:
    if not eliminated.any():
        return "no dose is eliminated"
    k = int(np.argmax(eliminated))
    p = float(prob_overdose(boin.target, data.dlt[k], data.n[k]))
    return (f"eliminated: {design.panel.label(k)} and every dose above "
            f"({_seen(design, data.n, data.dlt, k)}: P(DLT rate > {boin.target:g}) = {p:.3f} > "
            f"{boin.cutoff:g})")


def _seen(design: Design, n: np.ndarray, y: np.ndarray, k: int) -> str:
    """``1 DLT in 3 at 3x10^8 viable cells``: dose ``k``'s counts."""
    from bayesdose.report.text import dlts

    return f"{dlts(int(y[k]))} in {int(n[k])} at {design.panel.label(k)}"


def _reason(boin: BoinDesign, design: Design, state: States, eliminated: np.ndarray) -> str:
    """The branch ``plan`` takes on the trial's state, in words with its numbers."""
    _, size, _, why = (int(v[0]) for v in boin.plan(state))
    label = design.panel.label
    c = max(int(state.last_level[0]), 0)
    counts, dlt = state.n[0], state.dlt[0]
    n, y = int(counts[c]), int(dlt[c])
    fields = dict(
        seen=_seen(design, counts, dlt, c), dose=label(c if why != START else boin.start),
        size=size, total=int(state.n.sum()), target=boin.target, cutoff=boin.cutoff,
        stop=boin.n_earlystop, n=n, rate=y / n if n else 0.0, le=boin.lambda_e,
        ld=boin.lambda_d, e=boin.escalate[n], d=boin.deescalate[n],
        above=label(min(c + 1, len(design.levels) - 1)),
        lowest_seen=_seen(design, counts, dlt, 0),
        p_lowest=float(prob_overdose(boin.target, dlt[0], counts[0])),
        p=float(prob_overdose(boin.target, y, n)),
    )
    if why == DEESCALATE and eliminated[c] and y / n <= boin.lambda_d:
        return _ELIMINATES.format(**fields)  # the elimination count caps the de-escalation's
    return WHY[why].format(**fields)


def draw_boundaries(boin: BoinDesign, eliminated: list[int], ax: Any) -> None:
    """The boundaries as horizontal lines over the observed rates; eliminated doses shaded."""
    from bayesdose.report.figures import OVER, UNDER
    from bayesdose.report.rule_decision import target_line

    ax.axhline(boin.lambda_d, color=OVER, ls="--", lw=1.1,
               label=f"de-escalate above λd = {boin.lambda_d:.3f}")
    target_line(ax, boin.target)
    ax.axhline(boin.lambda_e, color=UNDER, ls="--", lw=1.1,
               label=f"escalate at or below λe = {boin.lambda_e:.3f}")
    for i, k in enumerate(eliminated):
        ax.axvspan(k - 0.5, k + 0.5, color="#777777", alpha=0.18, lw=0,
                   label="eliminated" if i == 0 else None)
