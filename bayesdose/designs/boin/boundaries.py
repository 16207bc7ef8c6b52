"""``bayesdose boundaries CONFIG``: BOIN's decision table for a protocol, as R's BOIN 2.7.2
prints it (``summary(get.boundary(...))``).

The protocol's ``get.boundary`` call: ``target`` is ``[decision] target``, ``cohortsize``
``[cohorts] size``, the number of patients ``[stopping] max_patients`` (R's ``ncohort *
cohortsize``), ``n.earlystop`` and ``cutoff.eli`` from ``[designs.boin]``; ``p.saf`` and ``p.tox``
are R's defaults (0.6 and 1.4 times the target). The tables are R's, row for row: escalate if the
number of DLTs at the current dose is at most the first row's count, de-escalate if it is at
least the second's, eliminate the dose (and every dose above) if it is at least the third's
(``NA``: no count eliminates); the per-cohort table keeps the multiples of the cohort size.
"""

from __future__ import annotations

from typing import Any

from bayesdose.designs.boin.core import BoundaryTable, boundary_table
from bayesdose.errors import InputError
from bayesdose.schema import Design

ROWS = ("Number of patients treated", "Escalate if # of DLT <=", "Deescalate if # of DLT >=",
        "Eliminate if # of DLT >=")  # R's row names
WIDTH = 80  # R's console width: a line stays shorter, wider tables continue in blocks below


def design_table(design: Design, max_n: int) -> BoundaryTable:
    """``core.boundary_table`` to ``max_n`` patients for the design's target and elimination
    cutoff; an InputError for a target BOIN cannot take (its p.tox = 1.4 target must stay below
    1; R's get.boundary refuses targets above 0.6)."""
    target = design.decision.target
    if 1.4 * target >= 1:
        raise InputError(design.source, "[decision] target",
                         f"BOIN needs a target below 1/1.4 = 0.714 (its p.tox is 1.4 times the "
                         f"target), got {target:g}")
    return boundary_table(target, max_n, design.designs.boin.elimination_cutoff)


def protocol_table(design: Design) -> BoundaryTable:
    """The full table for ``n = 1 .. min(max_patients, n_earlystop)``, as ``get.boundary``'s
    ``full_boundary_tab``."""
    most = min(design.stopping.max_patients, design.designs.boin.n_earlystop)
    return design_table(design, most)


def boundaries_json(design: Design) -> dict[str, Any]:
    """The protocol's boundaries as ``boundaries --json`` writes them."""
    table = protocol_table(design)
    boin = design.designs.boin
    return {
        "trial": design.trial.name,
        "target": design.decision.target,
        "cohort_size": design.cohorts.size,
        "max_patients": design.stopping.max_patients,
        "n_earlystop": boin.n_earlystop,
        "elimination_cutoff": boin.elimination_cutoff,
        "lambda_e": table.lambda_e,
        "lambda_d": table.lambda_d,
        "boundary_tab": _columns(table.per_cohort(design.cohorts.size)),
        "full_boundary_tab": _columns(table),
    }


def _columns(table: BoundaryTable) -> dict[str, list[int | None]]:
    return {"n_patients": list(table.n), "escalate_if_dlt_le": list(table.escalate),
            "deescalate_if_dlt_ge": list(table.deescalate),
            "eliminate_if_dlt_ge": list(table.eliminate)}


def format_boundaries(design: Design) -> str:
    """The printed answer of ``bayesdose boundaries``: the rule in words, then R's tables."""
    table = protocol_table(design)
    boin, size = design.designs.boin, design.cohorts.size
    target = design.decision.target
    lines = [
        f"{design.trial.name}: BOIN boundaries for target {target:g}, cohorts of {size}, "
        f"at most {design.stopping.max_patients} patients (as BOIN 2.7.2's get.boundary)",
        "Escalate the dose if the observed DLT rate at the current dose <= "
        f"{table.lambda_e:.7g} (lambda_e)",
        "De-escalate the dose if the observed DLT rate at the current dose > "
        f"{table.lambda_d:.7g} (lambda_d)",
        f"Eliminate a dose and every dose above it if P(DLT rate > {target:g} | data) > "
        f"{boin.elimination_cutoff:g} with at least 3 patients there (Beta(1, 1) prior)",
    ]
    if boin.n_earlystop < design.stopping.max_patients:
        lines.append(f"Stop when {boin.n_earlystop} patients at the current dose and the rule "
                     "stays there (n_earlystop): the tables end there")
    lines += ["", "This is equivalent to the following decision boundaries",
              *_r_matrix(table.per_cohort(size))]
    if size > 1:  # R gives the full table only for cohorts of more than one
        lines += ["", "A more completed version of the decision boundaries is given by",
                  *_r_matrix(table)]
    lines += ["", "Default stopping rule: stop the trial if the lowest dose is eliminated."]
    return "\n".join(lines)


def _r_matrix(table: BoundaryTable) -> list[str]:
    """The four rows as R prints a matrix: row names left, each column as wide as its widest
    entry (``NA`` where no count eliminates), in blocks of lines shorter than ``WIDTH``."""
    rows = [table.n, table.escalate, table.deescalate, table.eliminate]
    columns = [["NA" if v is None else str(v) for v in column]
               for column in zip(*rows, strict=True)]
    label = max(len(name) for name in ROWS)
    lines: list[str] = []
    start = 0
    while start < len(columns):
        if lines:
            lines.append("")
        end, used = start, label
        while end < len(columns) and (end == start or used + 1 + _wide(columns[end]) < WIDTH):
            used += 1 + _wide(columns[end])
            end += 1
        for r, name in enumerate(ROWS):
            cells = "".join(f" {c[r]:>{_wide(c)}}" for c in columns[start:end])
            lines.append(f"{name:<{label}}{cells}")
        start = end
    return lines


def _wide(column: list[str]) -> int:
    return max(len(cell) for cell in column)
