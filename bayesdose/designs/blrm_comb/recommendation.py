"""``bayesdose recommend`` on a two-drug config: the combination BLRM's posterior per pair (its
deterministic engine, ``inference.combination``), the rules and the next step
(``blrm_comb.decision``), as text and as the JSON document.

The engine summarises every pair of the grid and each monotherapy arm that holds patients
(their rows are in the likelihood; their summaries are shown, no decision is made on them).
The JSON has one entry per pair under ``doses``, each ``dose`` an object of both drugs' doses
(``{"A": 2.0, "B": 1.0}``) beside the single-agent fields; ``next_dose``, ``current_dose`` and
``mtd`` likewise.

``engine`` "mcmc" or "both" adds the MCMC fit of the same model (``blrm_comb.crosscheck``), as
``--engine`` does for one drug. Dated data count patients still in DLT follow-up as the single
agent does (``posterior.model_counts``): with their TITE weight (``[cohorts] followup =
"tite"``) or not until their window ends (``"complete"``).

With co-data (both drugs' prior 'exnex': ``Design.is_codata``) the joint hierarchical model's
MCMC (``inference.combination_exnex``) is the engine of record instead, whatever ``engine``
says (as for one drug): its diagnostics are a dict, a pair is borderline when its
P(overdosing) lies within 2 MCSE of the threshold, and each entry adds ``mcse_p_overdose``.
The joint model has no TITE term: patients still in DLT follow-up are left out until their
window ends, with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.data import Patient, TrialData, over_enrolment
from bayesdose.defaults import DEFAULT_SEED
from bayesdose.designs.blrm_comb import crosscheck
from bayesdose.designs.blrm_comb.crosscheck import SUMMARIES, McmcRun
from bayesdose.designs.blrm_comb.decision import (
    TIE_RULE,
    ComboDecision,
    current_pair,
    decide_pairs,
)
from bayesdose.errors import InputError
from bayesdose.inference.combination import ERROR_BOUND, CombinationEngine, Diagnostics
from bayesdose.inference.exact import BatchSummary
from bayesdose.models.combination_hierarchy import CombinationHierarchy
from bayesdose.posterior import model_counts
from bayesdose.schema import Design
from bayesdose.steps import Step

if TYPE_CHECKING:
    from bayesdose.designs.blrm_comb.pathways import PathStep


@dataclass(frozen=True)
class ComboRecommendation:
    """The posterior per arm (``arms``: the pairs of the grid, then the monotherapy arms with
    patients; ``summary``: the deciding engine's, one data set; ``diagnostics``: the
    deterministic engine's check, None when MCMC decides), the decision on the grid, which
    pairs' P(overdosing) lies within the deciding engine's error of the EWOC threshold
    (``borderline``), and the notes. ``engine`` "mcmc" or "both": ``mcmc`` is the MCMC fit,
    ``failures`` its failed checks and a disagreement between the engines. Co-data: ``engine``
    "codata", ``diagnostics`` the joint model's MCMC (a dict), ``mcse_p_overdose`` per arm."""

    design: Design
    data: TrialData
    arms: tuple[int, ...]
    summary: BatchSummary
    diagnostics: Diagnostics | dict[str, Any] | None
    decision: ComboDecision
    borderline: tuple[bool, ...]
    notes: tuple[str, ...]
    engine: str = "exact"
    mcmc: McmcRun | None = None
    failures: tuple[str, ...] = ()
    pathways: PathStep | None = None  # recommend --pathway-cohorts: the tree from here
    mcse_p_overdose: tuple[float, ...] | None = None  # co-data: per arm

    @property
    def decided_on(self) -> str:
        """The engine whose numbers made the decision: "exact", "mcmc" or "codata"."""
        return self.engine if self.engine in ("mcmc", "codata") else "exact"

    def table(self, name: str) -> np.ndarray:
        """A summary over the grid (rows: drug A's levels)."""
        pairs = self.design.pair_panel
        return getattr(self.summary, name)[0, :pairs.size].reshape(pairs.shape)

    def __repr__(self) -> str:
        return f"<ComboRecommendation {self.design.trial.name}: {next_text(self)}>"

    def __str__(self) -> str:
        return format_table(self)


def recommend_combination(design: Design, data: TrialData, engine: str = "exact",
                          seed: int = DEFAULT_SEED) -> ComboRecommendation:
    """The combination BLRM's posterior and next step on the trial so far. ``engine``:
    "exact" (the deterministic engine, the decision of record), "mcmc" (decide on the MCMC
    fit) or "both" (decide on the deterministic engine, the MCMC fit beside it); ``seed``:
    the MCMC's. With co-data the joint model's MCMC decides whatever ``engine`` says."""
    if engine == "exact" or design.is_codata:
        return recommend_each(design, [data])[0]
    arms = _arms(design, [data])
    exact = None if engine == "mcmc" else _summarise(design, arms, [data])
    run = crosscheck.fit(design, data, arms, seed)
    if exact is None:
        return _recommendation(design, data, arms, run.batch(), None, engine, run)
    run = crosscheck.compared(design, arms, exact[0], run)
    return _recommendation(design, data, arms, *exact, engine, run)


def recommend_each(design: Design, datasets: Sequence[TrialData]
                   ) -> list[ComboRecommendation]:
    """``recommend_combination`` by the deterministic engine on each data set, their
    posteriors computed in one batch of the engine (over the grid and every monotherapy arm
    with patients in any of them)."""
    arms = _arms(design, datasets)
    if design.is_codata:
        return [_codata_recommendation(design, data, arms) for data in datasets]
    summaries, diagnostics = _summarise(design, arms, datasets)
    return [_recommendation(design, data, arms, _row(summaries, i), _row(diagnostics, i))
            for i, data in enumerate(datasets)]


def _arms(design: Design, datasets: Sequence[TrialData]) -> tuple[int, ...]:
    """The pairs of the grid, then the monotherapy arms with patients in any data set."""
    pairs = design.pair_panel
    given = np.any([data.n > 0 for data in datasets], axis=0)
    return (*range(pairs.size), *(int(k) for k in np.flatnonzero(given) if k >= pairs.size))


def _summarise(design: Design, arms: tuple[int, ...], datasets: Sequence[TrialData]
               ) -> tuple[BatchSummary, Diagnostics]:
    """The deterministic engine's summaries at ``arms`` of every data set, in one batch; the
    counts as the model sees them (``model_counts``: patients in follow-up with their TITE
    weight, or left out until their window ends)."""
    pairs = design.pair_panel
    doses = [[pairs.arm_doses(k)[name] for name in pairs.names] for k in arms]
    engine = CombinationEngine(design.combination_model, np.array(doses),
                               design.decision.target_interval)
    counts = [model_counts(design, data) for data in datasets]
    columns = list(arms)
    n, dlt = (np.array([c[i][columns] for c in counts]) for i in (0, 1))
    if all(c[2] is None for c in counts):
        return engine.summarise(n, dlt)
    window = design.cohorts.dlt_window_days
    pending = np.array([np.zeros((len(columns), window)) if c[2] is None else c[2][columns]
                        for c in counts])
    return engine.summarise(n, dlt, pending)


def _codata_recommendation(design: Design, data: TrialData, arms: tuple[int, ...]
                           ) -> ComboRecommendation:
    """The joint model's posterior (MCMC, the decision of record) and the rules on it; patients
    still in DLT follow-up are left out (the joint model has no TITE term)."""
    from bayesdose.inference.combination_exnex import codata_summary
    from bayesdose.inference.exnex import MCSE_MARGIN

    summary, diagnostics = codata_summary(design, arms, data.complete[list(arms)],
                                          data.dlt[list(arms)], DEFAULT_SEED)
    batch = BatchSummary(*(summary[name].values[None] for name in SUMMARIES))
    mcse = summary["mcse_p_overdose"].values
    rec = _recommendation(design, data, arms, batch, diagnostics, "codata")
    p_over = batch.p_overdose[0, :design.pair_panel.size]
    borderline = tuple(bool(b) for b in np.abs(p_over - design.decision.max_overdose_probability)
                       <= MCSE_MARGIN * mcse[:design.pair_panel.size])
    notes = _notes(design, data, diagnostics, borderline, current_pair(design.pair_panel,
                                                                       data)[1])
    return replace(rec, borderline=borderline, notes=notes,
                   mcse_p_overdose=tuple(float(v) for v in mcse))


def _row(batch: Any, i: int) -> Any:
    """Data set ``i`` of a batch (a ``BatchSummary`` or ``Diagnostics``), as a batch of one."""
    return type(batch)(*(getattr(batch, f.name)[i:i + 1] for f in fields(batch)))


def _recommendation(design: Design, data: TrialData, arms: tuple[int, ...],
                    summary: BatchSummary, diagnostics: Diagnostics | None,
                    engine: str = "exact", run: McmcRun | None = None) -> ComboRecommendation:
    """The rules on one data set's posterior (the deciding engine's)."""
    pairs = design.pair_panel
    grid = data.n[:pairs.size].reshape(pairs.shape)
    current, last_dlt = current_pair(pairs, data)
    decision = decide_pairs(
        design, grid, data.total_patients, summary.p_target[0, :pairs.size].reshape(pairs.shape),
        summary.p_overdose[0, :pairs.size].reshape(pairs.shape), current, last_dlt,
        None if data.pending is None else data.complete[:pairs.size].reshape(pairs.shape))
    borderline = (() if engine == "codata" else  # the caller's: within 2 MCSE
                  tuple(bool(b) for b in crosscheck.borderline(design, engine, summary, run,
                                                               pairs.size)))
    failures = crosscheck.failures(design, engine, run)
    notes = (*failures, *_notes(design, data, diagnostics, borderline, last_dlt))
    return ComboRecommendation(design, data, arms, summary, diagnostics, decision, borderline,
                               notes, engine, run, failures)


def _notes(design: Design, data: TrialData, diagnostics: Diagnostics | dict[str, Any] | None,
           borderline: tuple[bool, ...], last_dlt: int | None) -> tuple[str, ...]:
    """What the statistician must know beside the table."""
    notes = [] if (over := over_enrolment(design, data)) is None else [over]
    if data.pending_patients and (design.cohorts.followup == "complete" or design.is_codata):
        why = ("the co-data model has no TITE term" if design.is_codata
               else "[cohorts] followup = 'complete'")
        notes.append(f"{len(data.pending_patients)} patient(s) still in DLT follow-up are not "
                     f"yet counted in the model ({why})")
    if data.excluded:
        notes.append("not evaluable, left out of the model: "
                     + ", ".join(p.patient_id for p in data.excluded))
    if isinstance(diagnostics, dict):
        notes += _codata_notes(design, diagnostics)
    elif diagnostics is not None and not bool(diagnostics.resolved[0]):
        notes.append(f"the engine did not resolve this posterior (ESS "
                     f"{diagnostics.ess[0]:.0f} of {int(diagnostics.lines[0])} lines, mass "
                     f"near the lines' ends {diagnostics.edge_mass[0]:.1e}): its numbers may "
                     f"be off by more than {ERROR_BOUND:g}")
    if design.decision.coherence and data.total_patients and last_dlt is None:
        notes.append("aggregated counts: the order of cohorts is unknown, so the coherence "
                     "rule (which reads the last cohort) was not applied, and the current pair "
                     "is the pair given with the highest sum of levels")
    if any(borderline):
        close = [design.pair_panel.label(k) for k, b in enumerate(borderline) if b]
        notes.append("P(overdosing) is within the engine's error of the EWOC threshold at "
                     + ", ".join(close))
    return tuple(notes)


def _codata_notes(design: Design, diagnostics: dict[str, Any]) -> list[str]:
    """The co-data MCMC's notes: failed diagnostics, EWOC verdicts still in doubt, and how
    exchangeable the current trial looks."""
    notes = []
    if not diagnostics["diagnostics_ok"]:
        notes.append("MCMC diagnostics failed: " + "; ".join(diagnostics["messages"]))
    check = diagnostics["ewoc_check"]
    if len(check["rounds"]) > 1:
        notes.append(f"EWOC check: sampled {len(check['rounds'])} times (last "
                     f"{check['rounds'][-1]['draws']:,} draws per chain) for verdicts within "
                     "2 MCSE of the threshold")
    ex = diagnostics["p_exchangeable"]
    ex_prior = CombinationHierarchy.of(design).ex_probability
    if min(ex_prior) < 1:
        notes.append("posterior P(exchangeable with the historical trials): " + ", ".join(
            f"{part} {ex[part]:.3f} (prior {p:g})" for part, p
            in zip(ex, ex_prior, strict=True) if p < 1))
    return notes


def doses_of(design: Design, arm: int | None) -> dict[str, float] | None:
    """An arm's dose of each drug, by name (None: no arm)."""
    return None if arm is None else design.pair_panel.arm_doses(arm)


def combination_step(design: Design, data: TrialData, engine: str = "exact",
                     pathway_cohorts: int | None = None, seed: int = DEFAULT_SEED) -> Step:
    """``recommend`` on a two-drug config, as every design's step is given; with
    ``pathway_cohorts`` also the dose-transition pathways of the next cohorts (``pathways``,
    by the deterministic engine whatever ``engine``) in the text and under ``pathways`` in the
    document, the tree in ``Step.result.pathways``."""
    if pathway_cohorts is not None and design.is_codata:
        raise InputError("--pathway-cohorts", None, "not with co-data: every step of the joint "
                         "model is an MCMC fit of minutes (a MAP prior per drug, prior = "
                         "'map', gives pathways by the deterministic engine)")
    rec = recommend_combination(design, data, engine, seed)
    if pathway_cohorts is None:
        return Step(to_json(rec), format_table(rec), design.pair_panel, rec)
    from bayesdose.designs.blrm_comb.pathways import pathway_json, pathway_lines, pathway_tree

    root = pathway_tree(design, data, pathway_cohorts)
    text = "\n".join([format_table(rec), "", *pathway_lines(root, pathway_cohorts)])
    document = {**to_json(rec), "pathways": pathway_json(root, pathway_cohorts)}
    return Step(document, text, design.pair_panel, replace(rec, pathways=root))


def check_options(design_name: str, plot_path: Path | None, progress_path: Path | None
                  ) -> None:
    """Refuse what ``recommend`` does not yet do for two drugs (``--design``, ``--plot``,
    ``--progress-plot``), before anything is computed."""
    if design_name != "blrm":
        raise InputError(f"--design {design_name}", None, "two drugs: only the combination "
                         "BLRM recommends on a two-drug config (BOIN-comb and the waterfall "
                         "are simulated)")
    for path, option in ((plot_path, "--plot"), (progress_path, "--progress-plot")):
        if path is not None:
            raise InputError(option, None, "not built for two drugs: --html draws the "
                             "heatmaps of P(overdosing) and P(target) over the grid")


def to_json(rec: ComboRecommendation) -> dict[str, Any]:
    """The JSON document of ``recommend --json`` (inputs' hashes are added by the caller)."""
    design, decision, pairs = rec.design, rec.decision, rec.design.pair_panel
    entries = []
    for column, arm in enumerate(rec.arms):
        entry = {"dose": pairs.arm_doses(arm), "n": int(rec.data.n[arm]),
                 "dlt": int(rec.data.dlt[arm]),
                 **{name: float(getattr(rec.summary, name)[0, column]) for name in SUMMARIES}}
        if rec.mcmc is not None:
            mcmc = {name: float(rec.mcmc.summary[name].values[column])
                    for name in rec.mcmc.summary.data_vars if name != "predictive"}
            if rec.engine == "mcmc":
                entry.update({k: v for k, v in mcmc.items() if k.startswith("mcse_")})
            else:
                entry["mcmc"] = mcmc
        if rec.mcse_p_overdose is not None:
            entry["mcse_p_overdose"] = rec.mcse_p_overdose[column]
        if arm < pairs.size:
            entry.update(level=[v + 1 for v in pairs.pair(arm)],
                         allowed=decision.allowed[arm], barred_by=decision.barred_by[arm],
                         why_barred=decision.why_barred[arm], borderline=rec.borderline[arm])
        entries.append(entry)
    p_target, p_over = rec.table("p_target"), rec.table("p_overdose")
    mtd_set = [None if column is None else {
        "dose": pairs.doses(pairs.index(row, column)), "p_target": float(p_target[row, column]),
        "p_overdose": float(p_over[row, column])} for row, column in enumerate(decision.contour)]
    return {
        "trial": design.trial.name,
        "drugs": list(pairs.names),
        "next_dose": doses_of(design, decision.next_pair),
        "cohort_size": decision.cohort_size,
        "phase": "stopped" if decision.stop else "escalation",
        "current_dose": doses_of(design, decision.current_pair),
        "direction": decision.direction,
        "stop": decision.stop,
        "stop_reason": decision.stop_reason,
        "mtd": doses_of(design, decision.mtd_pair),
        "mtd_set": mtd_set,
        "ewoc_met": decision.ewoc_met,
        "reason": decision.reason,
        "tie_rule": TIE_RULE.format(a=pairs.names[0]),
        "notes": list(rec.notes),
        "engine": rec.engine,
        "decided_on": rec.decided_on,
        "mcmc_failures": list(rec.failures),
        "unit": {name: panel.unit for name, panel in zip(pairs.names, pairs.drugs, strict=True)},
        "prior": _prior_json(design),
        "as_of": None if rec.data.as_of is None else rec.data.as_of.isoformat(),
        "pending": [_pending_entry(design, p) for p in rec.data.pending_patients],
        "excluded": [p.patient_id for p in rec.data.excluded],
        "doses": entries[:pairs.size],
        "monotherapy": entries[pairs.size:],
        "diagnostics": rec.diagnostics if isinstance(rec.diagnostics, dict) else
        crosscheck.diagnostics_json(rec.engine, _check_json(rec.diagnostics), rec.mcmc),
        "version": version("bayesdose"),
    }


def _check_json(d: Diagnostics | None) -> dict[str, Any] | None:
    """The deterministic engine's check of one posterior (None: it did not run)."""
    if d is None:
        return None
    return {"engine": "combination (deterministic)", "resolved": bool(d.resolved[0]),
            "ess": float(d.ess[0]), "lines": int(d.lines[0]),
            "edge_mass": float(d.edge_mass[0]), "error_bound": ERROR_BOUND}


def _pending_entry(design: Design, patient: Patient) -> dict[str, Any]:
    """A patient in DLT follow-up: the arm's doses, days followed and TITE weight."""
    return {"patient_id": patient.patient_id, "dose": doses_of(design, patient.level),
            "days_followed": patient.days_followed,
            "weight": patient.days_followed / design.cohorts.dlt_window_days}


def pending_lines(rec: ComboRecommendation) -> list[str]:
    """One line per patient in DLT follow-up, as the single agent prints them."""
    design, window = rec.design, rec.design.cohorts.dlt_window_days
    counted = ("weight" if design.cohorts.followup == "tite"
               else "not counted until the window ends")
    return [f"pending: {p.patient_id} at {design.pair_panel.arm_label(p.level)}, "
            f"{p.days_followed} of {window} days without DLT ({counted}"
            f"{f' {p.days_followed / window:.3f}' if counted == 'weight' else ''}) as of "
            f"{rec.data.as_of}" for p in rec.data.pending_patients]


def _prior_json(design: Design) -> dict[str, Any]:
    """Each drug's prior (its family and parameters) and the interaction's."""
    if design.is_codata:
        return {"kind": "codata", "historical": design.historical_trials.source,
                "description": codata_prior_lines(design)}
    i = design.interaction
    return {**{name: prior.as_dict() for name, prior
               in zip(design.drugs.names, design.drug_priors, strict=True)},
            "interaction": {"form": i.form, "prior_mean": i.prior_mean, "prior_sd": i.prior_sd}}


def engine_line(rec: ComboRecommendation) -> str:
    """The engine, whether it resolved this posterior, and its error bound (MCMC deciding:
    its run)."""
    d = rec.diagnostics
    if d is None:
        return crosscheck.run_line(rec.mcmc)
    if isinstance(d, dict):
        state = "diagnostics passed" if d["diagnostics_ok"] else "diagnostics FAILED"
        return (f"co-data MCMC (joint hierarchical model, PyMC NUTS): {state}, {d['chains']} x "
                f"{d['ewoc_check']['rounds'][-1]['draws']:,} draws, R-hat max "
                f"{d['rhat_max']:.3f}, ESS min {min(d['ess_bulk_min'], d['ess_tail_min']):.0f},"
                f" {d['divergences']} divergences; EWOC verdicts checked against 2 MCSE")
    state = "resolved" if d.resolved[0] else "NOT resolved"
    return (f"combination engine (deterministic): {state}, ESS {d.ess[0]:.0f} of "
            f"{int(d.lines[0]):,} lines, mass near the lines' ends {d.edge_mass[0]:.1e}; "
            f"error bound {ERROR_BOUND:g} on interval probabilities")


def title(rec: ComboRecommendation) -> str:
    lo, hi = rec.design.decision.target_interval
    engine = {"exact": "", "mcmc": " (MCMC)", "both": " (deterministic engine, MCMC beside it)",
              "codata": " (co-data MCMC)"}
    return (f"{rec.design.trial.name}: posterior per pair{engine[rec.engine]}, target interval "
            f"[{lo:g}, {hi:g}), "
            f"EWOC P(over) < {rec.design.decision.max_overdose_probability:g}")


def pair_rows(rec: ComboRecommendation) -> tuple[list[str], list[list[str]]]:
    """The per-arm table as printed: titles, and per arm its cells (the pairs, each with
    whether or why not it may be given, then the monotherapy arms)."""
    pairs = rec.design.pair_panel
    titles = [*(f"{name}{f' ({p.unit})' if p.unit else ''}" for name, p
                in zip(pairs.names, pairs.drugs, strict=True)),
              "n", "DLT", "mean", "sd", "P(under)", "P(target)", "P(over)", "allowed"]
    rows = []
    for column, arm in enumerate(rec.arms):
        doses = pairs.arm_doses(arm)
        cells = [*(p.number(doses[name]) if doses[name] else "-" for name, p
                   in zip(pairs.names, pairs.drugs, strict=True)),
                 str(int(rec.data.n[arm])), str(int(rec.data.dlt[arm])),
                 *(f"{getattr(rec.summary, name)[0, column]:.3f}" for name in SUMMARIES)]
        rows.append([*cells, _status(rec, arm)])
    return titles, rows


def _status(rec: ComboRecommendation, arm: int) -> str:
    """"yes", "no: <rule>" (with "(borderline)"), or "monotherapy" for a drug alone."""
    if arm >= rec.design.pair_panel.size:
        return "monotherapy (data only)"
    why = rec.decision.why_barred[arm]
    status = "yes" if why is None else f"no: {why}"
    return status + (" (borderline)" if rec.borderline[arm] else "")


def next_text(rec: ComboRecommendation) -> str:
    """The next pair or the stop, without the reason."""
    decision, pairs = rec.decision, rec.design.pair_panel
    if decision.stop:
        mtd = "none" if decision.mtd_pair is None else pairs.label(decision.mtd_pair)
        return f"STOP ({decision.stop_reason.replace('_', ' ')}): MTD {mtd}"
    move = decision.direction
    if decision.current_pair is not None:
        move += f" {'at' if move == 'stay' else 'from'} {pairs.label(decision.current_pair)}"
    return f"next: {pairs.label(decision.next_pair)}, cohort of {decision.cohort_size}: {move}"


def mtd_set_lines(rec: ComboRecommendation) -> list[str]:
    """The MTD set: per level of drug A, the EWOC-allowed pair with the highest P(target)."""
    pairs = rec.design.pair_panel
    a, b = pairs.names
    p_target, p_over = rec.table("p_target"), rec.table("p_overdose")
    lines = [f"MTD set (per level of {a}, the pair with the highest P(target) among those EWOC "
             "allows):"]
    for row, column in enumerate(rec.decision.contour):
        level = f"{a} {pairs.drugs[0].label(row)}"
        lines.append(f"  {level}: none allowed" if column is None else
                     f"  {level}: {b} {pairs.drugs[1].label(column)}, P(target) "
                     f"{p_target[row, column]:.3f}, P(over) {p_over[row, column]:.3f}")
    return lines


def prior_lines(design: Design) -> list[str]:
    """Each drug's prior, as it was derived or given, and the interaction's."""
    if design.is_codata:
        return codata_prior_lines(design)
    lines = [f"prior of {name}: {prior.explanation or _prior_text(prior)}" for name, prior
             in zip(design.drugs.names, design.drug_priors, strict=True)]
    i = design.interaction
    return [*lines, f"interaction: {i.form}, eta ~ N({i.prior_mean:g}, {i.prior_sd:.3g}^2)"]


def codata_prior_lines(design: Design) -> list[str]:
    """The joint hierarchical model's priors in words (nothing is fitted)."""
    h, trials = CombinationHierarchy.of(design), design.historical_trials
    lines = [f"co-data: the joint hierarchical model of {len(trials.names)} historical "
             f"trial(s) in {trials.source} and this one (decisions by MCMC)"]
    lines += [f"prior of {name}: {hierarchy.describe()}; EX probability {p:g}" for
              name, hierarchy, p in zip(design.drugs.names, h.drugs, h.ex_probability,
                                        strict=False)]
    e, i = h.eta, design.interaction
    tau = (f"log tau_eta ~ N({e.tau_mean:.4g}, {e.tau_sd:.4g}^2)" if
           e.tau_distribution == "lognormal" else f"tau_eta ~ HalfNormal({e.tau_scale:.4g})")
    return [*lines, f"interaction: {i.form}, eta ~ N(mu_eta, tau_eta^2), mu_eta ~ "
            f"N({e.mean:g}, {e.sd:.3g}^2), {tau}; EX probability {h.ex_probability[2]:g}"]


def _prior_text(prior: Any) -> str:
    """A normal prior given in the config, in words (a mixture and a derived prior explain
    themselves)."""
    return (f"log alpha ~ N({prior.mean[0]:g}, {prior.sd[0]:g}^2), log beta ~ "
            f"N({prior.mean[1]:g}, {prior.sd[1]:g}^2), correlation {prior.correlation:g}")


def format_table(rec: ComboRecommendation) -> str:
    """The per-pair table and the recommendation, as printed by ``bayesdose recommend``."""
    titles, rows = pair_rows(rec)
    widths = [max(len(c) for c in column) for column in zip(titles, *rows, strict=True)]
    widths[-1] = 0  # the last column is left-aligned text
    lines = [title(rec), engine_line(rec)]
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True)).rstrip()
              for row in (titles, *rows)]
    lines += pending_lines(rec)
    if rec.mcmc is not None:
        lines += ["", *crosscheck.mcmc_lines(rec.design, rec.engine, rec.arms,
                                             rec.summary, rec.mcmc)]
    lines += ["", *mtd_set_lines(rec), "", *prior_lines(rec.design), ""]
    if (decided := crosscheck.decided_on(rec.engine)) is not None:
        lines.append(decided)
    lines.append(f"{next_text(rec)} — {rec.decision.reason}")
    lines.append(f"tie rule: {TIE_RULE.format(a=rec.design.pair_panel.names[0])}")
    lines.extend(f"note: {note}" for note in rec.notes)
    return "\n".join(lines)
