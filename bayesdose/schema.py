"""The trial design: dose panel, prior, decision and stopping rules, read from a TOML config.

The config's sections map one-to-one onto the frozen dataclasses below. Each field's type,
default and ``doc`` metadata are the schema: the loader validates against them and the config
reference in ``docs/`` is generated from them, so code and documentation cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesdose import doseformat
from bayesdose.errors import InputError
from bayesdose.input_files import read_input, unprintable
from bayesdose.panel import MATCH_REL_TOL, DosePanel, PairPanel, dose_index, indistinct_levels
from bayesdose.schema_fields import REQUIRED, documented, requirement

if TYPE_CHECKING:  # the models import NumPy: imported when a design is made, not by the CLI
    from bayesdose.historical import CombinationHistory, HistoricalTrials
    from bayesdose.models.blrm import SingleAgentBlrm
    from bayesdose.models.combination import CombinationBlrm
    from bayesdose.models.prior import BivariateNormal, Prior

@dataclass(frozen=True)
class TrialSection:
    name: str = documented("Trial name, shown in outputs and reports.", "Unnamed trial")


@dataclass(frozen=True)
class DrugsSection:
    names: tuple[str, ...] = documented(
        "Two-drug combination trials: the two drugs' names (e.g. [\"A\", \"B\"]; a letter, "
        "then letters, digits or _), each with its own [doses.<name>] table holding the keys "
        "of [doses]; the pairs are every level of the first drug with every level of the "
        "second (rows the first drug). [cohorts] start_dose is then a table {A = ..., B = "
        "...} and [decision] max_increment applies to each drug. Empty: a single-agent trial.",
        ())


@dataclass(frozen=True)
class DosesSection:
    levels: tuple[float, ...] = documented(
        "Dose levels, positive and strictly increasing, neighbours apart by more than twice "
        "the relative tolerance (1e-6) with which doses in the data are matched to levels.")
    unit: str = documented("Dose unit, for display (e.g. 'mg', 'viable cells').", "")
    reference: float | None = documented(
        "Reference dose d_ref in logit P(DLT|d) = log(alpha) + beta log(d/d_ref); "
        "default: the highest dose level. Within a factor 1000 of the panel.",
        None,
    )
    format: str = documented(
        "How doses are written, the same digits in the terminal, HTML and figures: 'auto' "
        "(decimals, or powers of ten for every dose when the largest is >= 1e5 or the "
        "smallest < 1e-3), 'scientific' (3x10^8 in the terminal, 3×10⁸ in HTML), 'plain' "
        "(decimals: 300000000), or a Python format spec such as '.1e' (3.0x10^8) or ',.0f' "
        "(300,000,000). Display only: it changes no decision and no simulated run's hash.",
        "auto",
    )


@dataclass(frozen=True)
class ComponentSection:
    weight: float = documented("Weight of the component, > 0; the weights sum to 1.")
    mean: tuple[float, float] = documented("Means of (log alpha, log beta).")
    sd: tuple[float, float] = documented("Standard deviations of (log alpha, log beta), > 0.")
    correlation: float = documented("Correlation of log alpha and log beta, in (-1, 1).", 0.0)


# OncoBayes2's "moderate" between-trial heterogeneity (tau_alpha 0.25, tau_beta 0.125), each
# log-normal with sd log(2) / 1.96 (its MAP vignette's table); half-normal scales "substantial".
TAU_MEAN = (math.log(0.25), math.log(0.125))
TAU_SD = (math.log(2) / 1.96, math.log(2) / 1.96)
TAU_SCALE = (0.5, 0.25)


@dataclass(frozen=True)
class HierarchySection:
    tau_distribution: str = documented(
        "Prior of the between-trial sds tau = (tau_alpha, tau_beta): 'lognormal' (log tau ~ "
        "N(tau_mean, tau_sd^2)) or 'halfnormal' (tau ~ HalfNormal(tau_scale)).",
        "lognormal",
    )
    tau_mean: tuple[float, float] = documented(
        "'lognormal': means of (log tau_alpha, log tau_beta); default log 0.25, log 0.125 "
        "(moderate heterogeneity).", TAU_MEAN)
    tau_sd: tuple[float, float] = documented(
        "'lognormal': sds of (log tau_alpha, log tau_beta), > 0; default log(2) / 1.96.",
        TAU_SD)
    tau_scale: tuple[float, float] = documented(
        "'halfnormal': scales of tau_alpha and tau_beta, > 0.", TAU_SCALE)
    ex_probability: float = documented(
        "prior = 'exnex': prior probability that the current trial is exchangeable with the "
        "historical trials, in (0, 1].", 0.8)
    nex_mean: tuple[float, float] | None = documented(
        "Means of the non-exchangeable prior of (log alpha, log beta) (prior = 'exnex'), "
        "which is also the robust component of prior = 'map'; default: the prior of mu's.",
        None)
    nex_sd: tuple[float, float] | None = documented(
        "Its sds; default: the prior of mu's (a weakly informative component is often wider, "
        "e.g. [2, 1]).", None)
    nex_correlation: float | None = documented(
        "Its correlation; default: the prior of mu's.", None)


@dataclass(frozen=True)
class ElicitationSection:
    dose: float = documented("A dose (of the panel or any other, > 0), in the panel's unit.")
    quantile: float = documented(
        "The probability level, in (0, 1): 0.5 for a median, 0.95 for '95% sure it is below'.")
    p_dlt: float = documented("The DLT rate at that level and dose, in (0, 1).")


@dataclass(frozen=True)
class ModelSection:
    prior: str = documented(
        "'normal': a bivariate normal (prior_mean, prior_sd, prior_correlation, elicited from "
        "[[model.elicitation]], or derived from the panel); 'mixture': the weighted bivariate "
        "normals of [[model.components]]; "
        "'map': the meta-analytic-predictive prior from the [historical] trials (fitted by "
        "MCMC when the design is used; `bayesdose map` writes its frozen mixture form); "
        "'exnex': historical and current data in one hierarchical model, the current trial "
        "exchangeable with probability [model.hierarchy] ex_probability (decided by MCMC). "
        "With 'map' and 'exnex', the normal prior (given, elicited or derived) is the prior "
        "of the mean mu of the trials' (log alpha, log beta).",
        "normal",
    )
    prior_mean: tuple[float, float] | None = documented(
        "Prior means of (log alpha, log beta). Omit both mean and sd to derive a weakly "
        "informative prior from the dose panel.",
        None,
    )
    prior_sd: tuple[float, float] | None = documented(
        "Prior standard deviations of (log alpha, log beta), both >= 1e-6 and <= 50.", None
    )
    prior_correlation: float = documented(
        "Prior correlation of log alpha and log beta, in (-1, 1).", 0.0
    )
    components: tuple[ComponentSection, ...] = documented(
        "With prior = 'mixture': one [[model.components]] table per bivariate normal "
        "component (weight, mean, sd, correlation).",
        (),
    )
    elicitation: tuple[ElicitationSection, ...] = documented(
        "With prior = 'normal' and no prior_mean/sd: one [[model.elicitation]] table per "
        "statement 'P(DLT rate at dose <= p_dlt) = quantile' (at least 4, at 2 or more doses); "
        "the normal prior (with prior_correlation) that meets them, least squares with more "
        "than 4 (methods.md, 'Priors in clinicians' terms').",
        (),
    )
    hierarchy: HierarchySection = documented(
        "With prior = 'map' or 'exnex': the between-trial model ([model.hierarchy]).",
        HierarchySection(),
    )
    robust_weight: float = documented(
        "With prior = 'map': weight in [0, 1) of a weakly informative component ([model."
        "hierarchy] nex_*, by default the prior of mu) added to the MAP mixture (a robust "
        "MAP prior).",
        0.0,
    )


@dataclass(frozen=True)
class SensitivitySection(ModelSection):
    name: str = documented("Name of the alternative prior, shown with its decision.", "")


INTERACTION_FORMS = ("none", "linear", "saturating")  # models.combination.FORMS (no NumPy here)


@dataclass(frozen=True)
class InteractionHierarchySection:
    tau_distribution: str = documented(
        "Two drugs with prior = 'exnex': prior of the between-trial sd tau_eta of the "
        "interaction: 'lognormal' (log tau_eta ~ N(tau_mean, tau_sd^2)) or 'halfnormal' "
        "(tau_eta ~ HalfNormal(tau_scale)).", "lognormal")
    tau_mean: float = documented("'lognormal': mean of log tau_eta; default log 0.125.",
                                 math.log(0.125))
    tau_sd: float = documented("'lognormal': sd of log tau_eta, > 0; default log(2) / 1.96.",
                               math.log(2) / 1.96)
    tau_scale: float = documented("'halfnormal': scale of tau_eta, > 0.", 0.25)
    ex_probability: float = documented(
        "Prior probability that the current trial's eta is exchangeable with the other "
        "trials', in (0, 1]; default 1 (OncoBayes2's default: the interaction EX only).", 1.0)
    nex_mean: float | None = documented(
        "Mean of eta's non-exchangeable prior; default [model.interaction] prior_mean.", None)
    nex_sd: float | None = documented(
        "Its sd; default [model.interaction] prior_sd.", None)


@dataclass(frozen=True)
class InteractionSection:
    form: str = documented(
        "Two drugs: how the interaction changes the odds of a DLT, odds(p_AB) = odds(p0) "
        "exp(eta g(x)), x = (d_A / d*_A)(d_B / d*_B), p0 = 1 - (1 - p_A)(1 - p_B): 'none' "
        "(g = 0), 'linear' (g = x) or 'saturating' (g = 2x / (1 + x), OncoBayes2's "
        "blrm_formula_saturating; the same exp(eta) at the reference pair, at most exp(2 "
        "eta)).", "saturating")
    prior_mean: float = documented("Prior mean of eta (normal prior).", 0.0)
    prior_sd: float = documented(
        "Prior sd of eta, >= 1e-6 and <= 50; default log(9) / 1.96 (OncoBayes2's vignette: the "
        "interaction's odds multiplier within [1/9, 9] with probability 0.95). With "
        "prior = 'exnex' (both drugs) prior_mean and prior_sd are the prior of the trials' "
        "mean interaction mu_eta.",
        math.log(9) / 1.96)
    hierarchy: InteractionHierarchySection = documented(
        "Two drugs with prior = 'exnex': the interaction's between-trial model "
        "([model.interaction.hierarchy]).", InteractionHierarchySection())


@dataclass(frozen=True)
class HistoricalSection:
    data: str | None = documented(
        "CSV of earlier trials (columns trial,dose,n,dlt; doses in this trial's unit), "
        "relative to the config's folder; needed by prior = 'map' and 'exnex'. Two drugs: "
        "trial,dose_A,dose_B,n,dlt (dose_<name>, 0 = not given; monotherapy and combination "
        "trials, historical or concurrent).",
        None,
    )


@dataclass(frozen=True)
class DecisionSection:
    target_interval: tuple[float, float] = documented(
        "Target toxicity interval [a, b): under-dosing below a, overdosing at or above b.",
        (0.16, 0.33),
    )
    max_overdose_probability: float = documented(
        "EWOC: a dose is allowed when P(overdosing) is below this.", 0.25
    )
    max_increment: float = documented(
        "Next dose <= (1 + max_increment) x the highest dose given so far; the next level up "
        "is never blocked by this cap.",
        1.0,
    )
    allow_skipping: bool = documented("Allow escalating over an untried dose.", False)
    coherence: bool = documented(
        "Coherence (Cheung 2005): no escalation right after a cohort with a DLT, no "
        "de-escalation right after a cohort without one (unless EWOC bars that dose). Needs "
        "patient-level data.",
        True,
    )
    target: float = documented(
        "Point target DLT rate: the target of CRM and BOIN, and the definition of the true MTD "
        "in simulations (the dose whose true DLT rate is closest to it). It must lie in "
        "target_interval [a, b). Default 0.25, near the middle of the default target interval.",
        0.25,
    )


@dataclass(frozen=True)
class CohortsSection:
    size: int = documented("Patients per cohort.", 3)
    start_dose: float | dict[str, float] | None = documented(
        "Dose of the first cohort; default: the lowest level. Two drugs: a table of each "
        "drug's dose, {A = 1.0, B = 2.0}; default: both lowest levels.", None)
    titration_until_level: int = documented(
        "Accelerated titration: single-patient cohorts up to this 1-based level, ended early "
        "by the first DLT (0 = none).",
        0,
    )
    dlt_window_days: int = documented(
        "DLT observation window in days (0 = outcomes are final when recorded). Dated data "
        "weight a patient still in follow-up by days followed / window (TITE). At most 365.",
        0,
    )
    followup: str = documented(
        "With a DLT window: 'tite' counts patients still in follow-up with their weight; "
        "'complete' leaves them out of the model until their window ends.",
        "tite",
    )
    min_complete_followup: int = documented(
        "Escalating to an untried dose needs at least this many patients who completed the "
        "DLT window (or had a DLT) at the highest dose given so far (dated data only).",
        1,
    )


@dataclass(frozen=True)
class StoppingSection:
    max_patients: int = documented("Maximum sample size; the last cohort is cut to fit.", 30)
    mtd_min_patients: int = documented(
        "Declare the MTD when this many patients have had the recommended dose ... (the "
        "default, with the derived prior, is calibrated: see docs/calibration.md)", 12
    )
    mtd_min_p_target: float = documented("... and its P(target) is at least this.", 0.5)
    safety_min_patients: int = documented(
        "Lowest-dose safety stop: only with at least this many patients at the lowest dose ...",
        3,
    )
    safety_probability: float = documented(
        "... and P(DLT rate at the lowest dose >= upper target bound) above this.", 0.8
    )


def _designs_section() -> type:
    """``[designs]``: one table per design with settings of its own, declared in its package
    and named by its registry row (``config``); a new design's settings need no edit here."""
    from bayesdose.designs.registry import config_sections

    fields = [(key, cls, documented(f"Settings of the {key} design.", cls()))
              for key, cls in config_sections()]
    return dataclasses.make_dataclass("DesignsSection", fields, frozen=True,
                                      module=__name__)


