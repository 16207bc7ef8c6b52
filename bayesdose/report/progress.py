"""The trial-progress plot: ``bayesdose recommend --progress-plot PATH``, and the second figure
of ``--html``.

Every patient in order of enrolment (x) at the dose received (y), a DLT marked, patients still
in DLT follow-up and non-evaluable patients marked apart, backfill patients boxed (their
outcome marked as any patient's; placed with the escalation cohort they came beside, whose
number the data give them), cohorts shaded in turn and numbered,
then the decision on the trial so far: the next cohort at its dose, a stop (with its MTD), or
a wait. It reads the trial data and the JSON document of ``recommend --json``, of any design,
as they are: nothing is recomputed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bayesdose.data import Patient, TrialData
from bayesdose.errors import InputError
from bayesdose.report.text import dlts
from bayesdose.report.text import patients as patients_text
from bayesdose.schema import Design

BACKFILL_BOX = dict(marker="s", ms=13, mfc="none", mew=1.3)  # around a backfill patient's marker
NO_DLT, DLT, PENDING, NOT_EVALUABLE = "#333333", "#a8322a", "#8a8a8a", "#b5b5b5"
NEXT_INK, STOP_INK, COHORT_SHADE = "#1f4e79", "#a8322a", "#eef3f8"


def check_data(data: TrialData) -> None:
    """Refuse aggregated counts: the plot needs the patients in order (before anything is
    computed or written)."""
    if not data.patient_level:
        raise InputError("--progress-plot", None, "it shows patients in order of enrolment: "
                         "give patient-level data (patient_id,cohort,dose,dlt), not "
                         "aggregated counts")


def in_order(data: TrialData) -> list[Patient]:
    """The patients in order of enrolment: by cohort, then as listed in the data."""
    return sorted(data.patients or (), key=lambda p: p.cohort)


def progress_figure(design: Design, data: TrialData, document: dict[str, Any]) -> Any:
    """The trial so far, patient by patient, and the decision on it (``document``)."""
    from bayesdose.report.figures import styled

    return styled(_draw)(design, data, document)


def _draw(design: Design, data: TrialData, document: dict[str, Any]) -> Any:
    from matplotlib.ticker import MaxNLocator

    from bayesdose.report.figures import fit_tick_labels, new_figure
    from bayesdose.report.text import dose_number

    patients = in_order(data)
    k = len(design.levels)
    fig = new_figure(9.0, max(3.4, 0.24 * k + 2.2))
    ax = fig.add_subplot()
    centres = _shade_cohorts(ax, patients)
    handles = _draw_patients(ax, data, patients)
    handles += _draw_decision(ax, design, document, len(patients))
    ax.set_yticks(range(k), [dose_number(design, d) for d in design.levels])
    ax.set_ylim(-0.6, k - 0.4)
    unit = design.doses.unit
    ax.set_ylabel(f"dose ({unit})" if unit else "dose", parse_math=False)
    ax.set_xlabel("patient, in order of enrolment")
    places = 0 if document["stop"] else int(document.get("cohort_size") or 0)
    if places and not document.get("wait"):
        centres["next"] = len(patients) + (places + 1) / 2
    ax.set_xlim(0.4, len(patients) + max(places, 1) + 0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(axis="y")
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(centres.values()), list(centres))
    top.tick_params(axis="x", length=0, labelsize=7.5, labelcolor="#5b6675")
    top.set_xlabel("cohort (shaded in turn)", fontsize=8, color="#5b6675")
    cohorts = len(centres) - ("next" in centres)
    backfill = sum(p.backfill for p in patients)
    ax.set_title(f"Trial progress: {patients_text(len(patients))}"
                 f"{f' ({backfill} backfill)' if backfill else ''}, "
                 f"{dlts(sum(p.dlt for p in patients if p.evaluable))}, {cohorts} cohort"
                 f"{'' if cohorts == 1 else 's'}", loc="left")
    fig.suptitle(design.trial.name, parse_math=False, fontsize=10, x=0.01, ha="left")
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5))
    fit_tick_labels(fig, top)
    return fig


def _shade_cohorts(ax: Any, patients: list[Patient]) -> dict[str, float]:
    """Every other cohort shaded; returns each cohort's centre on x, by its number."""
    centres: dict[str, float] = {}
    start = 0
    for i, cohort in enumerate(sorted({p.cohort for p in patients})):
        size = sum(p.cohort == cohort for p in patients)
        if i % 2 == 0:
            ax.axvspan(start + 0.5, start + size + 0.5, color=COHORT_SHADE, lw=0, zorder=0)
        centres[str(cohort)] = start + (size + 1) / 2
        start += size
    return centres


