"""The ``bayesdose`` command line: recommend, validate, endpoints, simulate, report,
verify-records.

A user's mistake (a bad file, a bad option) is reported on one line naming the file, the row or
key and what was expected, with exit code 2 and no traceback; nothing is half-written.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bayesdose import interrupt
from bayesdose.memory import keep_freed_memory

if __name__ == "__main__" or Path(sys.argv[0]).name == "bayesdose":  # the program itself
    interrupt.defer()  # before click loads: Ctrl-C while loading ends cleanly, no traceback

import click  # noqa: E402

from bayesdose.defaults import (  # noqa: E402
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
    RANDOM_METHODS,
)
from bayesdose.designs.registry import (  # noqa: E402
    BACKFILL_DESIGNS,
    DESIGNS,
    RECOMMEND_DESIGNS,
    TIME_AWARE,
    recommend_name,
)
from bayesdose.errors import InputError  # noqa: E402

EXIT_INPUT = 2
EXIT_STRICT = 3  # recommend --strict: an MCMC diagnostic failed or the engines disagree


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an InputError into a one-line message and exit code 2, and Ctrl-C into one line
    (what it leaves) and exit code 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = command(*args, **kwargs)
            interrupt.check()
            return result
        except InputError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_INPUT)
        except KeyboardInterrupt as err:
            click.echo(f"interrupted: {str(err) or 'no file was left half-written'}", err=True)
            sys.exit(interrupt.EXIT_INTERRUPTED)

    return wrapper


def _check_writable(path: Path, what: str) -> None:
    """Refuse a file that cannot be written (its folder missing or read-only) before anything
    is computed (click refuses a folder given as a file)."""
    from bayesdose.record import check_can_write

    try:
        check_can_write(path.parent)
    except OSError as err:
        raise InputError(str(path), None, f"cannot write the {what}: "
                         f"{err.strerror or err}") from None


def _write_output(path: Path, content: str, what: str) -> None:
    from bayesdose.record import atomic_write

    try:
        atomic_write(path, content)
    except OSError as err:
        raise InputError(str(path), None, f"cannot write the {what}: {err.strerror}") from None


_AS_OF = click.option(
    "--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The date of the decision (YYYY-MM-DD), required with dated data: follow-up is "
    "counted up to it, never to today's clock, so a decision can be reproduced.",
)


class _Commands(click.Group):
    """The command group: SIGINT is remembered while a command runs (``interrupt``); freed
    memory is kept for reuse (``memory``)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        keep_freed_memory()
        try:
            with interrupt.caught():
                return super().main(*args, **kwargs)
        except KeyboardInterrupt:  # came while the command line was loading
            click.echo("interrupted: nothing was done", err=True)
            sys.exit(interrupt.EXIT_INTERRUPTED)


@click.group(cls=_Commands)
@click.version_option(package_name="bayesdose")
def main() -> None:
    """Bayesian adaptive dose finding (BLRM with EWOC) for phase I trials."""


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="exact",
    show_default=True,
    help="exact: grid quadrature (the decision of record); mcmc: PyMC NUTS; both: decide on "
    "exact and report MCMC beside it.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Seed for MCMC.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the recommendation as JSON here.")
@click.option("--record-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Add an immutable decision record to this folder's chain of records.")
@click.option("--record-key", type=click.Path(dir_okay=False, path_type=Path),
              help="Sign the record (HMAC-SHA256) with the key in this file; "
              "verify-records --key then notices an edit even with its hash recomputed.")
@_AS_OF
@click.option("--design", "design_name", default="blrm", show_default=True,
              type=click.Choice(list(RECOMMEND_DESIGNS)),
              help="Whose next step: the BLRM's, or another design's on the same data "
              "(NAME+backfill: with backfill patients marked in the data; blrm+backfill is "
              "blrm, whose recommendation reads them itself).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the decision here (.png or .svg): the BLRM's posterior DLT curve and "
              "interval probabilities, or another design's observed rates with its rule.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the decision as a one-page HTML report here.")
