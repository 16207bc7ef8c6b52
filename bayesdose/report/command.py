"""``bayesdose report``: the design report of a config and its scenarios, as HTML and PDF.

Only click is imported with the command line; the simulation, matplotlib, jinja2 and the PDF
renderer are imported when the command runs.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bayesdose.defaults import (
    DEFAULT_METHOD,
    DEFAULT_SEED,
    DEFAULT_TRIALS,
    METHODS,
    PDF_ENGINES,
)
from bayesdose.errors import InputError

if TYPE_CHECKING:
    from bayesdose.schema import Design

EXIT_INPUT = 2  # as every bayesdose command: a user's mistake, reported on one line
COMBINATION_PATHWAY_COHORTS = 3  # as recommend --pathway-cohorts on two drugs


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scenarios", "scenarios_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Scenario set (TOML, [[scenario]] name, p_true).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.html, report.pdf and the simulation (simulation/).")
@click.option("--trials", type=click.IntRange(min=2), default=None,
              help=f"Simulated trials per scenario [default: {DEFAULT_TRIALS}] (unused by exact "
              "results).")
@click.option("--seed", type=int, default=None, help=f"Simulation seed [default: {DEFAULT_SEED}].")
@click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD,
              show_default=True,
              help="exact: every trial path; simulate: Monte Carlo; auto: exact when small enough.")
@click.option("--sim", "sim_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Reuse this output folder of bayesdose simulate (its summary.json) instead of "
              "simulating.")
@click.option("--pathway-cohorts", type=click.IntRange(min=2, max=4), default=None,
              help="Cohorts deep in the dose-transition pathways [default: 2, deeper while the "
              "tree has at most 32 end points, up to 4].")
@click.option("--pdf-engine", type=click.Choice(PDF_ENGINES),
              default="auto", show_default=True,
              help="PDF renderer; auto: WeasyPrint, or Chromium when WeasyPrint cannot run.")
def report(config: Path, scenarios_path: Path, out_dir: Path, trials: int | None,
           seed: int | None, method: str, sim_dir: Path | None, pathway_cohorts: int | None,
           pdf_engine: str) -> None:
    """The design report of CONFIG: the trial, the prior, the rules, operating characteristics
    in the scenarios, dose-transition pathways and reproducibility, as OUT/report.html (one
    self-contained file) and OUT/report.pdf."""
    try:
        _report(config, scenarios_path, out_dir, trials, seed, method, sim_dir,
                pathway_cohorts, pdf_engine)
    except InputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_INPUT)


def _report(config: Path, scenarios_path: Path, out_dir: Path, trials: int | None,
            seed: int | None, method: str, sim_dir: Path | None, pathway_cohorts: int | None,
            pdf_engine: str) -> None:
    from bayesdose.report import simulated_study as studies
    from bayesdose.report.build import ReportInputs, report_html
    from bayesdose.schema import load_design
    from bayesdose.simulation.scenarios import load_scenarios

    if sim_dir is not None and (trials is not None or seed is not None or method != DEFAULT_METHOD):
        raise InputError("--sim", None, "reuses a finished simulation: give --trials, --seed "
                         "and --method to bayesdose simulate instead")
    design = load_design(config)
    if design.is_combination:
        _combination_report(design, config, scenarios_path, out_dir, trials, seed, method,
                            sim_dir, pathway_cohorts, pdf_engine)
        return
    scenarios = load_scenarios(scenarios_path, len(design.levels))
    study, command = _study(
        config, scenarios_path, out_dir, sim_dir, trials, seed, pathway_cohorts,
        lambda folder: studies.reuse(folder, design, scenarios),
        lambda t, s, folder: studies.run(design, scenarios, t, s, method, folder),
        ["--method", method])
    inputs = ReportInputs(config, scenarios_path, shlex.join(command))
    _write_report(out_dir, report_html(design, study, inputs, pathway_cohorts), pdf_engine)


def _study(config: Path, scenarios_path: Path, out_dir: Path, sim_dir: Path | None,
           trials: int | None, seed: int | None, pathway_cohorts: int | None,
           reuse: Callable[[Path], Any], run: Callable[[int, int, Path], Any],
           run_options: list[str]) -> tuple[Any, list[str]]:
    """The report's simulated study, reused from ``--sim`` or run into OUT/simulation (one
    drug or two: ``reuse(folder)``, ``run(trials, seed, folder)``), and the command that makes
    the report again (``run_options``: the run's own options besides trials and seed)."""
    _make_folder(out_dir)
    command = ["bayesdose", "report", str(config), "--scenarios", str(scenarios_path),
               "--out", str(out_dir)]
    if sim_dir is not None:
        study = reuse(sim_dir)
        command += ["--sim", str(sim_dir)]
    else:
        trials = DEFAULT_TRIALS if trials is None else trials
        seed = DEFAULT_SEED if seed is None else seed
        try:
            study = run(trials, seed, out_dir / "simulation")
        except OSError as err:
            raise InputError(str(out_dir), None,
                             f"cannot write the simulation: {err.strerror or err}") from None
        command += ["--trials", str(trials), "--seed", str(seed), *run_options]
    if pathway_cohorts is not None:
        command += ["--pathway-cohorts", str(pathway_cohorts)]
    return study, command


def _make_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(str(out_dir), None, f"cannot create the folder: {err.strerror}") from None


def _write_report(out_dir: Path, html: str, pdf_engine: str) -> None:
    """OUT/report.html and OUT/report.pdf, each written whole or not at all."""
    from bayesdose.report.render import pdf_bytes, write

    write(out_dir / "report.html", html, "report")
    write(out_dir / "report.pdf", pdf_bytes(html, pdf_engine), "PDF report")
    click.echo(f"report: {out_dir / 'report.html'}")
    click.echo(f"PDF: {out_dir / 'report.pdf'}")


def _combination_report(design: Design, config: Path, scenarios_path: Path, out_dir: Path,
                        trials: int | None, seed: int | None, method: str,
                        sim_dir: Path | None, pathway_cohorts: int | None,
                        pdf_engine: str) -> None:
    """The report of a two-drug config: its designs simulated (Monte Carlo only) or reused."""
    from bayesdose.report import combination_study as studies
    from bayesdose.report.build import ReportInputs
    from bayesdose.simulation.combination.scenarios import load_matrix_scenarios

    if pathway_cohorts is not None and pathway_cohorts > COMBINATION_PATHWAY_COHORTS:
        raise InputError("--pathway-cohorts", None, f"two drugs: at most "
                         f"{COMBINATION_PATHWAY_COHORTS} cohorts (each posterior of the "
                         "combination BLRM takes about 0.1 s)")
    if method == "exact":
        raise InputError("--method exact", None, "two drugs are simulated by Monte Carlo only: "
                         "use --method simulate (or auto)")
    scenarios = load_matrix_scenarios(scenarios_path, design.pair_panel.shape,
                                      design.drugs.names)
    study, command = _study(
        config, scenarios_path, out_dir, sim_dir, trials, seed, pathway_cohorts,
        lambda folder: studies.reuse(folder, design, scenarios),
        lambda t, s, folder: studies.run(design, scenarios, t, s, folder), [])
    inputs = ReportInputs(config, scenarios_path, shlex.join(command))
    _write_report(out_dir, studies.report_html(design, study, inputs, pathway_cohorts),
                  pdf_engine)
