"""Dose-transition pathways of the combination BLRM: after the trial so far, what
``bayesdose recommend`` would say after each possible outcome (0 .. cohort size DLTs) of the next
cohorts at the pairs it recommends (``recommend --pathway-cohorts N``).

Every step is ``recommendation.recommend_each`` on the real data plus hypothetical cohorts, so
a pathway is exactly what ``recommend`` will print on the day, coherence included. A tree level
is one batch of the engine (each posterior costs about 0.1 s): one cohort deep is cohort size
+ 1 posteriors, each cohort deeper (cohort size + 1) times more; the command line allows 3.
"""

from __future__ import annotations

from dataclasses import dataclass

from bayesdose.data import TrialData
from bayesdose.designs.blrm_comb.recommendation import (
    ComboRecommendation,
    doses_of,
    recommend_each,
)
from bayesdose.hypothetical import Cohort, with_cohorts
from bayesdose.schema import Design


@dataclass(frozen=True)
class PathStep:
    """The trial after the hypothetical ``cohorts`` (a ``Cohort``'s level is a flat pair
    index) and the recommendation there; ``children`` one per outcome of the next cohort."""

    cohorts: tuple[Cohort, ...]
    rec: ComboRecommendation
    children: tuple[PathStep, ...] = ()

    def at_next(self, key: str) -> float | None:
        """A posterior summary (``p_target``, ``p_overdose``) at the recommended pair."""
        pair = self.rec.decision.next_pair
        return None if pair is None else float(getattr(self.rec.summary, key)[0, pair])


def pathway_tree(design: Design, data: TrialData, cohorts: int) -> PathStep:
    """The recommendation on ``data`` and after every outcome of the next ``cohorts`` cohorts
    (each at the pair recommended before it; a stop ends its branch), one engine batch per
    cohort."""
    recs = {(): recommend_each(design, [data])[0]}
    frontier: list[tuple[Cohort, ...]] = [()]
    for _ in range(cohorts):
        frontier = [path + (outcome,) for path in frontier for outcome in _outcomes(recs[path])]
        if not frontier:
            break
        recs.update(zip(frontier, recommend_each(
            design, [with_cohorts(data, path) for path in frontier]), strict=True))
    return _assemble((), recs)


def _outcomes(rec: ComboRecommendation) -> list[Cohort]:
    """Every outcome of the next cohort (none after a stop)."""
    d = rec.decision
    return [] if d.stop else [Cohort(d.next_pair, d.cohort_size, y)
                              for y in range(d.cohort_size + 1)]


def _assemble(path: tuple[Cohort, ...], recs: dict[tuple[Cohort, ...], ComboRecommendation]
              ) -> PathStep:
    rec = recs[path]
    children = tuple(_assemble(path + (c,), recs) for c in _outcomes(rec) if path + (c,) in recs)
    return PathStep(path, rec, children)


def _then(step: PathStep) -> str:
    """What the design does after a step: the next pair with its numbers, or the stop."""
    d, label = step.rec.decision, step.rec.design.pair_panel.label
    if d.stop:
        mtd = "none" if d.mtd_pair is None else label(d.mtd_pair)
        return f"STOP ({d.stop_reason.replace('_', ' ')}): MTD {mtd}"
    ewoc = "" if d.ewoc_met else "; no pair meets EWOC"
    return (f"{label(d.next_pair)} ({d.direction}), P(target) {step.at_next('p_target'):.3f}, "
            f"P(over) {step.at_next('p_overdose'):.3f}{ewoc}")


def pathway_lines(root: PathStep, cohorts: int) -> list[str]:
    """The tree as printed: one line per outcome, indented by cohort."""
    lines = [f"pathways: what recommend would say after each outcome of the next {cohorts} "
             f"cohort{'s' if cohorts > 1 else ''} (DLTs/patients at the pair given -> the next "
             "pair, P(target) and P(over) there)"]

    def visit(step: PathStep, depth: int) -> None:
        for child in step.children:
            last = child.cohorts[-1]
            where = child.rec.design.pair_panel.label(last.level)
            lines.append(f"{'  ' * depth}{depth}. {last.dlts}/{last.size} at {where} -> "
                         f"{_then(child)}")
            visit(child, depth + 1)

    visit(root, 1)
    return lines


def pathway_json(root: PathStep, cohorts: int) -> dict[str, object]:
    """The tree in ``recommend --json``: per outcome the cohort (pair, patients, DLTs) and
    what follows, its own outcomes under ``then``."""
    design = root.rec.design

    def node(step: PathStep) -> dict[str, object]:
        last, d = step.cohorts[-1], step.rec.decision
        return {"dose": doses_of(design, last.level), "n": last.size, "dlt": last.dlts,
                "next_dose": doses_of(design, d.next_pair), "cohort_size": d.cohort_size,
                "direction": d.direction, "stop_reason": d.stop_reason,
                "mtd": doses_of(design, d.mtd_pair), "ewoc_met": d.ewoc_met,
                "p_target": step.at_next("p_target"), "p_overdose": step.at_next("p_overdose"),
                "then": [node(child) for child in step.children]}

    return {"cohorts": cohorts, "then": [node(child) for child in root.children]}