@click.option("--progress-plot", "progress_path",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the trial so far here (.png or .svg): each patient's dose in order of "
              "enrolment, DLTs, cohorts and the decision. Needs patient-level data.")
@click.option("--strict", is_flag=True,
              help=f"Exit with code {EXIT_STRICT}, writing nothing, when an MCMC diagnostic "
              "failed or the exact and MCMC engines disagree (--engine mcmc or both, EXNEX).")
@click.option("--pathway-cohorts", type=click.IntRange(min=1, max=3), default=None,
              help="Two drugs: also the dose-transition pathways, the next pair after each "
              "outcome of the next 1-3 cohorts (each cohort deeper costs (cohort size + 1) "
              "times the posteriors of the one before).")
@_user_errors
def recommend(config: Path, data: Path, engine: str, seed: int, json_path: Path | None,
              record_dir: Path | None, as_of: datetime | None, design_name: str,
              plot_path: Path | None, html_path: Path | None, record_key: Path | None,
              progress_path: Path | None, strict: bool, pathway_cohorts: int | None) -> None:
    """Posterior per dose, allowed doses and the next dose, from CONFIG (TOML) and DATA (CSV).

    Every output is checked before anything is computed, and the record is written last, so
    a mistake leaves nothing half-done. The decision and its record come from the same bytes
    of CONFIG and DATA, each read once. With --strict, a failed MCMC check (printed as a
    note) ends the command with exit code 3 before any file is written.
    """
    from bayesdose.data import over_enrolment, read_trial_data
    from bayesdose.input_files import read_input
    from bayesdose.record import read_key, sha256_hex
    from bayesdose.schema import load_design
    from bayesdose.steps import step_on_data

    design_name = recommend_name(design_name)

    for path, option in ((plot_path, "--plot"), (progress_path, "--progress-plot")):
        if path is not None:
            from bayesdose.report.decision import plot_format

            plot_format(path, option)
    _check_outputs(json_path, plot_path, html_path, record_dir, progress_path)
    if record_key is not None and record_dir is None:
        raise InputError("--record-key", None, "it signs a decision record: give --record-dir")
    key = None if record_key is None else read_key(record_key)
    config_bytes = read_input(config)
    design = load_design(config, config_bytes)
    if design.is_combination:  # before the data are read
        from bayesdose.designs.blrm_comb.recommendation import check_options

        check_options(design_name, plot_path, progress_path)
    elif pathway_cohorts is not None:
        raise InputError("--pathway-cohorts", None, "two drugs only: a single agent's "
                         "pathways are in its design report (bayesdose report "
                         "--pathway-cohorts)")
    data_bytes = read_input(data)
    trial = read_trial_data(data, design, as_of and as_of.date(), data_bytes)
    if progress_path is not None:
        from bayesdose.report.progress import check_data

        check_data(trial)
    fitted = [f"'{name}'" for name, alternative in [("[model]", design), *design.alternatives()]
              if alternative.model.prior in ("map", "exnex")]
    if fitted and design_name == "blrm":
        click.echo(f"note: the prior of {', '.join(fitted)} is fitted by MCMC from the "
                   "historical trials (a minute or less; `bayesdose map` fixes a MAP prior)",
                   err=True)
    if not design.is_combination and design.prior.derived:  # two drugs: in the table
        click.echo(f"prior {design.prior.explanation}", err=True)
    if design_name != "blrm" and (over := over_enrolment(design, trial)) is not None:
        click.echo(f"note: {over}", err=True)  # the BLRM's output holds it among its notes
    if design.is_combination:  # (the BLRM's own module would load what two drugs never use)
        from bayesdose.designs.blrm_comb.recommendation import combination_step

        step = combination_step(design, trial, engine, pathway_cohorts, seed)
    else:
        step = step_on_data(design_name, design, trial, engine, seed)
    click.echo(step.text)
    document = step.document
    if strict and document.get("mcmc_failures"):
        click.echo("error: --strict: the MCMC check failed (see the notes above); nothing was "
                   "written", err=True)
        sys.exit(EXIT_STRICT)
    document["inputs"] = {
        "config_sha256": sha256_hex(config_bytes),
        "data_sha256": sha256_hex(data_bytes),
        "config_path": str(config),
        "data_path": str(data),
    }
    document["seed"] = seed
    if plot_path is not None or html_path is not None:
        from bayesdose.report.decision import write_outputs

        write_outputs(step, design, trial, plot_path, html_path)
    if progress_path is not None:
        from bayesdose.report.progress import write_progress_plot

        write_progress_plot(design, trial, document, progress_path)
    if json_path is not None:
        _write_output(json_path, json.dumps(document, indent=2) + "\n", "JSON output")
    if record_dir is not None:  # last: a record is permanent
        _write_record(record_dir, document, config_bytes, data_bytes, key)