DesignsSection = _designs_section()


DAYS_PER_MONTH = 30.4375  # 365.25 / 12


@dataclass(frozen=True)
class SimulationSection:
    accrual: str | None = documented(
        "Arrivals of simulated patients: 'fixed' gaps between arrivals or 'poisson' arrivals "
        "(exponential gaps). Setting it (or accrual_gap_days) states time: every design of "
        "simulate and report then runs in time and reports its trial duration (simulate "
        "--no-time leaves time out). Unset, time is simulated only when a tite-* design is "
        "compared, with fixed gaps.",
        None,
    )
    accrual_rate_per_month: float = documented(
        "Mean arrivals per month of 30.4375 days: the Poisson rate, or fixed gaps of "
        "30.4375 / rate days unless accrual_gap_days is given.",
        2.0,
    )
    accrual_gap_days: float | None = documented(
        "Fixed accrual only: days between consecutive arrivals (overrides the rate).", None
    )
    dlt_time: str = documented(
        "When in the DLT window a DLT occurs: 'uniform', 'early' (density 2(1 - s)) or "
        "'late' (density 2s), s = fraction of the window.",
        "uniform",
    )

    @property
    def stated(self) -> bool:
        """Whether the config states time (accrual or fixed gaps): then every design runs
        in time."""
        return self.accrual is not None or self.accrual_gap_days is not None

    @property
    def arrivals(self) -> str:
        """'fixed' or 'poisson': the accrual simulated (fixed gaps unless stated)."""
        return self.accrual or "fixed"


