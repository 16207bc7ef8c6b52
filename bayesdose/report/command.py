"""``bayesdose report``: the design report of a config and its scenarios, as HTML and PDF.

Only click is imported with the command line; the simulation, matplotlib, jinja2 and the PDF
renderer are imported when the command runs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from bayesdose.defaults import (
    DEFAULT_METHOD,
    DEFAULT_SEED,
    DEFAULT_TRIALS,
    METHODS,
    PDF_ENGINES,
)
from bayesdose.errors import InputError

EXIT_INPUT = 2  # as every bayesdose command: a user's mistake, reported on one line


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
    from bayesdose.report.render import pdf_bytes, write
    from bayesdose.schema import load_design
    from bayesdose.simulation.scenarios import load_scenarios

    if sim_dir is not None and (trials is not None or seed is not None or method != DEFAULT_METHOD):
        raise InputError("--sim", None, "reuses a finished simulation: give --trials, --seed "
                         "and --method to bayesdose simulate instead")
    design = load_design(config)
    scenarios = load_scenarios(scenarios_path, len(design.levels))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(str(out_dir), None, f"cannot create the folder: {err.strerror}") from None
    command = ["bayesdose", "report", str(config), "--scenarios", str(scenarios_path),
               "--out", str(out_dir)]
    if sim_dir is not None:
        study = studies.reuse(sim_dir, design, scenarios)
        command += ["--sim", str(sim_dir)]
    else:
        trials = DEFAULT_TRIALS if trials is None else trials
        seed = DEFAULT_SEED if seed is None else seed
        try:
            study = studies.run(design, scenarios, trials, seed, method, out_dir / "simulation")
        except OSError as err:
            raise InputError(str(out_dir), None,
                             f"cannot write the simulation: {err.strerror or err}") from None
        command += ["--trials", str(trials), "--seed", str(seed), "--method", method]
    if pathway_cohorts is not None:
        command += ["--pathway-cohorts", str(pathway_cohorts)]
    inputs = ReportInputs(config, scenarios_path, shlex.join(command))
    html = report_html(design, study, inputs, pathway_cohorts)
    write(out_dir / "report.html", html, "report")
    write(out_dir / "report.pdf", pdf_bytes(html, pdf_engine), "PDF report")
    click.echo(f"report: {out_dir / 'report.html'}")
    click.echo(f"PDF: {out_dir / 'report.pdf'}")