def _check_outputs(json_path: Path | None, plot_path: Path | None, html_path: Path | None,
                   record_dir: Path | None, progress_path: Path | None = None) -> None:
    """Refuse an output that cannot be written before anything is computed or written."""
    from bayesdose.record import chain_so_far, check_can_write

    files = ((json_path, "JSON output"), (plot_path, "plot"), (html_path, "HTML report"),
             (progress_path, "progress plot"))
    for path, what in files:
        if path is not None:
            _check_writable(path, what)
    if record_dir is None:
        return
    try:
        check_can_write(record_dir, may_create=True)
        if record_dir.is_dir():
            chain_so_far(record_dir)
    except OSError as err:
        raise InputError(str(record_dir), None, f"cannot write the record: "
                         f"{err.strerror or err}") from None
    except ValueError as err:
        raise InputError(str(record_dir), None, f"cannot continue its chain: {err}") from None


def _write_record(folder: Path, document: dict[str, Any], config_bytes: bytes,
                  data_bytes: bytes, key: bytes | None) -> None:
    """Add the decision record: the document with the exact inputs (decoded as UTF-8, so the
    text encodes back to the bytes hashed in ``inputs``), the packages, and the chain."""
    from bayesdose.record import package_versions, write_record

    record = dict(document, config_content=config_bytes.decode("utf-8"),
                  data_content=data_bytes.decode("utf-8"), packages=package_versions())
    try:
        path = write_record(folder, record, key=key)
    except (OSError, ValueError) as err:
        problem = getattr(err, "strerror", None) or err
        raise InputError(str(folder), None, f"cannot write the record: {problem}") from None
    click.echo(f"decision record: {path}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path), required=False)
@_AS_OF
@_user_errors
def validate(config: Path, data: Path | None, as_of: datetime | None) -> None:
    """Check a design CONFIG (and trial DATA) and say what is wrong."""
    from bayesdose.data import over_enrolment, read_trial_data
    from bayesdose.report.text import dlts, patients
    from bayesdose.schema import load_design

    design = load_design(config)
    if design.is_combination:
        from bayesdose.designs.blrm_comb.recommendation import prior_lines

        grid = " by ".join(f"{name} at {', '.join(p.number(d) for d in p.levels)}" for name, p
                           in zip(design.drugs.names, design.pair_panel.drugs, strict=True))
        click.echo(f"{config}: valid two-drug design '{design.trial.name}': {grid}")
        click.echo("\n".join(prior_lines(design)))
    else:
        _validate_single_agent(config, design)
    if data is not None:
        trial = read_trial_data(data, design, as_of and as_of.date())
        layout = "patient level" if trial.patient_level else "aggregated"
        responses = (f", {int(trial.responses.sum())} response(s) of "
                     f"{int(trial.assessed.sum())} assessed" if trial.has_responses else "")
        split = (f" (escalation {trial.escalated}, backfill "
                 f"{trial.total_patients - trial.escalated})" if trial.backfilled else "")
        click.echo(f"{data}: valid {layout} data, {patients(trial.total_patients)}{split}, "
                   f"{dlts(int(trial.dlt.sum()))}{responses}")
        if (over := over_enrolment(design, trial)) is not None:
            click.echo(f"note: {over}")


def _validate_single_agent(config: Path, design: Any) -> None:
    """``validate``'s lines on a single-agent design: its doses and its prior."""
    from bayesdose.designs.blrm.reachability import reachability_note

    levels = ", ".join(design.panel.number(d) for d in design.levels)
    click.echo(f"{config}: valid design '{design.trial.name}' with doses {levels}")
    if design.model.prior in ("map", "exnex"):
        trials = design.historical_trials
        click.echo(f"prior {design.model.prior}: from {len(trials.names)} historical trial(s) "
                   f"in {trials.source} (fitted by MCMC when used; `bayesdose map` fixes it)")
    else:
        if design.prior.derived:
            click.echo(f"prior {design.prior.explanation}")
        if (reach := reachability_note(design)) is not None:
            click.echo(f"note: {reach}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("counts", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the CSV here (one row per patient) instead of printing it.")
@_user_errors
def endpoints(config: Path, counts: Path, out_path: Path | None) -> None:
    """Platelet increment, CCI, PPR and the response of each patient, from COUNTS.

    COUNTS is a CSV with a row per patient and time point: columns patient_id, time, platelets
    (x10^9/L; time 'baseline' before dosing, then '1h', '24h', '7d', ...) and the patient's
    dose, bsa_m2 and weight_kg (on one of its rows, or repeated). The response is
    [efficacy.response] of CONFIG: endpoint >= threshold at its time point, empty while that
    count is missing. Formulas: docs/efficacy.md.
    """
    from bayesdose.platelets import endpoints as patient_endpoints
    from bayesdose.platelets import endpoints_csv, read_counts, rule_note, rule_text
    from bayesdose.schema import load_design

    if out_path is not None:
        _check_outputs(out_path, None, None, None)
    design = load_design(config)
    results = [patient_endpoints(c, design.efficacy.response) for c in read_counts(counts, design)]
    if (note := rule_note(design)) is not None:
        click.echo(f"note: {note}", err=True)
    table = endpoints_csv(results)
    if out_path is None:
        click.echo(table, nl=False)
        return
    _write_output(out_path, table, "endpoints CSV")
    assessed = [r.response for r in results if r.response is not None]
    click.echo(f"{out_path}: {len(results)} patients, {sum(assessed)} responses of "
               f"{len(assessed)} assessed ({rule_text(design)})")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write lambda_e, lambda_d and both tables as JSON here.")
@_user_errors
def boundaries(config: Path, json_path: Path | None) -> None:
    """BOIN's escalation, de-escalation and elimination boundaries for the protocol in CONFIG,
    as R's BOIN get.boundary gives them (target, cohort size, max_patients, [designs.boin])."""
    from bayesdose.designs.boin.boundaries import boundaries_json, format_boundaries
    from bayesdose.schema import load_design

    _check_outputs(json_path, None, None, None)
    design = load_design(config)
    click.echo(format_boundaries(design))
    if json_path is not None:
        _write_output(json_path, json.dumps(boundaries_json(design), indent=2) + "\n",
                      "JSON output")


@main.command("map")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the MAP prior here, as a [model] section (TOML) for the protocol.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Seed of the MCMC fit and the MAP sample.")
@_user_errors
def map_prior(config: Path, out_path: Path, seed: int) -> None:
    """Fit the meta-analytic-predictive prior from CONFIG's [historical] trials and write its
    mixture approximation as a [model] section a protocol fixes once (two drugs: a
    [model.<name>] section per drug with prior = "map", from its monotherapy rows)."""
    from bayesdose.map_report import (
        combination_map_sections,
        format_combination_map,
        format_map,
        map_drugs,
        map_section,
    )
    from bayesdose.models.map_prior import drug_map_prior
    from bayesdose.models.map_prior import map_prior as fit_map
    from bayesdose.schema import load_design

    design = load_design(config)
    if design.historical_trials is None:
        raise InputError(str(config), "[historical] data",
                         "bayesdose map needs the historical trials' CSV")
    _check_writable(out_path, "MAP prior")  # before the MCMC, a minute or more
    if design.is_combination:
        fits = {i: drug_map_prior(design, i, seed) for i in map_drugs(design)}
        _write_output(out_path, combination_map_sections(design, fits, seed), "MAP priors")
        click.echo(format_combination_map(design, fits))
    else:
        fit = fit_map(design, seed)
        _write_output(out_path, map_section(design, fit, seed), "MAP prior")
        click.echo(format_map(design, fit))
    click.echo(f"wrote {out_path}")


_SCENARIOS = click.option("--scenarios", "scenarios_path",
                          type=click.Path(dir_okay=False, path_type=Path),
                          help="Scenario set (TOML, [[scenario]] name, p_true).")
_RANDOM = click.option("--random", "random_count", type=click.IntRange(min=1), default=None,
                       help="Instead of --scenarios: this many random dose-toxicity curves "
                       "around the config's target, drawn with --seed.")
_RANDOM_METHOD = click.option(
    "--random-method", type=click.Choice(RANDOM_METHODS), default=DEFAULT_RANDOM_METHOD,
    show_default=True, help="How --random draws its curves: paoletti (Paoletti et al. 2004, "
    "as in Liu & Yuan 2015) or pseudo-uniform (Clertant & O'Quigley 2017).")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@_SCENARIOS
@_RANDOM
@_RANDOM_METHOD
@click.option("--designs", default=",".join(DEFAULT_DESIGNS), show_default=True,
              help=f"Comma-separated design names: {', '.join(DESIGNS)}, "
              f"{', '.join(TIME_AWARE)}, {', '.join(BACKFILL_DESIGNS)} (with [backfill] in "
              "the config and p_response in the scenarios).")
@click.option("--trials", type=click.IntRange(min=2), default=DEFAULT_TRIALS, show_default=True,
              help="Simulated trials per scenario (ignored by exact results).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Fixes every simulated patient, whatever the workers.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for summary.json and results.nc.")
@click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD,
              show_default=True,
              help="exact: walk the tree of trial states; simulate: Monte Carlo; auto: exact "
              "when the tree is small enough.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local worker processes for simulation (default: all cores, or this "
                   "process alone for a run of at most 1,000,000 trials x scenarios x designs "
                   "without time; 50,000 for two drugs).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run the simulation on the Dask cluster of this scheduler (e.g. "
              "tcp://host:8786) instead of local processes; same results.")