ENDPOINTS = ("increment", "cci", "ppr")  # [efficacy.response] endpoint: bayesdose.platelets


@dataclass(frozen=True)
class ResponseRuleSection:
    endpoint: str = documented(
        "What `bayesdose endpoints` reads a response from: 'increment' (platelet count minus "
        "the baseline count, x10^9/L), 'cci' (corrected count increment) or 'ppr' (percent "
        "platelet recovery); formulas in docs/efficacy.md. Default 'increment': the change "
        "from baseline is XJ-MK-002's secondary endpoint (CCI and PPR are exploratory).",
        "increment",
    )
    threshold: float = documented(
        "A response is endpoint >= threshold at the time point (increment in x10^9/L, CCI in "
        "x10^9/L m^2 per 10^11 cells or platelets given, PPR in %). Default 10: the increment "
        "ASCO's platelet transfusion guideline (Schiffer et al. 2001) takes as a satisfactory "
        "response to one apheresis unit in an average adult.",
        10.0,
    )
    time: str = documented(
        "The time point after dosing the response is read at, as written in the counts' "
        "`time` column: hours ('1h', '24h') or days ('7d'). Default '7d': XJ-MK-002's day-7 "
        "count, the first of its scheduled counts a week after the infusion, when cells that "
        "make platelets in vivo have had time to do so.",
        "7d",
    )


@dataclass(frozen=True)
class EfficacySection:
    assessment_days: int = documented(
        "Whole days after dosing at which a patient's response (the trial data's `response` "
        "column) is known; with dated data a response recorded before then is an error. 0: a "
        "response counts as soon as it is recorded. At most 365.",
        0,
    )
    response: ResponseRuleSection = documented(
        "The rule of `bayesdose endpoints` that turns platelet counts into a response "
        "([efficacy.response]).",
        ResponseRuleSection(),
    )


@dataclass(frozen=True)
class BackfillSection:
    enabled: bool = documented(
        "Backfill cohorts: while the escalation cohort is in DLT follow-up, a new patient "
        "joins the highest open dose below the escalation dose. Designs named NAME+backfill "
        "(e.g. boin+backfill = BF-BOIN) need it true, so the settings below are stated. "
        "[stopping] max_patients counts escalation patients, backfill patients come on top: "
        "trial data mark them with a 'backfill' column (1).",
        False,
    )
    max_per_dose: int = documented(
        "At most this many patients (escalation and backfill) at a dose open to backfill.", 12
    )
    require_response: bool = documented(
        "Backfill only a dose where at least one response is known ([efficacy] "
        "assessment_days after dosing).",
        True,
    )
    close_on_dlt_rate: float | None = documented(
        "Besides the design's de-escalation rule: close a dose (and every dose above) to "
        "backfill when its observed DLT rate among complete patients exceeds this.",
        None,
    )


@dataclass(frozen=True)
class OptimisationSection:
    utility: tuple[float, ...] = documented(
        "Utility of (response without DLT, response with DLT, neither, DLT without "
        "response), 0..100: BOIN12's default table (Lin, Zhou & Yuan 2020). The optimal "
        "biological dose maximises the expected utility among doses at or below the MTD.",
        (100.0, 60.0, 40.0, 0.0),
    )


# Each section's schema; [[sensitivity]] is an array of tables (alternative priors, each with
# the keys of [model] and a name: recommend gives the decision under each beside its own).
SECTIONS: dict[str, Any] = {
    "trial": TrialSection,
    "drugs": DrugsSection,
    "doses": DosesSection,
    "model": ModelSection,
    "decision": DecisionSection,
    "cohorts": CohortsSection,
    "stopping": StoppingSection,
    "designs": DesignsSection,
    "simulation": SimulationSection,
    "historical": HistoricalSection,
    "efficacy": EfficacySection,
    "sensitivity": tuple[SensitivitySection, ...],
    "backfill": BackfillSection,
    "optimisation": OptimisationSection,
}

PRIOR_KINDS = ("normal", "mixture", "map", "exnex")
PRIOR_LIMIT = 50.0  # largest |prior_mean| and prior_sd (log scale) the engine handles
# smallest prior sd (log scale): 1e-6 on log alpha fixes P(DLT) at the reference dose to about
# 1e-4 % of its odds, a point mass in all but name; below it the grid's spacing (a fraction of
# the sd) underflows against the mean (1e-300 crashed the engine: issue 19)
PRIOR_SD_MIN = 1e-6
# the reference dose within this factor of the panel (issue 19): with d_ref far outside it every
# log(d / d_ref) is huge, log alpha and beta are confounded, and the prior's P(DLT) at the panel
# degenerates to 0 or 1 (a reference of 1e300 derived log alpha ~ 334: every dose looked safe)
REFERENCE_FACTOR = 1000.0
MAX_WINDOW_DAYS = 365  # [cohorts] dlt_window_days: memory grows with it for dated data


