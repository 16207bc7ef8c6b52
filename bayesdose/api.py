"""The notebook API: the command line's steps as functions, with the CLI's defaults.

``bayesdose.load_design``, ``bayesdose.recommend``, ``bayesdose.next_step``,
``bayesdose.endpoints``, ``bayesdose.prior_conflict``, ``bayesdose.map_prior``,
``bayesdose.simulate`` and ``bayesdose.calibrate`` are these functions (imported on first use,
so ``import bayesdose`` stays cheap). The same arguments give the same numbers as ``bayesdose
recommend`` and ``bayesdose simulate``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesdose.defaults import (
    CALIBRATION_BUDGET,
    CALIBRATION_TRIALS,
    DEFAULT_AGAINST,
    DEFAULT_DESIGNS,
    DEFAULT_METHOD,
    DEFAULT_RANDOM_METHOD,
    DEFAULT_SEED,
    DEFAULT_TRIALS,
    ENGINES,
    METHODS,
)
from bayesdose.errors import InputError

if TYPE_CHECKING:
    from bayesdose.calibration.run import Calibration
    from bayesdose.conflict import Conflict
    from bayesdose.data import TrialData
    from bayesdose.designs.blrm.recommendation import Recommendation
    from bayesdose.designs.blrm_comb.recommendation import ComboRecommendation
    from bayesdose.models.map_prior import MapFit
    from bayesdose.platelets import Endpoints
    from bayesdose.schema import Design
    from bayesdose.simulation.scenarios import Scenario
    from bayesdose.steps import Step



def load_design(path: str | Path) -> Design:
    """Read and validate a design config (TOML); a problem is an ``InputError`` naming the file
    and the key."""
    from bayesdose.schema import load_design as load

    return load(path)


def read_data(data: Any, design: Design | str | Path, as_of: date | str | None = None
              ) -> TrialData:
    """Trial data from a CSV path, a pandas DataFrame, a list of dicts (one per row, keyed by
    the CSV's columns) or an already-read ``TrialData``; all but the last go through the CSV
    reader's checks, and a problem is an ``InputError`` naming the row and the field."""
    from bayesdose.data import (
        TrialData,
        arm_count,
        read_trial_data,
        trial_data_from_frame,
        trial_data_from_records,
    )

    design = _design(design)
    as_of = _date(as_of)
    if isinstance(data, TrialData):
        if len(data.n) != arm_count(design):
            what = "arms (pairs, then each drug alone)" if design.is_combination else "doses"
            raise ValueError(f"the data have {len(data.n)} doses or arms but the design has "
                             f"{arm_count(design)} {what}")
        if as_of is not None and as_of != data.as_of:
            raise ValueError("as_of applies when the data are read; this TrialData was read "
                             f"as of {data.as_of}")
        return data
    if isinstance(data, str | Path):
        return read_trial_data(data, design, as_of)
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return trial_data_from_frame(data, design, as_of)
    if isinstance(data, Iterable) and not isinstance(data, bytes | Mapping):
        return trial_data_from_records(data, design, as_of)
    raise TypeError("data: expected a CSV path, a pandas DataFrame, a list of dicts or a "
                    f"TrialData, got {type(data).__name__}")


def recommend(design: Design | str | Path, data: Any, engine: str = "exact",
              seed: int = DEFAULT_SEED,
              as_of: date | str | None = None) -> Recommendation | ComboRecommendation:
    """The BLRM's posterior per dose, allowed doses and next dose, as ``bayesdose recommend``;
    on a two-drug design the combination BLRM's per pair (a ``ComboRecommendation``: the
    table, the next pair, the MTD set).

    ``design``: a ``Design`` or a config path; ``data``: a CSV path, a pandas DataFrame, a list
    of dicts or a ``TrialData`` (see ``read_data``); ``engine``: "exact" (the decision of
    record), "mcmc" or "both"; ``seed``: for MCMC (the CLI's default, 1); ``as_of``: the date
    of the decision (a date or "YYYY-MM-DD"), required with dated data.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {ENGINES}, got {engine!r}")
    design = _design(design)
    trial = read_data(data, design, as_of)
    if design.is_combination:
        from bayesdose.designs.blrm_comb.recommendation import recommend_combination

        return recommend_combination(design, trial, engine, seed)
    from bayesdose.designs.blrm.recommendation import recommend as run

    return run(design, trial, engine=engine, seed=seed)


def endpoints(design: Design | str | Path, counts: str | Path) -> list[Endpoints]:
    """Each patient's platelet increment, CCI and PPR by time point and the response by the
    design's ``[efficacy.response]`` rule, from a long CSV of platelet counts (as ``bayesdose
    endpoints``; ``platelets.endpoints_csv`` writes them as its CSV)."""
    from bayesdose.platelets import endpoints as patient_endpoints
    from bayesdose.platelets import read_counts

    design = _design(design)
    return [patient_endpoints(c, design.efficacy.response) for c in read_counts(counts, design)]


def prior_conflict(design: Design | str | Path, data: Any,
                   as_of: date | str | None = None) -> Conflict:
    """Do the data agree with the prior? Per treated dose, the prior predictive tail
    probabilities of its DLT count, and Box's prior predictive p-value over all of them, as
    ``recommend`` reports them (``prior.conflict`` in its JSON); ``design``, ``data`` and
    ``as_of`` as for ``recommend``."""
    from bayesdose.conflict import prior_conflict as run

    design = _design(design)
    return run(design, read_data(data, design, as_of))


def map_prior(design: Design | str | Path,
              seed: int = DEFAULT_SEED) -> MapFit | dict[str, MapFit]:
    """The meta-analytic-predictive prior from the design's ``[historical]`` trials, as
    ``bayesdose map`` fits it (MCMC, then a mixture chosen by AIC, robustified by
    ``robust_weight``): ``.prior`` is the mixture, ``.sample`` the MAP sample's summaries,
    ``.mixture`` the fit and its AIC table, ``.diagnostics`` the MCMC's. ``bayesdose.models.
    mixfit.mixture_to_toml(fit.prior)`` is the ``[model]`` section a protocol fixes.

    Two drugs: a fit per drug whose ``[model.<name>]`` has ``prior = "map"``, by the drug's
    name, each from its monotherapy rows (``mixture_to_toml(fit.prior, "model.<name>")``)."""
    from bayesdose.models.map_prior import drug_map_prior
    from bayesdose.models.map_prior import map_prior as fit

    design = _design(design)
    if design.historical_trials is None:
        raise InputError(design.source, "[historical] data", "a MAP prior needs the "
                         "historical trials' CSV")
    if design.is_combination:
        from bayesdose.map_report import map_drugs

        return {design.drugs.names[i]: drug_map_prior(design, i, seed)
                for i in map_drugs(design)}
    return fit(design, seed)


def next_step(design: Design | str | Path, data: Any, name: str,
              as_of: date | str | None = None) -> Step:
    """Design ``name``'s next step on the same data, as ``bayesdose recommend --design NAME``
    (3+3, 3+3-deesc, crm, boin; for the BLRM use ``recommend``). The result's ``document`` is
    the command's JSON (without the inputs' hashes and the seed), ``text`` what it prints."""
    from bayesdose.designs.registry import DESIGNS
    from bayesdose.steps import step_on_data

    if name not in DESIGNS or name == "blrm":
        others = [n for n in DESIGNS if n != "blrm"]
        raise ValueError(f"name: expected one of {others} (the BLRM's is recommend()), "
                         f"got {name!r}")
    design = _design(design)
    return step_on_data(name, design, read_data(data, design, as_of))


def simulate(design: Design | str | Path, scenarios: Sequence[Scenario] | str | Path | None = None,
             designs: Sequence[str] | str = DEFAULT_DESIGNS, trials: int = DEFAULT_TRIALS,
             seed: int = DEFAULT_SEED, method: str = DEFAULT_METHOD, workers: int | None = None, *,
             random: int | None = None, random_method: str = DEFAULT_RANDOM_METHOD,
             scheduler: str | None = None, out: str | Path | None = None, resume: bool = False,
             progress: bool = True, chunk_size: int | None = None,
             time: bool = True) -> SimulationResult:
    """Operating characteristics of ``designs`` in ``scenarios``, as ``bayesdose simulate``.

    ``scenarios``: a scenario TOML path or loaded ``Scenario`` objects, or ``random``: that
    many random curves (``random_method`` "paoletti" or "pseudo-uniform", drawn with ``seed``,
    as ``simulate --random``); ``designs``: names
    (or one comma-separated string); ``method``: "auto", "exact" or "simulate"; ``workers``:
    local processes (default: all cores, or this process for a small run:
    ``study.default_workers``), or ``scheduler``: a Dask scheduler's address. With
    ``out`` the run writes summary.json, results.nc and its chunks there, as ``--out`` does
    (``resume`` continues a killed run). ``time=False`` leaves out the time the config states
    (``simulate --no-time``). The result's ``summary`` is the summary.json document.
    """
    from bayesdose.designs.registry import parse_design_names
    from bayesdose.simulation.random_scenarios import scenario_set
    from bayesdose.simulation.scenarios import require_responses
    from bayesdose.simulation.study import study_summary
    from bayesdose.simulation.tree import TreeTooLarge

    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if trials < 2:
        raise ValueError(f"trials: expected at least 2, got {trials}")
    if workers is not None and scheduler is not None:
        raise ValueError("give either workers (local processes) or scheduler (a Dask "
                         "cluster), not both")
    design = _design(design)
    source = str(scenarios) if isinstance(scenarios, str | Path) else (
        "scenarios" if scenarios is not None else "random (DLT rates only)")
    if scenarios is None or isinstance(scenarios, str | Path):
        scenarios, _ = scenario_set(design, scenarios, random, seed, random_method)
    elif random is not None:
        raise ValueError("give either scenarios or random, not both")
    scenarios = list(scenarios)
    names = parse_design_names(designs if isinstance(designs, str) else ",".join(designs),
                               "designs")
    require_responses(scenarios, names, source)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
    try:
        summary = study_summary(design, scenarios, names, trials, seed, method, workers,
                                scheduler=scheduler, out=out, resume=resume,
                                chunk_size=chunk_size, progress=progress, time=time)
    except TreeTooLarge as err:
        raise InputError("method='exact'", None, f"{err}; use method='simulate'") from None
    return SimulationResult(summary)


@dataclass
class SimulationResult:
    """A simulation study's result: ``summary`` is the summary.json document of
    ``bayesdose simulate`` (operating characteristics per scenario and design)."""

    summary: dict

    def table(self, verbose: bool = False) -> str:
        """The comparison table ``bayesdose simulate`` prints (``verbose``: with selection and
        allocation per dose, as ``--verbose``)."""
        from bayesdose.simulation.output import format_table

        return format_table(self.summary, verbose)

    def __repr__(self) -> str:
        s = self.summary
        return (f"<SimulationResult {s['method']}: {len(s['scenarios'])} scenario(s), "
                f"designs {', '.join(s['designs'])}>")

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        """The comparison table of ``table()`` as HTML (shown by Jupyter), doses as HTML
        writes them (``rich_text``: 6×10⁸)."""
        from bayesdose.doseformat import rich_text
        from bayesdose.simulation.output import (
            TABLE_COLUMNS,
            TIME_COLUMNS,
            cell_text,
            true_mtd_text,
        )

        s = self.summary
        columns = TABLE_COLUMNS + (TIME_COLUMNS if "timeline" in s else ())
        head = "".join(f"<th>{escape(title)}</th>" for _, title in columns)
        rows = []
        for entry in s["scenarios"]:
            mtd = rich_text(true_mtd_text(s, entry))
            designs = list(entry["designs"].items())
            for i, (name, oc) in enumerate(designs):
                cells = "".join(f"<td>{escape(cell_text(key, oc.get(key)))}</td>"
                                for key, _ in columns)
                first = (f'<th rowspan="{len(designs)}">{escape(entry["name"])} '
                         f"(true MTD: {escape(mtd)})</th>") if i == 0 else ""
                rows.append(f"<tr>{first}<td>{escape(name)}</td>{cells}</tr>")
        return (f"<div><p>method: {escape(s['method'])}, seed {escape(str(s.get('seed')))}</p>"
                f"<table><thead><tr><th>scenario</th><th>design</th>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table></div>")


def calibrate(design: Design | str | Path, scenarios: Sequence[Scenario] | str | Path | None = None,
              *, random: int | None = None, random_method: str = DEFAULT_RANDOM_METHOD,
              seed: int = DEFAULT_SEED, tune: Sequence[str] = (),
              against: str = DEFAULT_AGAINST, budget: int = CALIBRATION_BUDGET,
              method: str = DEFAULT_METHOD, trials: int = CALIBRATION_TRIALS,
              out: str | Path | None = None, progress: bool = True) -> CalibrationResult:
    """Tune the BLRM on many scenarios, as ``bayesdose calibrate``: the highest mean PCS whose
    mean selection above the MTD and share of patients above it are no higher than
    ``against``'s.

    ``scenarios``: a scenario TOML path or ``Scenario`` objects, or ``random``: that many random
    curves (``random_method`` "paoletti" or "pseudo-uniform", drawn with ``seed``); ``tune``:
    ``"SECTION.KEY=LOW:HIGH"`` specs (default: the prior's means and sds and the
    MTD-declaration rule). With ``out`` the outputs of ``--out`` are written there. The result's
    ``document`` is calibration.json, ``toml`` calibrated.toml's text (None without a feasible
    setting, or for a ``Design`` not read from a file) and ``design`` the calibrated design.
    """
    from bayesdose.calibration.knobs import parse_knobs
    from bayesdose.calibration.objective import ScenarioSet
    from bayesdose.calibration.run import calibrate as run
    from bayesdose.calibration.run import (
        calibrated_toml,
        calibration_document,
        check_config_text,
        write_outputs,
    )
    from bayesdose.designs.registry import DESIGNS
    from bayesdose.simulation.random_scenarios import scenario_set

    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if against not in DESIGNS or against == "blrm":
        raise ValueError(f"against: expected one of {[d for d in DESIGNS if d != 'blrm']}, "
                         f"got {against!r}")
    if budget < 1 or trials < 2:
        raise ValueError("expected budget >= 1 and trials >= 2")
    design = _design(design)
    source_file = Path(design.source)
    text = source_file.read_text("utf-8-sig") if source_file.is_file() else None
    knobs = parse_knobs(list(tune), design)
    if text is not None:
        check_config_text(design, knobs, text, design.source)
    if scenarios is not None and not isinstance(scenarios, str | Path):
        chosen, source = list(scenarios), {"given": len(scenarios)}
        if random is not None:
            raise ValueError("give either scenarios or random, not both")
    else:
        chosen, source = scenario_set(design, scenarios, random, seed, random_method)
    result = run(design, ScenarioSet.of(chosen, design.decision.target), knobs, against,
                 budget, seed, method, trials, progress)
    if out is not None:
        write_outputs(result, text, source, Path(out))
    toml = None if text is None or result.chosen is None else calibrated_toml(result, text)
    return CalibrationResult(calibration_document(result, source), toml, result.calibrated,
                             result)


@dataclass
class CalibrationResult:
    """A calibration: ``document`` (calibration.json), ``toml`` (calibrated.toml's text, or
    None), ``design`` (the calibrated Design, or None when no setting was feasible) and
    ``calibration`` (every setting tried, as objects)."""

    document: dict
    toml: str | None
    design: Design | None
    calibration: Calibration

    def __str__(self) -> str:
        from bayesdose.calibration.run import summary_text

        return summary_text(self.calibration, None)


def _design(design: Design | str | Path) -> Design:
    return load_design(design) if isinstance(design, str | Path) else design


def _date(as_of: date | str | None) -> date | None:
    if as_of is None or (isinstance(as_of, date) and not isinstance(as_of, datetime)):
        return as_of
    if isinstance(as_of, datetime):
        return as_of.date()
    try:
        return date.fromisoformat(as_of)
    except (TypeError, ValueError):
        raise ValueError(f"as_of: expected a date or 'YYYY-MM-DD', got {as_of!r}") from None