@click.option("--resume", is_flag=True,
              help="Continue the simulation whose chunk files are in OUT/chunks (same config, "
              "scenarios, designs, trials and seed); computes only the missing chunks. "
              "Without chunk files it starts afresh.")
@click.option("--no-time", "no_time", is_flag=True,
              help="Leave time out when the config states it ([simulation] accrual): no "
              f"durations. Time is simulated when the config states it or with "
              f"{' or '.join(TIME_AWARE)}, every design on the same arrivals.")
@click.option("--verbose", is_flag=True,
              help="Also each design's selection and allocation per dose.")
@click.option("--quiet", is_flag=True, help="No progress bar (it is on stderr, on a terminal).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=None, hidden=True,
              help="Trials per chunk (for tests and debugging).")
@_user_errors
def simulate(config: Path, scenarios_path: Path | None, random_count: int | None,
             random_method: str, designs: str, trials: int, seed: int, out_dir: Path,
             method: str, workers: int | None, scheduler: str | None, resume: bool,
             no_time: bool, verbose: bool, quiet: bool,
             chunk_size: int | None) -> None:
    """Operating characteristics of designs in the scenarios of a simulation study.

    Simulated runs write each finished chunk of trials to OUT/chunks/, so a run that was
    killed continues with --resume and gives exactly the uninterrupted result.
    """
    from bayesdose.designs.registry import parse_design_names
    from bayesdose.schema import load_design
    from bayesdose.simulation.output import format_table
    from bayesdose.simulation.random_scenarios import scenario_set
    from bayesdose.simulation.scenarios import require_responses
    from bayesdose.simulation.study import study_summary
    from bayesdose.simulation.tree import TreeTooLarge

    if workers is not None and scheduler is not None:
        raise InputError("--workers", None, "give either --workers (local processes) or "
                         "--scheduler (a Dask cluster), not both")
    design = load_design(config)
    if design.is_combination:
        _simulate_combination(design, scenarios_path, random_count, designs, trials, seed,
                              out_dir, workers, scheduler, resume, quiet, verbose, chunk_size)
        return
    if design.model.prior == "exnex":
        click.echo("note: the BLRM under EXNEX is simulated with its MAP equivalent (the MAP "
                   "prior robustified by the NEX prior with weight 1 - ex_probability) and "
                   "the exact engine, not by MCMC per cohort", err=True)
    scenarios, _ = scenario_set(design, scenarios_path, random_count, seed, random_method)
    names = parse_design_names(designs)
    require_responses(scenarios, names, str(scenarios_path or "--random (DLT rates only)"))
    try:
        summary = _write_study(out_dir, lambda: study_summary(
            design, scenarios, names, trials, seed, method, workers, scheduler=scheduler,
            out=out_dir, resume=resume, chunk_size=chunk_size, progress=not quiet,
            time=not no_time))
    except TreeTooLarge as err:
        raise InputError("--method exact", None, f"{err}; use --method simulate") from None
    click.echo(format_table(summary, verbose))