@dataclass(frozen=True)
class Design:
    """A validated trial design: the dose panel, the BLRM's prior, the decision and stopping
    rules, and the settings of the other designs it is compared with. Every change (also
    ``dataclasses.replace``, which makes a new design) is validated, and the prior is read
    from its ``model`` section, so a design with another ``[model]`` section has that prior;
    the panel, prior and model are derived once per design."""

    trial: TrialSection
    doses: DosesSection | None  # None for two drugs: their doses are in drug_doses
    model: ModelSection
    decision: DecisionSection
    cohorts: CohortsSection
    stopping: StoppingSection
    designs: DesignsSection
    simulation: SimulationSection
    historical: HistoricalSection = HistoricalSection()
    efficacy: EfficacySection = EfficacySection()
    sensitivity: tuple[SensitivitySection, ...] = ()
    backfill: BackfillSection = BackfillSection()
    optimisation: OptimisationSection = OptimisationSection()
    drugs: DrugsSection = DrugsSection()
    drug_doses: tuple[DosesSection, ...] = ()  # [doses.<name>] of each of [drugs] names
    drug_models: tuple[ModelSection, ...] = ()  # [model.<name>] of each of [drugs] names
    interaction: InteractionSection = InteractionSection()  # [model.interaction], two drugs
    source: str = "<design>"

    def __post_init__(self) -> None:
        if self.is_combination:
            _check_combination(self, self.source)
            for name, model, panel in zip(self.drugs.names, self.drug_models,
                                          self.pair_panel.drugs, strict=True):
                # a default or elicited prior's error: now (a MAP prior's fit waits for use)
                self.prior_of(model, f"model.{name}", panel)
            return
        _check_rules(self, self.source)
        # a default prior needs two doses and historical data must be readable: raise now,
        # not later (a MAP prior's fit waits until the prior is used)
        if self.model.prior != "mixture":
            self.mean_prior  # noqa: B018
        if self.historical.data is not None:
            self.historical_trials  # noqa: B018

    @property
    def is_combination(self) -> bool:
        """Whether the trial escalates two drugs ([drugs] names)."""
        return bool(self.drugs.names)

    @property
    def levels(self) -> tuple[float, ...]:
        if self.doses is None:
            raise InputError(self.source, "[drugs]", "a two-drug config: this command works "
                             "on one drug's levels (two drugs: bayesdose validate, "
                             "recommend, and simulate with --designs boin-comb,waterfall)")
        return self.doses.levels

    @cached_property
    def pair_panel(self) -> PairPanel:
        """The two drugs' dose pairs (a two-drug config only)."""
        panels = tuple(DosePanel(d.levels, d.unit, d.levels[-1] if d.reference is None
                                 else d.reference, d.format) for d in self.drug_doses)
        return PairPanel(self.drugs.names, panels)  # type: ignore[arg-type]

    @property
    def start_pair(self) -> int:
        """Flat index of the start pair (a two-drug config): [cohorts] start_dose, else both
        lowest levels."""
        start = self.cohorts.start_dose
        return self.pair_panel.index_of_doses(start) if isinstance(start, dict) else 0

    @cached_property
    def panel(self) -> DosePanel:
        return DosePanel(self.levels, self.doses.unit, self.reference_dose, self.doses.format)

    @property
    def reference_dose(self) -> float:
        return self.doses.reference if self.doses.reference is not None else self.levels[-1]

    @cached_property
    def prior(self) -> Prior:
        """The prior of (log alpha, log beta) in this trial: ``[model]``'s (given, elicited
        or derived from the panel), or from the historical trials (``map``; and ``exnex``,
        whose prior for the current trial is the MAP prior robustified by its
        non-exchangeable part)."""
        if self.model.prior in ("map", "exnex"):
            from bayesdose.models.map_prior import map_prior

            return map_prior(self).prior
        return self.prior_of(self.model, "model")

    def prior_of(self, model: ModelSection, section: str,
                 panel: DosePanel | None = None) -> Prior:
        """The prior a ``[model]``-like section gives on this design's panel (or ``panel``:
        one drug's of two): its mixture, or its normal prior (given, elicited or derived;
        with 'map' and 'exnex' the prior of the trials' mean mu); an InputError naming
        ``[section]`` if there is none."""
        from bayesdose.models.prior import BivariateNormal, derive_prior, mixture_prior

        panel = self.panel if panel is None else panel
        if model.prior == "mixture":
            return mixture_prior(model.components)
        if model.prior_mean is not None and model.prior_sd is not None:
            return BivariateNormal(model.prior_mean, model.prior_sd, model.prior_correlation)
        if model.elicitation:
            from bayesdose.models.elicitation import normal_from_quantiles  # SciPy: only here

            try:
                return normal_from_quantiles(panel, model.elicitation, model.prior_correlation)
            except ValueError as err:
                raise InputError(self.source, f"[[{section}.elicitation]]", str(err)) from None
        if len(panel.levels) < 2:
            raise InputError(self.source, f"[{section}]",
                             "a default prior needs at least two doses: give prior_mean/sd")
        return derive_prior(panel.levels, panel.reference, model.prior_correlation)

    @cached_property
    def drug_priors(self) -> tuple[Prior, ...]:
        """Two drugs: each drug's prior of (log alpha, log beta), from its ``[model.<name>]``
        (given, a mixture, elicited, or derived from that drug's levels), or with 'map' the
        MAP prior of that drug's monotherapy rows in ``[historical]`` (with 'exnex' its MAP
        equivalent, robustified by the NEX prior with weight 1 - ex_probability)."""
        return tuple(self._drug_prior(i) for i in range(2))

    def _drug_prior(self, i: int) -> Prior:
        model = self.drug_models[i]
        if model.prior in ("map", "exnex"):
            from bayesdose.models.map_prior import drug_map_prior

            return drug_map_prior(self, i).prior
        return self.prior_of(model, f"model.{self.drugs.names[i]}", self.pair_panel.drugs[i])

    @cached_property
    def combination_model(self) -> CombinationBlrm:
        """Two drugs: the combination BLRM (each drug's reference dose and prior, the
        interaction of ``[model.interaction]``)."""
        from bayesdose.models.combination import CombinationBlrm, Interaction

        i = self.interaction
        reference = tuple(panel.reference for panel in self.pair_panel.drugs)
        return CombinationBlrm(reference, *self.drug_priors,  # type: ignore[arg-type]
                               Interaction(i.form, i.prior_mean, i.prior_sd))

    @cached_property
    def mean_prior(self) -> BivariateNormal:
        """``[model]``'s normal prior: the prior itself with prior = 'normal', the prior of
        the trials' mean mu with 'map' and 'exnex'."""
        return self.prior_of(self.model, "model")

    @cached_property
    def historical_trials(self) -> HistoricalTrials | CombinationHistory | None:
        """The ``[historical]`` trials, read from the CSV named there (relative to the
        config's folder; two drugs: ``trial,dose_A,dose_B,n,dlt``), or None."""
        if self.historical.data is None:
            return None
        from bayesdose.historical import read_combination_history, read_historical

        path = Path(self.historical.data)
        if not path.is_absolute() and not self.source.startswith("<"):
            path = Path(self.source).parent / path
        if self.is_combination:
            return read_combination_history(path, self.drugs.names)  # type: ignore[arg-type]
        return read_historical(path)

    @property
    def is_codata(self) -> bool:
        """Two drugs whose priors are 'exnex': the joint hierarchical model across the
        ``[historical]`` trials and this one, decided by MCMC."""
        return self.is_combination and self.drug_models[0].prior == "exnex"

    def alternatives(self) -> list[tuple[str, Design]]:
        """Each ``[[sensitivity]]`` prior's name and this design with that prior."""
        keys = [f.name for f in dataclasses.fields(ModelSection)]
        return [(a.name, dataclasses.replace(
            self, model=ModelSection(**{k: getattr(a, k) for k in keys}), sensitivity=()))
            for a in self.sensitivity]

    @cached_property
    def dlt_model(self) -> SingleAgentBlrm:
        """The model of P(DLT | dose) on this design's panel."""
        from bayesdose.models.blrm import SingleAgentBlrm

        return SingleAgentBlrm.on(self.panel)

    @property
    def start_level(self) -> int:
        """0-based index of the start dose."""
        if self.cohorts.start_dose is None:
            return 0
        return self.panel.index(self.cohorts.start_dose)

    def format_dose(self, dose: float) -> str:
        return self.panel.format(dose)