def _draw_patients(ax: Any, data: TrialData, patients: list[Patient]) -> list[Any]:
    """One marker per patient; returns the legend's handles of the kinds present."""
    from matplotlib.lines import Line2D

    pending = {p.patient_id for p in data.pending_patients}
    kinds = {
        "no DLT": dict(marker="o", mfc="white", mec=NO_DLT, ms=7),
        "DLT": dict(marker="X", mfc=DLT, mec=DLT, ms=9),
        "in DLT follow-up": dict(marker="o", mfc="#e4e4e4", mec=PENDING, ms=7),
        "not evaluable": dict(marker="s", mfc=NOT_EVALUABLE, mec=NOT_EVALUABLE, ms=5),
    }
    where: dict[str, list[tuple[int, int]]] = {kind: [] for kind in kinds}
    for x, p in enumerate(patients, start=1):
        kind = ("not evaluable" if not p.evaluable else "DLT" if p.dlt
                else "in DLT follow-up" if p.patient_id in pending else "no DLT")
        where[kind].append((x, p.level))
    handles = []
    for kind, style in kinds.items():
        if where[kind]:
            xs, ys = zip(*where[kind], strict=True)
            ax.plot(xs, ys, ls="", zorder=3, **style)
            handles.append(Line2D([], [], ls="", label=kind, **style))
    return handles + _box_backfill(ax, patients)


def _box_backfill(ax: Any, patients: list[Patient]) -> list[Any]:
    """A box in the backfill colour around each backfill patient's marker; returns the
    legend's handle (none without backfill patients)."""
    from matplotlib.lines import Line2D

    from bayesdose.report.figures import BACKFILL_INK

    boxed = [(x, p.level) for x, p in enumerate(patients, start=1) if p.backfill]
    if not boxed:
        return []
    xs, ys = zip(*boxed, strict=True)
    ax.plot(xs, ys, ls="", zorder=2, mec=BACKFILL_INK, **BACKFILL_BOX)
    return [Line2D([], [], ls="", mec=BACKFILL_INK, label="backfill patient", **BACKFILL_BOX)]


def _draw_decision(ax: Any, design: Design, document: dict[str, Any], enrolled: int
                   ) -> list[Any]:
    """The decision after the last patient: the next cohort's places at its dose, a stop line
    (and the MTD), or a wait; returns the legend's handles."""
    from matplotlib.lines import Line2D

    text = decision_text(design, document)
    if document["stop"]:
        ax.axvline(enrolled + 0.5, color=STOP_INK, lw=1.6)
        ax.text(enrolled + 0.6, len(design.levels) - 0.5, "STOP", color=STOP_INK,
                fontweight="bold", va="top", ha="left")
        handles = [Line2D([], [], color=STOP_INK, lw=1.6, label=text)]
        if document["mtd"] is not None:
            ax.axhline(design.panel.index(document["mtd"]), color=STOP_INK, ls=":", lw=1.0)
            handles.append(Line2D([], [], color=STOP_INK, ls=":", label="MTD"))
        return handles
    if document.get("wait") or document["next_dose"] is None:
        ax.axvline(enrolled + 0.5, color=NEXT_INK, ls=":", lw=1.2)
        return [Line2D([], [], color=NEXT_INK, ls=":", label=text)]
    level = design.panel.index(document["next_dose"])
    xs = range(enrolled + 1, enrolled + int(document["cohort_size"]) + 1)
    ax.plot(list(xs), [level] * len(xs), ls="", marker="o", ms=7, mfc="none", mec=NEXT_INK,
            mew=1.4)
    return [Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec=NEXT_INK, mew=1.4,
                   label=text)]


def decision_text(design: Design, document: dict[str, Any]) -> str:
    """The decision as the plot's legend writes it: 'next: 25 mg × 3 (stay)', 'stop
    (safety), MTD none', 'wait: ...' (the move is the document's ``direction``)."""
    if document["stop"]:
        mtd = document["mtd"]
        where = "none" if mtd is None else design.panel.format(mtd, rich=True)
        return f"stop ({document['stop_reason'].replace('_', ' ')}), MTD {where}"
    if document.get("wait") or document["next_dose"] is None:
        return "wait: patients still in DLT follow-up"
    return (f"next: {design.panel.format(document['next_dose'], rich=True)} × "
            f"{document['cohort_size']} ({document['direction']})")


def write_progress_plot(design: Design, data: TrialData, document: dict[str, Any],
                        path: Path) -> None:
    """The progress plot as PNG or SVG, by the file name, written atomically."""
    from bayesdose.report.decision import plot_format
    from bayesdose.report.figures import to_bytes
    from bayesdose.report.render import write

    fmt = plot_format(path, "--progress-plot")
    write(path, to_bytes(progress_figure(design, data, document), fmt), "progress plot")