def _write_study(out_dir: Path, study: Callable[[], dict]) -> dict:
    """``study()``, which writes into ``out_dir`` (created first): Ctrl-C says how to resume,
    a failed write is an InputError on the folder."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(str(out_dir), None, f"cannot create the folder: {err.strerror}") from None
    try:
        return study()
    except KeyboardInterrupt:
        raise interrupt.Interrupted(f"finished chunks are kept in {out_dir / 'chunks'}; run "
                                    "again with --resume") from None
    except OSError as err:
        problem = f"cannot write the results: {err.strerror or err}"
        raise InputError(str(out_dir), None, problem) from None


def _simulate_combination(design: Any, scenarios_path: Path | None, random_count: int | None,
                          designs: str, trials: int, seed: int, out_dir: Path,
                          workers: int | None, scheduler: str | None, resume: bool,
                          quiet: bool, verbose: bool, chunk_size: int | None) -> None:
    """``simulate`` of a two-drug config: matrix scenarios, BOIN-comb and the waterfall."""
    from bayesdose.designs.registry import make_design, parse_design_names
    from bayesdose.simulation.combination.scenarios import load_matrix_scenarios
    from bayesdose.simulation.combination.study import (
        combination_summary,
        format_combination_table,
    )

    if random_count is not None:
        raise InputError("--random", None, "random scenarios are for one drug; a two-drug "
                         "config needs --scenarios, a file of p_true matrices")
    if scenarios_path is None:
        raise InputError("--scenarios", None, "a two-drug config needs a scenario file of "
                         "p_true matrices (random scenarios are for one drug)")
    names = parse_design_names(designs, combination=True)
    for name in names:
        make_design(name, design)  # its config errors before any simulation
    scenarios = load_matrix_scenarios(scenarios_path, design.pair_panel.shape,
                                      design.drugs.names)
    summary = _write_study(out_dir, lambda: combination_summary(
        design, scenarios, names, trials, seed, workers, scheduler=scheduler, out=out_dir,
        resume=resume, chunk_size=chunk_size, progress=not quiet))
    click.echo(format_combination_table(summary, verbose))


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@_SCENARIOS
@_RANDOM
@_RANDOM_METHOD
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Fixes the random scenarios, the space-filling design and any simulated "
              "patient.")
@click.option("--tune", "tune", multiple=True, metavar="SECTION.KEY=LOW:HIGH",
              help="A design parameter to search, over [LOW, HIGH] (repeat the option; "
              "model.prior_mean[0] names one element of a pair). Default: the BLRM prior's "
              "means and sds and the MTD-declaration rule ([stopping] mtd_min_patients, "
              "mtd_min_p_target).")
@click.option("--against", default=DEFAULT_AGAINST, show_default=True,
              type=click.Choice([d for d in DESIGNS if d != "blrm"]),
              help="The reference design: the calibrated BLRM may select above the MTD and "
              "treat patients above it no more than it does.")
@click.option("--budget", type=click.IntRange(min=1), default=CALIBRATION_BUDGET,
              show_default=True, help="Settings computed, the input config's included.")
@click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD,
              show_default=True,
              help="exact: walk the tree of trial states; simulate: Monte Carlo with common "
              "random numbers; auto: exact when the tree is small enough.")
@click.option("--trials", type=click.IntRange(min=2), default=CALIBRATION_TRIALS,
              show_default=True, help="Simulated trials per scenario (simulation only).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for calibrated.toml, calibration.json and front.png/.svg.")
@click.option("--quiet", is_flag=True, help="No progress bar (it is on stderr, on a terminal).")
@_user_errors
def calibrate(config: Path, scenarios_path: Path | None, random_count: int | None,
              random_method: str, seed: int, tune: tuple[str, ...], against: str, budget: int,
              method: str, trials: int, out_dir: Path, quiet: bool) -> None:
    """Tune the BLRM of CONFIG on many scenarios: the highest mean probability of correct
    selection whose overdosing is no worse than --against's.

    Writes OUT/calibrated.toml (CONFIG with the chosen values, each commented),
    OUT/calibration.json (every setting tried, the reference, the Pareto fronts) and
    OUT/front.png and .svg. Exit code 1 when no setting was as safe as the reference (nothing
    calibrated).
    """
    from bayesdose.calibration.knobs import parse_knobs
    from bayesdose.calibration.objective import ScenarioSet
    from bayesdose.calibration.run import calibrate as run
    from bayesdose.calibration.run import check_config_text, summary_text, write_outputs
    from bayesdose.input_files import read_input
    from bayesdose.record import check_can_write
    from bayesdose.schema import load_design
    from bayesdose.simulation.random_scenarios import scenario_set
    from bayesdose.simulation.tree import TreeTooLarge

    config_bytes = read_input(config)
    design = load_design(config, config_bytes)
    knobs = parse_knobs(list(tune), design)
    config_text = config_bytes.decode("utf-8-sig")
    check_config_text(design, knobs, config_text, str(config))
    scenarios, source = scenario_set(design, scenarios_path, random_count, seed, random_method)
    try:
        check_can_write(out_dir, may_create=True)
    except OSError as err:
        raise InputError(str(out_dir), None, f"cannot write there: {err.strerror or err}") from None
    scenario_set = ScenarioSet.of(scenarios, design.decision.target)
    try:
        result = run(design, scenario_set, knobs, against, budget, seed, method, trials,
                     progress=not quiet)
    except TreeTooLarge as err:
        raise InputError("--method exact", None, f"{err}; use --method simulate") from None
    try:
        write_outputs(result, config_text, source, out_dir)
    except OSError as err:
        raise InputError(str(out_dir), None, f"cannot write the results: {err.strerror or err}"
                         ) from None
    click.echo(summary_text(result, out_dir))
    if result.chosen is None:
        sys.exit(1)


from bayesdose.report.command import report  # noqa: E402  (only click is imported with it)

main.add_command(report)
from bayesdose.verify import verify_records  # noqa: E402  (only click is imported with it)

main.add_command(verify_records)

if __name__ == "__main__":  # python -m bayesdose.cli
    main()