# ---------------------------------------------------------------------------------------------
# Loading and validation


def read_toml(path: str | Path, content: bytes | None = None) -> dict[str, Any]:
    """Parse a TOML file (a design config, a scenario set), or its ``content`` already read; a
    missing, non-UTF-8 or malformed file, or one that is not a regular file of sane size
    (``input_files.read_input``), is an InputError. A UTF-8 byte order mark is dropped, as in
    CSV files (editors on Windows write one; TOML itself does not allow it)."""
    source = str(path)
    raw = read_input(path) if content is None else content
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise InputError(source, f"byte {err.start}", "not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(source, None, f"not valid TOML: {err}") from None


def load_design(path: str | Path, content: bytes | None = None) -> Design:
    """Read and validate a design config (from ``content`` when the file was read already);
    every problem names the file and the key. Trial data given in its place (the arguments
    in the wrong order) is named as such."""
    raw = read_input(path) if content is None else content
    try:
        parsed = read_toml(path, raw)
    except InputError:
        if looks_like_trial_data(raw):
            raise InputError(str(path), None, "this is trial data (a CSV), not a design config: "
                             "give the design config (TOML) first, then the data, as in "
                             "bayesdose recommend CONFIG DATA") from None
        raise
    return design_from_dict(parsed, str(path))


def looks_like_trial_data(raw: bytes) -> bool:
    """Whether a file's first line is a trial data CSV's header (it names dlt and a dose
    column: ``dose``, or ``dose_<name>`` of two drugs)."""
    first = raw.decode("utf-8-sig", errors="replace").partition("\n")[0]
    cells = {cell.strip().strip('"').lower() for cell in first.split(",")}
    return "dlt" in cells and any(c == "dose" or c.startswith("dose_") for c in cells)


def design_from_dict(raw: dict[str, Any], source: str = "<design>") -> Design:
    """Validate a parsed config (sections of key = value) into a Design."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise InputError(
            source, f"[{unknown[0]}]", f"unknown section; expected one of {sorted(SECTIONS)}"
        )
    if "doses" not in raw:
        raise InputError(source, "[doses]", "missing section (it must give 'levels')")
    drugs = _section(DrugsSection, "drugs", raw.get("drugs", {}), source)
    per_drug = drugs.names and _drug_doses(drugs, raw["doses"], source)
    sections = {
        name: _tables(_table_array(cls), name, raw.get(name, []), source) if _table_array(cls)
        else _section(cls, name, raw.get(name, {}), source) for name, cls in SECTIONS.items()
        if not (name in ("doses", "model") and per_drug)
    }
    if per_drug:
        models, interaction = _drug_models(drugs.names, raw.get("model", {}), source)
        sections.update(doses=None, drug_doses=per_drug, model=ModelSection(),
                        drug_models=models, interaction=interaction)
    return Design(**sections, source=source)


class DoseTable(dict):
    """A table of each drug's dose as the config gives it (``{A = 10, B = 1}``), hashable so
    that a Design stays a value (designs key caches); never changed after loading."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))


DRUG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


def _drug_doses(drugs: DrugsSection, values: Any, source: str) -> tuple[DosesSection, ...]:
    """Each drug's ``[doses.<name>]`` table, in the order of [drugs] names."""
    names = drugs.names
    if len(names) != 2 or names[0].lower() == names[1].lower():
        raise InputError(source, "[drugs] names", f"expected two different names (also in "
                         f"case: they name the data's dose_<name> columns), got "
                         f"{list(names)!r}")
    for name in names:
        if not DRUG_NAME.fullmatch(name):
            raise InputError(source, "[drugs] names", f"{name!r}: expected a letter, then "
                             "letters, digits or _ (at most 32): it names the data's "
                             f"dose_<name> column")
    if not isinstance(values, dict):
        raise InputError(source, "[doses]", "expected a table [doses.<name>] per drug")
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InputError(source, f"[doses] {unknown[0]}", f"with [drugs] names, [doses] holds "
                         f"one table per drug: expected {', '.join(f'[doses.{n}]' for n in names)}")
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(source, f"[doses.{missing[0]}]", "missing table (it must give "
                         "'levels')")
    return tuple(_section(DosesSection, f"doses.{n}", values[n], source) for n in names)


def _drug_models(names: tuple[str, ...], values: Any, source: str
                 ) -> tuple[tuple[ModelSection, ...], InteractionSection]:
    """Two drugs' ``[model]``: a ``[model.<name>]`` table per drug (the keys of a single
    agent's ``[model]``; a drug without one gets the prior derived from its levels) and
    ``[model.interaction]``."""
    if not isinstance(values, dict):
        raise InputError(source, "[model]", "expected a table")
    tables = {*names, "interaction"}
    unknown = sorted(set(values) - tables)
    if unknown:
        expected = ", ".join(f"[model.{n}]" for n in (*names, "interaction"))
        raise InputError(source, f"[model] {unknown[0]}", f"with [drugs] names, [model] holds "
                         f"one table per drug and the interaction: expected {expected}")
    models = tuple(_section(ModelSection, f"model.{n}", values.get(n, {}), source)
                   for n in names)
    return models, _section(InteractionSection, "model.interaction",
                            values.get("interaction", {}), source)


def _section(cls: type, name: str, values: Any, source: str) -> Any:
    if not isinstance(values, dict):
        raise InputError(source, f"[{name}]", "expected a table of key = value")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError(
            source, f"[{name}] {unknown[0]}", f"unknown key; expected one of {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, f in fields.items():
        if key in values and dataclasses.is_dataclass(hints[key]):  # a nested table
            kwargs[key] = _section(hints[key], f"{name}.{key}", values[key], source)
        elif key in values and _table_array(hints[key]):  # [[name.key]] tables
            kwargs[key] = _tables(_table_array(hints[key]), f"{name}.{key}", values[key], source)
        elif key in values:
            kwargs[key] = _coerce(values[key], hints[key], source, f"[{name}] {key}")
        elif f.default is REQUIRED:
            raise InputError(source, f"[{name}] {key}", "missing required key")
    return cls(**kwargs)


def _table_array(hint: Any) -> type | None:
    """The table class of a ``tuple[Table, ...]`` field (an array of tables), else None."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def _tables(cls: type, name: str, values: Any, source: str) -> tuple:
    """An array of tables ``[[name]]``, each checked as a section (``[name 2]`` for the 2nd)."""
    if not isinstance(values, list):
        raise InputError(source, f"[[{name}]]", "expected an array of tables")
    return tuple(_section(cls, f"{name} {i}", value, source)
                 for i, value in enumerate(values, start=1))


def _coerce(value: Any, hint: Any, source: str, where: str) -> Any:
    """Check ``value`` against a field's type hint; return it in the field's type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        tables = [a for a in options if typing.get_origin(a) is dict]
        inner = tables[0] if tables and isinstance(value, dict) else options[0]
        return _coerce(value, inner, source, where)
    if origin is dict:
        return DoseTable({str(k): _coerce(v, args[1], source, f"{where}.{k}")
                          for k, v in value.items()})
    if origin is tuple:
        return _coerce_tuple(value, args, source, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise InputError(source, where, f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(source, where, f"expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(source, where, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise InputError(source, where, f"expected a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InputError(source, where, f"expected a string, got {value!r}")
        if problem := unprintable(value):  # every string of a config may be printed
            raise InputError(source, where, f"{problem} in {value!r}: not allowed in a "
                             "string that is printed")
        return value
    raise TypeError(f"unsupported schema type {hint!r}")  # a bug in the schema, not the input


def _coerce_tuple(value: Any, args: tuple, source: str, where: str) -> tuple:
    if not isinstance(value, list):
        raise InputError(source, where, f"expected a list of numbers, got {value!r}")
    variadic = len(args) == 2 and args[1] is Ellipsis
    if not variadic and len(value) != len(args):
        raise InputError(source, where, f"expected {len(args)} numbers, got {len(value)}")
    if variadic and not value:
        raise InputError(source, where, "expected at least one number")
    item = args[0]
    return tuple(_coerce(v, item, source, f"{where}[{i}]") for i, v in enumerate(value))


def _check_rules(s: Design, source: str) -> None:
    """Checks that involve values, not just types."""
    doses, model, decision = s.doses, s.model, s.decision
    cohorts = s.cohorts

    require = requirement(source)

    _check_doses(doses, "doses", source)
    levels = doses.levels
    _check_model(model, "model", require)
    if isinstance(cohorts.start_dose, dict):
        raise InputError(source, "[cohorts] start_dose", "a table of each drug's dose is for "
                         "two-drug trials ([drugs] names): give one dose")
    require(model.prior not in ("map", "exnex") or s.historical.data is not None,
            "[historical] data", f"prior = {model.prior!r} needs the historical trials' CSV")
    for i, alternative in enumerate(s.sensitivity, start=1):
        section = f"sensitivity {i}"
        require(bool(alternative.name), f"[{section}] name", "give the alternative prior a name")
        _check_model(alternative, section, require)
        s.prior_of(alternative, section)  # an elicited prior's statements are met, or an error
    _check_decision(decision, source)
    _check_cohorts_stopping(s, source)
    if cohorts.start_dose is not None:
        try:
            dose_index(levels, cohorts.start_dose)
        except ValueError:
            raise InputError(
                source, "[cohorts] start_dose",
                f"{s.panel.number(cohorts.start_dose)} is not a dose level"
            ) from None
    require(
        0 <= cohorts.titration_until_level <= len(levels),
        "[cohorts] titration_until_level",
        f"must be between 0 and the number of levels ({len(levels)})",
    )
    _check_designs(s.designs, len(levels), decision.target, source)
    _check_simulation(s.simulation, cohorts.dlt_window_days, source)
    _check_efficacy(s.efficacy, source)
    _check_backfill(s, source)


def _check_doses(doses: DosesSection, section: str, source: str) -> None:
    """Checks of one drug's dose levels, reference and format (``[doses]`` or
    ``[doses.<name>]``)."""
    require = requirement(source)
    levels = doses.levels
    require(all(d > 0 for d in levels), f"[{section}] levels", "doses must be positive")
    require(
        all(a < b for a, b in zip(levels, levels[1:], strict=False)),
        f"[{section}] levels",
        "doses must be strictly increasing",
    )
    if close := indistinct_levels(levels):
        raise InputError(source, f"[{section}] levels", f"doses {close[0]:.12g} and "
                         f"{close[1]:.12g} are too close: doses in the data are matched to a "
                         f"level within a relative {MATCH_REL_TOL:g}, which cannot tell these "
                         "apart")
    if doses.reference is not None:
        require(doses.reference > 0, f"[{section}] reference", "the reference dose must be > 0")
        require(min(levels) / REFERENCE_FACTOR <= doses.reference
                <= max(levels) * REFERENCE_FACTOR, f"[{section}] reference",
                f"must lie within a factor {REFERENCE_FACTOR:g} of the dose panel "
                f"([{min(levels) / REFERENCE_FACTOR:g}, {max(levels) * REFERENCE_FACTOR:g}]): "
                "the prior is stated at the reference dose, and far from the panel it implies "
                "P(DLT) of 0 or 1 at every dose")
    problem = doseformat.check(doses.format)
    require(problem is None, f"[{section}] format", problem or "")


def _check_combination(s: Design, source: str) -> None:
    """Checks of a two-drug config: each drug's doses, the start pair, the shared rules."""
    require = requirement(source)
    for name, doses in zip(s.drugs.names, s.drug_doses, strict=True):
        _check_doses(doses, f"doses.{name}", source)
    start = s.cohorts.start_dose
    if start is not None:
        require(isinstance(start, dict) and set(start) == set(s.drugs.names),
                "[cohorts] start_dose", "two drugs: expected a table of each drug's dose, "
                "{" + ", ".join(f"{n} = ..." for n in s.drugs.names) + "}")
        try:
            s.pair_panel.index_of_doses(start)
        except ValueError as err:
            raise InputError(source, f"[cohorts] start_dose.{err.args[0]}",
                             f"{start[err.args[0]]:g} is not one of the drug's levels") from None
    require(s.cohorts.titration_until_level == 0, "[cohorts] titration_until_level",
            "accelerated titration is for one drug")
    require(not s.sensitivity, "[[sensitivity]]", "alternative priors are for one drug")
    kinds = [model.prior for model in s.drug_models]
    require(("exnex" in kinds) == (kinds == ["exnex", "exnex"]), "[model] prior",
            "two drugs: 'exnex' is the joint model of both drugs; give it to both or neither")
    borrows = any(k in ("map", "exnex") for k in kinds)
    require(borrows == (s.historical.data is not None), "[historical] data",
            "two drugs: prior = 'map' or 'exnex' needs the historical trials' CSV, and the "
            "CSV needs a drug with prior = 'map' or 'exnex'")
    for name, model in zip(s.drugs.names, s.drug_models, strict=True):
        _check_model(model, f"model.{name}", require)
    _check_interaction(s.interaction, require)
    require(s.is_codata or s.interaction.hierarchy == InteractionHierarchySection(),
            "[model.interaction.hierarchy]", "applies to two drugs with prior = 'exnex'")
    if s.historical.data is not None:
        s.historical_trials  # noqa: B018  (an unreadable history: now)
    _check_decision(s.decision, source)
    _check_cohorts_stopping(s, source)
    _check_designs(s.designs, s.pair_panel.size, s.decision.target, source)
    _check_simulation(s.simulation, s.cohorts.dlt_window_days, source)
    require(not s.simulation.stated, "[simulation] accrual",
            "two-drug trials are simulated without time")
    require(not s.backfill.enabled, "[backfill] enabled", "backfill is for one drug")
    _check_efficacy(s.efficacy, source)


def _check_interaction(interaction: InteractionSection, require: Any) -> None:
    """Checks of [model.interaction]."""
    where = "[model.interaction]"
    require(interaction.form in INTERACTION_FORMS, f"{where} form",
            f"expected one of {', '.join(map(repr, INTERACTION_FORMS))}, got "
            f"{interaction.form!r}")
    require(abs(interaction.prior_mean) <= PRIOR_LIMIT, f"{where} prior_mean",
            f"must lie in [-{PRIOR_LIMIT:g}, {PRIOR_LIMIT:g}]")
    require(PRIOR_SD_MIN <= interaction.prior_sd <= PRIOR_LIMIT, f"{where} prior_sd",
            f"must be >= {PRIOR_SD_MIN:g} and <= {PRIOR_LIMIT:g}")
    h, where = interaction.hierarchy, f"{where[:-1]}.hierarchy]"
    require(h.tau_distribution in ("lognormal", "halfnormal"), f"{where} tau_distribution",
            f"expected 'lognormal' or 'halfnormal', got {h.tau_distribution!r}")
    require(abs(h.tau_mean) <= PRIOR_LIMIT, f"{where} tau_mean",
            f"must lie in [-{PRIOR_LIMIT:g}, {PRIOR_LIMIT:g}] (log scale)")
    for key in ("tau_sd", "tau_scale"):
        require(0 < getattr(h, key) <= PRIOR_LIMIT, f"{where} {key}",
                f"must be > 0 and <= {PRIOR_LIMIT:g}")
    require(0 < h.ex_probability <= 1, f"{where} ex_probability", "must be in (0, 1]")
    require((h.nex_mean is None) == (h.nex_sd is None), where,
            "give both nex_mean and nex_sd, or neither (to use prior_mean and prior_sd)")
    require(h.nex_sd is None or PRIOR_SD_MIN <= h.nex_sd <= PRIOR_LIMIT, f"{where} nex_sd",
            f"must be >= {PRIOR_SD_MIN:g} and <= {PRIOR_LIMIT:g}")
    require(h.nex_mean is None or abs(h.nex_mean) <= PRIOR_LIMIT, f"{where} nex_mean",
            f"must lie in [-{PRIOR_LIMIT:g}, {PRIOR_LIMIT:g}]")


def _check_decision(decision: DecisionSection, source: str) -> None:
    """Checks of [decision]."""
    require = requirement(source)
    a, b = decision.target_interval
    require(0 < a < b < 1, "[decision] target_interval", "expected [a, b] with 0 < a < b < 1")
    require(
        0 < decision.max_overdose_probability < 1,
        "[decision] max_overdose_probability",
        "must be in (0, 1)",
    )
    require(decision.max_increment >= 0, "[decision] max_increment", "must be >= 0")
    require(0 < decision.target < 1, "[decision] target", "must be in (0, 1)")
    require(a <= decision.target < b, "[decision] target",
            f"{decision.target:g} is outside target_interval [{a:g}, {b:g}): the BLRM aims at "
            "the interval while CRM, BOIN and the true MTD of simulations use the point "
            "target, so it must lie in the interval (the default target is 0.25)")


def _check_cohorts_stopping(s: Design, source: str) -> None:
    """Checks of [cohorts] (but the start dose and titration) and [stopping]."""
    require = requirement(source)
    cohorts, stopping = s.cohorts, s.stopping
    require(cohorts.size >= 1, "[cohorts] size", "must be >= 1")
    require(0 <= cohorts.dlt_window_days <= MAX_WINDOW_DAYS, "[cohorts] dlt_window_days",
            f"must be between 0 and {MAX_WINDOW_DAYS} (days)")
    require(cohorts.followup in ("tite", "complete"), "[cohorts] followup",
            f"expected 'tite' or 'complete', got {cohorts.followup!r}")
    require(cohorts.min_complete_followup >= 0, "[cohorts] min_complete_followup",
            "must be >= 0")
    require(stopping.max_patients >= 1, "[stopping] max_patients", "must be >= 1")
    require(stopping.mtd_min_patients >= 1, "[stopping] mtd_min_patients", "must be >= 1")
    require(
        0 <= stopping.mtd_min_p_target <= 1, "[stopping] mtd_min_p_target", "must be in [0, 1]"
    )
    require(
        stopping.safety_min_patients >= 0, "[stopping] safety_min_patients", "must be >= 0"
    )
    require(
        0 < stopping.safety_probability < 1,
        "[stopping] safety_probability",
        "must be in (0, 1)",
    )


def _check_efficacy(efficacy: EfficacySection, source: str) -> None:
    """Checks of [efficacy] and its response rule."""
    require = requirement(source)
    require(0 <= efficacy.assessment_days <= MAX_WINDOW_DAYS, "[efficacy] assessment_days",
            f"must be between 0 and {MAX_WINDOW_DAYS} (days)")
    rule = efficacy.response
    require(rule.endpoint in ENDPOINTS, "[efficacy.response] endpoint",
            f"expected one of {', '.join(map(repr, ENDPOINTS))}, got {rule.endpoint!r}")
    if problem := time_point_problem(rule.time):
        raise InputError(source, "[efficacy.response] time", problem)


def time_point_hours(text: str) -> float:
    """Hours after dosing of a time point written '4h' or '7d' (a ValueError otherwise)."""
    if problem := time_point_problem(text):
        raise ValueError(problem)
    return float(text[:-1]) * (24 if text[-1] == "d" else 1)


def time_point_problem(text: str) -> str | None:
    """Why ``text`` is not a time point after dosing ('1h', '24h', '7d'), or None."""
    number, unit = text[:-1], text[-1:]
    if unit in ("h", "d") and number.isascii() and number.isdigit():
        hours = int(number) * (24 if unit == "d" else 1)
        if 0 < hours <= 24 * MAX_WINDOW_DAYS:
            return None
        return f"{text!r} is not within a year after dosing (1h to {MAX_WINDOW_DAYS}d)"
    return (f"expected a time after dosing in whole hours or days, such as '1h', '24h' or "
            f"'7d', got {text!r}")


def _check_simulation(sim: SimulationSection, window: int, source: str) -> None:
    """Checks of [simulation] (accrual and DLT times of simulations with time)."""

    require = requirement(source)

    require(sim.accrual in (None, "fixed", "poisson"), "[simulation] accrual",
            f"expected 'fixed' or 'poisson', got {sim.accrual!r}")
    require(sim.accrual_rate_per_month > 0, "[simulation] accrual_rate_per_month", "must be > 0")
    if sim.accrual_gap_days is not None:
        require(sim.accrual != "poisson", "[simulation] accrual_gap_days",
                "applies to accrual = 'fixed' only (Poisson accrual takes the rate)")
        require(sim.accrual_gap_days > 0, "[simulation] accrual_gap_days", "must be > 0")
    require(sim.dlt_time in ("uniform", "early", "late"), "[simulation] dlt_time",
            f"expected 'uniform', 'early' or 'late', got {sim.dlt_time!r}")
    if sim.stated:
        require(window >= 1, "[simulation] accrual", "states time, in which every design is "
                "simulated: it needs a DLT window, [cohorts] dlt_window_days >= 1")


def _check_backfill(s: Design, source: str) -> None:
    """Checks of [backfill] and [optimisation]."""
    require = requirement(source)
    backfill = s.backfill
    require(backfill.max_per_dose >= 1, "[backfill] max_per_dose", "must be >= 1")
    rate = backfill.close_on_dlt_rate
    require(rate is None or 0 < rate < 1, "[backfill] close_on_dlt_rate", "must be in (0, 1)")
    utility = s.optimisation.utility
    require(len(utility) == 4 and all(0 <= u <= 100 for u in utility),
            "[optimisation] utility", "expected four utilities in [0, 100]")


def _check_model(model: ModelSection, section: str, require: Any) -> None:
    """Checks of a prior: ``[model]``'s, or an alternative's in ``[[sensitivity]]``."""
    require(model.prior in PRIOR_KINDS, f"[{section}] prior",
            f"expected one of {', '.join(map(repr, PRIOR_KINDS))}, got {model.prior!r}")
    _check_hierarchy(model, section, require)
    if model.prior == "mixture":
        _check_components(model, section, require)
    else:
        require(not model.components, f"[{section}] components",
                "components are for prior = 'mixture'")
    if model.elicitation:
        _check_elicitation(model, section, require)
    require(
        (model.prior_mean is None) == (model.prior_sd is None),
        f"[{section}]",
        "give both prior_mean and prior_sd, or neither (to derive a default prior)",
    )
    if model.prior_sd is not None:
        require(all(v >= PRIOR_SD_MIN for v in model.prior_sd), f"[{section}] prior_sd",
                f"must be >= {PRIOR_SD_MIN:g} (log scale; a smaller sd is a point mass the "
                "engine's grid cannot resolve)")
        # on the log scale: beyond these, exp(log beta) overflows on the engine's grid
        require(all(v <= PRIOR_LIMIT for v in model.prior_sd), f"[{section}] prior_sd",
                f"must be <= {PRIOR_LIMIT:g} (log scale)")
    if model.prior_mean is not None:
        require(all(abs(v) <= PRIOR_LIMIT for v in model.prior_mean), f"[{section}] prior_mean",
                f"must lie in [-{PRIOR_LIMIT:g}, {PRIOR_LIMIT:g}] (log scale)")
    require(
        -1 < model.prior_correlation < 1, f"[{section}] prior_correlation", "must be in (-1, 1)"
    )


def _check_hierarchy(model: ModelSection, section: str, require: Any) -> None:
    """Checks of [<section>.hierarchy] and robust_weight (prior = 'map' or 'exnex')."""
    where = f"[{section}.hierarchy]"
    h = model.hierarchy
    if model.prior not in ("map", "exnex"):
        require(h == HierarchySection(), where, "applies to prior = 'map' or 'exnex'")
    require(model.robust_weight == 0 or model.prior == "map", f"[{section}] robust_weight",
            "applies to prior = 'map' (with 'exnex', ex_probability plays its part)")
    require(0 <= model.robust_weight < 1, f"[{section}] robust_weight", "must be in [0, 1)")
    require(h.tau_distribution in ("lognormal", "halfnormal"), f"{where} tau_distribution",
            f"expected 'lognormal' or 'halfnormal', got {h.tau_distribution!r}")
    require(all(0 < v <= PRIOR_LIMIT for v in h.tau_sd), f"{where} tau_sd",
            f"must be > 0 and <= {PRIOR_LIMIT:g}")
    require(all(abs(v) <= PRIOR_LIMIT for v in h.tau_mean), f"{where} tau_mean",
            f"must lie in [-{PRIOR_LIMIT:g}, {PRIOR_LIMIT:g}] (log scale)")
    require(all(0 < v <= PRIOR_LIMIT for v in h.tau_scale), f"{where} tau_scale",
            f"must be > 0 and <= {PRIOR_LIMIT:g}")
    require(0 < h.ex_probability <= 1, f"{where} ex_probability", "must be in (0, 1]")
    require((h.nex_mean is None) == (h.nex_sd is None), where,
            "give both nex_mean and nex_sd, or neither (to use prior_mean and prior_sd)")
    if h.nex_sd is not None:
        require(all(PRIOR_SD_MIN <= v <= PRIOR_LIMIT for v in h.nex_sd), f"{where} nex_sd",
                f"must be >= {PRIOR_SD_MIN:g} and <= {PRIOR_LIMIT:g}")
    if h.nex_mean is not None:
        require(all(abs(v) <= PRIOR_LIMIT for v in h.nex_mean), f"{where} nex_mean",
                f"must lie in [-{PRIOR_LIMIT:g}, {PRIOR_LIMIT:g}] (log scale)")
    if h.nex_correlation is not None:
        require(-1 < h.nex_correlation < 1, f"{where} nex_correlation", "must be in (-1, 1)")


def _check_components(model: ModelSection, section: str, require: Any) -> None:
    """Checks of a mixture prior's [[<section>.components]]."""
    require(bool(model.components), f"[[{section}.components]]",
            "prior = 'mixture' needs at least one component")
    require(model.prior_mean is None and model.prior_sd is None, f"[{section}]",
            "a mixture prior is its components: give no prior_mean or prior_sd")
    for i, c in enumerate(model.components, start=1):
        where = f"[{section}.components {i}]"
        require(c.weight > 0, f"{where} weight", "must be > 0")
        require(all(PRIOR_SD_MIN <= v <= PRIOR_LIMIT for v in c.sd), f"{where} sd",
                f"must be >= {PRIOR_SD_MIN:g} and <= {PRIOR_LIMIT:g} (log scale)")
        require(all(abs(v) <= PRIOR_LIMIT for v in c.mean), f"{where} mean",
                f"must lie in [-{PRIOR_LIMIT:g}, {PRIOR_LIMIT:g}] (log scale)")
        require(-1 < c.correlation < 1, f"{where} correlation", "must be in (-1, 1)")
    total = sum(c.weight for c in model.components)
    require(abs(total - 1) <= 1e-6, f"[[{section}.components]] weight",
            f"the weights must sum to 1, got {total:g}")


def _check_elicitation(model: ModelSection, section: str, require: Any) -> None:
    """Checks of each [[<section>.elicitation]] table; how many statements, at how many doses,
    and whether a prior meets them is ``normal_from_quantiles``'s answer (``Design.prior_of``)."""
    require(model.prior != "mixture" and model.prior_mean is None and model.prior_sd is None,
            f"[{section}] elicitation", "the statements of [[elicitation]] are the prior: use "
            "them with prior = 'normal' (or as the prior of mu with 'map' or 'exnex') and no "
            "prior_mean, prior_sd or components")
    for i, statement in enumerate(model.elicitation, start=1):
        where = f"[{section}.elicitation {i}]"
        require(statement.dose > 0, f"{where} dose", "must be > 0")
        require(0 < statement.quantile < 1, f"{where} quantile", "must be in (0, 1)")
        require(0 < statement.p_dlt < 1, f"{where} p_dlt", "must be in (0, 1)")


def _check_designs(designs: DesignsSection, n_doses: int, target: float, source: str) -> None:
    """Each design's own checks of its section (``check`` of its config class)."""
    for f in dataclasses.fields(designs):
        getattr(designs, f.name).check(n_doses, target, source)
