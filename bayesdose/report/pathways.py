"""Dose-transition pathways: what the design recommends after each possible outcome of the
first cohorts.

Every step is ``designs.blrm.recommendation.recommend`` (exact engine, ``rules.decide``) on
hypothetical patient-level data, so the pathways are exactly what ``bayesdose recommend`` will
say on the day, coherence included. The tree is at least two cohorts deep and grows a cohort
deeper while it stays readable (at most ``MAX_LEAVES`` end points).
"""

from __future__ import annotations

from dataclasses import dataclass

from bayesdose.data import TrialData
from bayesdose.designs.blrm.recommendation import recommend
from bayesdose.designs.blrm.rules import Decision
from bayesdose.hypothetical import Cohort, no_patients, with_cohorts
from bayesdose.schema import Design

MIN_DEPTH = 2
MAX_DEPTH = 4
MAX_LEAVES = 32


@dataclass(frozen=True)
class Step:
    """The trial after ``cohorts``, and what the design does next (``p_target`` and
    ``p_overdose`` are the posterior's at the next dose, None when the trial stops)."""

    cohorts: tuple[Cohort, ...]
    decision: Decision
    p_target: float | None
    p_overdose: float | None
    children: tuple[Step, ...] = ()

    @property
    def leaves(self) -> int:
        """End points of the tree below (and including) this step."""
        return sum(c.leaves for c in self.children) if self.children else 1

    def walk(self) -> list[Step]:
        """This step and every step below it, depth first."""
        return [self, *(s for child in self.children for s in child.walk())]


def hypothetical_data(design: Design, cohorts: tuple[Cohort, ...]) -> TrialData:
    """Patient-level data of ``cohorts`` from the start of the trial."""
    return with_cohorts(no_patients(design, "hypothetical"), cohorts)


class PathwayBuilder:
    """Grows the tree of a design, computing each step's recommendation once."""

    def __init__(self, design: Design) -> None:
        self.design = design
        self._steps: dict[tuple[Cohort, ...], tuple[Decision, float | None, float | None]] = {}

    def _decide(self, cohorts: tuple[Cohort, ...]) -> tuple[Decision, float | None,
                                                             float | None]:
        if cohorts not in self._steps:
            rec = recommend(self.design, hypothetical_data(self.design, cohorts))
            d = rec.decision
            p_target = p_over = None
            if d.next_level is not None:
                p_target = float(rec.summary["p_target"].values[d.next_level])
                p_over = float(rec.summary["p_overdose"].values[d.next_level])
            self._steps[cohorts] = (d, p_target, p_over)
        return self._steps[cohorts]

    def tree(self, depth: int, cohorts: tuple[Cohort, ...] = ()) -> Step:
        """The steps after ``cohorts`` and every outcome of the next ``depth`` cohorts."""
        decision, p_target, p_over = self._decide(cohorts)
        children: tuple[Step, ...] = ()
        if depth > 0 and decision.next_level is not None:
            children = tuple(
                self.tree(depth - 1, (*cohorts, Cohort(decision.next_level,
                                                       decision.cohort_size, y)))
                for y in range(decision.cohort_size + 1)
            )
        return Step(cohorts, decision, p_target, p_over, children)


def next_leaves(root: Step) -> int:
    """End points the tree would have one cohort deeper."""
    return sum(s.decision.cohort_size + 1 if s.decision.next_level is not None else 1
               for s in root.walk() if not s.children)


def pathway_tree(design: Design, depth: int | None = None) -> tuple[Step, int]:
    """The pathway tree and its depth in cohorts: ``depth`` if given, otherwise the deepest
    from MIN_DEPTH to MAX_DEPTH with at most MAX_LEAVES end points."""
    builder = PathwayBuilder(design)
    if depth is not None:
        return builder.tree(depth), depth
    depth = MIN_DEPTH
    root = builder.tree(depth)
    while depth < MAX_DEPTH and next_leaves(root) <= MAX_LEAVES:
        depth += 1
        root = builder.tree(depth)
    return root, depth


@dataclass(frozen=True)
class TableCell:
    """A cell of the pathway table: a step (``repeat`` when the row above shows the same step,
    one shared by several pathways), or a blank (``step`` None) after a path that stopped
    early, spanning ``colspan`` cohorts."""

    step: Step | None
    repeat: bool = False
    colspan: int = 1


def _first_leaf(step: Step) -> Step:
    while step.children:
        step = step.children[0]
    return step


def table_rows(root: Step, depth: int) -> list[list[TableCell]]:
    """One row per end point of the tree, each with its whole path, so that a row reads alone
    on any page of the PDF (no cell spans rows: a step shared by several pathways is repeated,
    marked ``repeat`` after its first row)."""
    rows: list[list[TableCell]] = []

    def visit(step: Step, path: list[Step]) -> None:
        if not step.children:
            row = [TableCell(s, _first_leaf(s) is not step) for s in path]
            if len(path) < depth:
                row.append(TableCell(None, False, depth - len(path)))
            rows.append(row)
        for child in step.children:
            visit(child, [*path, child])

    visit(root, [])
    return rows
