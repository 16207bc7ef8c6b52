"""Borrowing from historical data: operating characteristics of the BLRM with and without a MAP
prior, and the speed of simulating with a mixture prior; writes ``docs/borrowing-oc.md``.

Run from the repository root::

    .venv/bin/python -m benchmarks.borrowing            # about 5 minutes on 2 cores
    .venv/bin/python -m benchmarks.borrowing --refit    # refit the frozen MAP priors first
    .venv/bin/python -m benchmarks.borrowing --quick    # one timed run per prior, for checking

The design is ``configs/drug-a-map.toml`` (drug A, six doses, cohorts of 3, 30 patients). The
priors compared differ only in its ``[model]`` section, which this script writes into derived
configs (nothing else of the config is copied by hand):

- "no borrowing": the config's ``[[sensitivity]]`` prior named "no borrowing" (a weakly
  informative bivariate normal);
- "MAP", "robust MAP 0.1" and "robust MAP 0.5": the MAP prior from the historical trial,
  robustified with weight 0, 0.1 (the config's) and 0.5, each frozen as a mixture by
  ``bayesdose map`` as a protocol would fix it.

The frozen mixtures are committed under ``benchmarks/borrowing/`` (``map-robust-*.toml``): the
page's numbers then follow from committed files, without rerunning MCMC, whose draws may
differ between PyMC versions or machines even with the same seed. ``--refit`` regenerates them
with the command (about 30 s each). The scenarios are ``configs/scenarios/drug-a.toml``.

Every simulation is ``bayesdose simulate`` in a new process, as a user runs it (``--designs
blrm``, ``--method exact`` when the tree of trial states is small enough, which ``--method
auto`` decides; one worker). Its wall time is the speed measurement: the same command for every
prior, so the times compare a normal prior with the mixtures. BLAS is pinned to one thread.
"""

from __future__ import annotations

# isort: off
import benchmarks.common  # noqa: F401  (first: pins BLAS to one thread before NumPy loads)
# isort: on

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from bayesdose.inference.exact import set_engine_threads  # noqa: E402
from bayesdose.posterior import build_exact_engine, exact_engine, prior_ess  # noqa: E402
from bayesdose.schema import Design, load_design, read_toml  # noqa: E402
from bayesdose.simulation.scenarios import load_scenarios  # noqa: E402
from bayesdose.simulation.study import run_study, state_space  # noqa: E402
from benchmarks.common import (  # noqa: E402
    ROOT,
    Timing,
    fmt_rate,
    fmt_time,
    load_average,
    machine_text,
    subprocess_env,
    table,
    time_calls,
    versions_text,
    write_atomically,
)

PAGE = ROOT / "docs" / "borrowing-oc.md"
CONFIG = ROOT / "configs" / "drug-a-map.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "drug-a.toml"
PRIORS_DIR = ROOT / "benchmarks" / "borrowing"
WORK = ROOT / "build" / "borrowing"  # derived configs and simulate outputs (not committed)
BIN = Path(sys.executable).parent  # the venv's bin directory: python and the bayesdose script
NO_BORROWING = "no borrowing"  # the [[sensitivity]] prior used as the comparator
ROBUST_WEIGHTS = (0.0, 0.1, 0.5)
MAP_SEED = 1  # `bayesdose map`'s default seed
MEDIAN_DRAWS = 200_000  # draws of the MAP prior for its median DLT curve
SIM_TRIALS = 2000  # trials per scenario of the timed `--method simulate` runs
BATCH_ROWS = 5000  # count vectors of the engine's timed batch
PAGE_PACKAGES = ("bayesdose", "numpy", "scipy", "pymc")  # versions stamped on the page


# -- the priors and their configs ---------------------------------------------------------


@dataclass(frozen=True)
class PriorSpec:
    """One prior of the comparison: its key (file names), label (the page) and how it is
    made (``robust_weight`` None: the no-borrowing normal prior)."""

    key: str
    label: str
    robust_weight: float | None = None

    @property
    def frozen_file(self) -> Path:
        return PRIORS_DIR / f"map-robust-{self.robust_weight:g}.toml"


PRIORS = [
    PriorSpec("none", "no borrowing"),
    PriorSpec("map", "MAP", 0.0),
    PriorSpec("rmap-0.1", "robust MAP 0.1", 0.1),
    PriorSpec("rmap-0.5", "robust MAP 0.5", 0.5),
]


def to_toml(raw: dict[str, Any]) -> str:
    """A config dict as TOML: scalars and lists of scalars as ``key = value``, tables as
    ``[a.b]``, lists of tables as ``[[a]]``. Enough for bayesdose configs; checked by reading
    the text back."""
    lines: list[str] = []
    _emit_table(raw, [], lines)
    text = "\n".join(lines).strip() + "\n"
    if tomllib.loads(text) != raw:
        raise AssertionError("the TOML written does not read back as the config")
    return text


def _emit_table(table_: dict[str, Any], path: list[str], lines: list[str]) -> None:
    def is_tables(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)

    for key, value in table_.items():
        if not isinstance(value, dict) and not is_tables(value):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in table_.items():
        if isinstance(value, dict):
            lines += ["", f"[{'.'.join([*path, key])}]"]
            _emit_table(value, [*path, key], lines)
        elif is_tables(value):
            for item in value:
                lines += ["", f"[[{'.'.join([*path, key])}]]"]
                _emit_table(item, [*path, key], lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string for these texts
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def base_config() -> dict[str, Any]:
    """configs/drug-a-map.toml as a dict, its [historical] data path made relative to
    ``WORK``, where the derived configs are written."""
    raw = read_toml(CONFIG)
    data = (CONFIG.parent / raw["historical"]["data"]).resolve()
    raw["historical"]["data"] = os.path.relpath(data, WORK)
    return raw


def with_model(raw: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with its [model] section replaced by ``model``: the one difference between the
    configs compared."""
    out = copy.deepcopy(raw)
    out["model"] = model
    return out


def no_borrowing_model(raw: dict[str, Any]) -> dict[str, Any]:
    """The [model] of the config's [[sensitivity]] prior named 'no borrowing'."""
    entry = next(s for s in raw["sensitivity"] if s["name"] == NO_BORROWING)
    return {k: v for k, v in entry.items() if k != "name"}


def model_of(spec: PriorSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """The [model] section of ``spec``: the no-borrowing normal, or the frozen MAP mixture."""
    if spec.robust_weight is None:
        return no_borrowing_model(raw)
    return read_toml(spec.frozen_file)["model"]


def write_config(raw: dict[str, Any], name: str) -> Path:
    """Write a derived config into ``WORK``; its path relative to the repository (the
    commands run there, and name it in what they write)."""
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / name).write_text(to_toml(raw))
    return (WORK / name).relative_to(ROOT)


# -- the command line, in new processes -------------------------------------------------------


def run_cli(args: list[str]) -> tuple[float, str]:
    """``bayesdose ARGS`` in a new process: wall time and standard output."""
    seconds, stdout, _ = run_cli_streams(args)
    return seconds, stdout


def run_cli_streams(args: list[str]) -> tuple[float, str, str]:
    """``bayesdose ARGS`` in a new process (this checkout first on PYTHONPATH, BLAS on one
    thread): wall time, standard output and standard error."""
    cmd = [str(BIN / "bayesdose"), *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=subprocess_env(repo_on_path=True), text=True,
                          capture_output=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return seconds, proc.stdout, proc.stderr


def cli_package_file() -> str:
    """Where the subprocesses import bayesdose from (must be this checkout)."""
    proc = subprocess.run([sys.executable, "-c", "import bayesdose; print(bayesdose.__file__)"],
                          cwd=ROOT, env=subprocess_env(repo_on_path=True), text=True,
                          capture_output=True, check=True)
    return proc.stdout.strip()


def fit_map_priors(raw: dict[str, Any]) -> dict[float, float]:
    """``bayesdose map`` for every robust weight: writes ``benchmarks/borrowing/map-robust-
    W.toml`` and returns each fit's wall time. Same seed, so the same MCMC draws and mixture
    for every weight; only the robust component differs."""
    seconds = {}
    for spec in PRIORS:
        if spec.robust_weight is None:
            continue
        fit_raw = copy.deepcopy(raw)
        fit_raw["model"]["robust_weight"] = spec.robust_weight
        config = write_config(fit_raw, f"fit-{spec.key}.toml")
        PRIORS_DIR.mkdir(parents=True, exist_ok=True)
        seconds[spec.robust_weight], _ = run_cli(
            ["map", str(config), "--out", str(spec.frozen_file.relative_to(ROOT)),
             "--seed", str(MAP_SEED)])
        print(f"map, robust weight {spec.robust_weight:g}: {seconds[spec.robust_weight]:.1f} s",
              flush=True)
    return seconds


def simulate(config: Path, name: str, method: str) -> tuple[float, dict]:
    """``bayesdose simulate CONFIG`` on the drug A scenarios, the BLRM only, one worker, into
    a fresh folder ``WORK/name``: wall time and summary.json."""
    out = WORK / name
    shutil.rmtree(out, ignore_errors=True)
    seconds, _ = run_cli(["simulate", str(config), "--scenarios",
                          str(SCENARIOS.relative_to(ROOT)),
                          "--designs", "blrm", "--method", method, "--workers", "1",
                          "--out", str(out.relative_to(ROOT)), "--quiet"])
    return seconds, json.loads((out / "summary.json").read_text())


# -- the runs -------------------------------------------------------------------------------


@dataclass
class PriorRun:
    """One prior: its design, its simulate runs (times) and their summary."""

    spec: PriorSpec
    config: Path
    design: Design
    times: list[float] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    sim_times: list[float] = field(default_factory=list)  # `--method simulate` runs
    engine: dict[str, Any] = field(default_factory=dict)  # in-process engine measurements

    @property
    def timing(self) -> Timing:
        return Timing(tuple(self.times))


def run_priors(raw: dict[str, Any], method: str, repeats: int) -> list[PriorRun]:
    """Every prior simulated ``repeats`` times, round robin (so a change of the machine's load
    falls on all priors alike); the summaries of the repeats must agree."""
    runs = []
    for spec in PRIORS:
        config = write_config(with_model(raw, model_of(spec, raw)), f"{spec.key}.toml")
        runs.append(PriorRun(spec, config, load_design(ROOT / config)))
    for repeat in range(repeats):
        for run in runs:
            seconds, summary = simulate(run.config, f"out-{run.spec.key}", method)
            if run.summary and strip(summary) != strip(run.summary):
                raise AssertionError(f"{run.spec.label}: repeat {repeat} gave other numbers")
            run.summary = run.summary or summary
            run.times.append(seconds)
            print(f"{run.spec.label}, run {repeat + 1}: {seconds:.1f} s "
                  f"({summary['method']}), load {load_average()}", flush=True)
    return runs


def time_simulated(runs: list[PriorRun], repeats: int) -> None:
    """Wall time of ``--method simulate --trials SIM_TRIALS`` for every prior (the Monte
    Carlo path: each trial's states decided as trials reach them), round robin."""
    for repeat in range(repeats):
        for run in runs:
            seconds, _ = run_cli(["simulate", str(run.config), "--scenarios",
                                  str(SCENARIOS.relative_to(ROOT)), "--designs", "blrm",
                                  "--method", "simulate", "--trials", str(SIM_TRIALS),
                                  "--workers", "1", "--out",
                                  str((WORK / f"sim-{run.spec.key}").relative_to(ROOT)),
                                  "--quiet"])
            run.sim_times.append(seconds)
            print(f"{run.spec.label}, simulate run {repeat + 1}: {seconds:.1f} s", flush=True)


def measure_engine(run: PriorRun, repeats: int) -> None:
    """In this process, for the speed section: the exact engine's grid, its build time, its
    time per posterior (a batch of ``BATCH_ROWS`` count vectors, one thread), and the number
    of trial states the exact walk of the scenarios decides (one posterior each)."""
    set_engine_threads(1)
    design = run.design
    rng = np.random.default_rng(MAP_SEED)
    n = rng.integers(0, 7, size=(BATCH_ROWS, len(design.levels)))
    dlt = rng.binomial(n, np.linspace(0.02, 0.6, len(design.levels)))
    build = time_calls(lambda: build_exact_engine(design), repeats)
    engine = build_exact_engine(design)
    batch = time_calls(lambda: engine.batch(n, dlt), repeats)
    scenarios = load_scenarios(SCENARIOS, len(design.levels))
    run_study(design, scenarios, ["blrm"], 0, MAP_SEED, method="exact")
    run.engine = {"grid": engine.grid, "build": build, "batch": batch,
                  "states": state_space(design, "blrm").size}


def import_time(repeats: int) -> Timing:
    """Wall time of a new interpreter importing what ``bayesdose simulate`` needs: the part
    of every command's time that no prior changes."""
    cmd = [sys.executable, "-c", "import bayesdose.cli, bayesdose.simulation.study"]
    env = subprocess_env(repo_on_path=True)
    return time_calls(lambda: subprocess.run(cmd, cwd=ROOT, env=env, check=True), repeats,
                      warmup=1)


def only_mtd_in_interval(summary: dict, interval: tuple[float, float]) -> bool:
    """Whether in every scenario the true MTD is the one dose in the target interval (then
    P(correct MTD) and P(selecting in the interval) are the same number)."""
    a, b = interval
    for e in summary["scenarios"]:
        inside = [k + 1 for k, p in enumerate(e["p_true"]) if a <= p < b]
        if inside != ([] if e["true_mtd"] is None else [e["true_mtd"]]):
            return False
    return True


def strip(summary: dict) -> dict:
    """A summary without what may differ between identical runs (nothing, today)."""
    return {k: v for k, v in summary.items() if k not in ("timestamp",)}


def direct_map_run(method: str) -> tuple[float, dict]:
    """``bayesdose simulate configs/drug-a-map.toml`` as shipped (prior = "map"): the process
    fits the MAP prior by MCMC before it simulates."""
    return simulate(CONFIG.relative_to(ROOT), "out-direct-map", method)


# -- numbers ----------------------------------------------------------------------------------


def prior_curve(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean of P(DLT) and prior effective sample size per dose (exact engine, no data)."""
    zeros = np.zeros((1, len(design.levels)))
    return exact_engine(design).batch(zeros, zeros).mean[0], prior_ess(design)


def map_median_curve(design: Design) -> np.ndarray:
    """Median of P(DLT) per dose under a mixture prior, from ``MEDIAN_DRAWS`` draws (seeded):
    the curve the scenario 'history-right' rounds."""
    model = design.model
    rng = np.random.default_rng(MAP_SEED)
    weights = np.array([c.weight for c in model.components])
    which = rng.choice(len(weights), MEDIAN_DRAWS, p=weights / weights.sum())
    draws = np.empty((MEDIAN_DRAWS, 2))
    for k, c in enumerate(model.components):
        sd = np.array(c.sd)
        cov = np.outer(sd, sd) * np.array([[1, c.correlation], [c.correlation, 1]])
        rows = which == k
        draws[rows] = rng.multivariate_normal(c.mean, cov, rows.sum())
    x = np.log(np.array(design.levels) / design.reference_dose)
    eta = draws[:, [0]] + np.exp(draws[:, [1]]) * x
    return np.median(1 / (1 + np.exp(-eta)), axis=0)


def oc_row(entry: dict, name: str = "blrm") -> dict[str, float | None]:
    """The numbers the page shows for one design in one scenario."""
    oc = entry["designs"][name]
    mtd = entry["true_mtd"]  # 1-based, None: no dose
    row = {key: oc.get(key) for key in ("pcs", "p_select_target_interval", "select_above_mtd",
                                        "select_none", "n_mean", "p_above_mtd", "dlt_rate",
                                        "early_stop")}
    patients = oc.get("patients")
    if patients is not None:
        row["n_above_mtd"] = float(sum(patients[0 if mtd is None else mtd:]))
    return row


COLUMNS: list[tuple[str, str, str]] = [
    ("pcs", "P(correct MTD)", "pct"),
    ("select_above_mtd", "P(sel. above MTD)", "pct"),
    ("select_none", "P(no dose)", "pct"),
    ("early_stop", "P(stop for safety)", "pct"),
    ("n_mean", "mean N", "num"),
    ("n_above_mtd", "mean N above MTD", "num"),
    ("dlt_rate", "DLT rate", "pct"),
]


def fmt(value: float | None, kind: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.1f}%" if kind == "pct" else f"{value:.1f}"


def scenario_table(runs: list[PriorRun], index: int) -> str:
    """Rows: the priors and the optimal benchmark; columns: ``COLUMNS``."""
    rows = []
    for run in runs:
        row = oc_row(run.summary["scenarios"][index])
        rows.append([run.spec.label, *(fmt(row.get(k), kind) for k, _, kind in COLUMNS)])
    opt = oc_row(runs[0].summary["scenarios"][index], "optimal")
    rows.append(["optimal benchmark", *(fmt(opt.get(k), kind) for k, _, kind in COLUMNS)])
    return table(["prior", *(h for _, h, _ in COLUMNS)], rows)


def matrix(runs: list[PriorRun], key: str) -> str:
    """One number per scenario (rows) and prior (columns)."""
    entries = runs[0].summary["scenarios"]
    rows = [[f"{e['name']} (MTD {mtd_text(e)})",
             *(fmt(oc_row(r.summary["scenarios"][i]).get(key), "pct") for r in runs)]
            for i, e in enumerate(entries)]
    return table(["scenario", *(r.spec.label for r in runs)], rows)


def mtd_text(entry: dict) -> str:
    return "none" if entry["true_mtd"] is None else f"dose {entry['true_mtd']}"


def value(runs: list[PriorRun], key: str, scenario: str, prior: str) -> float:
    run = next(r for r in runs if r.spec.key == prior)
    entry = next(e for e in run.summary["scenarios"] if e["name"] == scenario)
    return float(oc_row(entry)[key])


# -- the page ---------------------------------------------------------------------------------


def setup_section(runs: list[PriorRun], median: np.ndarray) -> str:
    design = runs[0].design
    doses = [design.format_dose(d) for d in design.levels]
    prior_rows = []
    for run in runs:
        mean, ess = prior_curve(run.design)
        source = ("`[[sensitivity]]` 'no borrowing' of the config" if run.spec.robust_weight
                  is None else f"`{run.spec.frozen_file.relative_to(ROOT)}`")
        parts = len(run.design.model.components) or 1
        prior_rows.append([run.spec.label, source, str(parts),
                           " / ".join(f"{m:.2f}" for m in mean),
                           " / ".join(f"{e:.1f}" for e in ess)])
    scenario_rows = [[e["name"], " / ".join(f"{p:.2f}" for p in e["p_true"]), mtd_text(e)]
                     for e in runs[0].summary["scenarios"]]
    dec, coh, stop = design.decision, design.cohorts, design.stopping
    return "\n".join([
        "## Set-up", "",
        f"Design `{CONFIG.relative_to(ROOT)}`: doses {', '.join(doses)} (reference "
        f"{design.format_dose(design.reference_dose)}), cohorts of {coh.size} starting at "
        f"{design.format_dose(coh.start_dose)}, at most {stop.max_patients} patients, "
        f"target interval [{dec.target_interval[0]}, {dec.target_interval[1]}), EWOC "
        f"P(overdose) < {dec.max_overdose_probability}, true MTD defined at the target "
        f"{dec.target} (the dose whose true rate is closest to it; "
        "[simulation studies](simulation.md)). The configs below differ only in `[model]`.", "",
        table(["prior", "from", "components", "prior mean P(DLT) per dose",
               "prior ESS per dose"], prior_rows, "lllll"), "",
        "Prior ESS: the prior effective sample size per dose (moment-matched Beta, "
        "`bayesdose.posterior.prior_ess`). Each robust MAP prior adds to the MAP mixture a "
        "component of that weight equal to the config's prior of the mean mu "
        "(mean (-1.3863, 0), sd (1, 0.7073)), as `robust_weight` specifies; note that it is "
        "narrower than the no-borrowing prior (sd (2, 1)).", "",
        f"Scenarios `{SCENARIOS.relative_to(ROOT)}` (true P(DLT) at "
        f"{', '.join(doses)}):", "",
        table(["scenario", "true P(DLT) per dose", "true MTD"], scenario_rows, "lll"), "",
        "'history-right' rounds the median of P(DLT) per dose under the MAP prior without "
        f"robustification; recomputed here from the committed prior ({MEDIAN_DRAWS:,} draws): "
        + " / ".join(f"{m:.3f}" for m in median)
        + ". The other scenarios shift that curve on the logit scale (the scenario file gives "
        "each shift).", ""])


def results_section(runs: list[PriorRun]) -> str:
    entries = runs[0].summary["scenarios"]
    lines = ["## Operating characteristics", "",
             "P(correct MTD selection), per scenario and prior:", "",
             matrix(runs, "pcs"), "",
             "P(selecting a dose above the true MTD):", "",
             matrix(runs, "select_above_mtd"), "",
             "Columns below: P(correct MTD), selecting the true MTD (in these scenarios the "
             "only dose whose true rate is in the target interval [0.16, 0.33)); "
             "P(sel. above MTD), selecting a dose above it; "
             "P(no dose), selecting no dose; P(stop for safety), the trial stopped by the "
             "safety rule (part of P(no dose)); mean N, expected sample size; mean N above MTD, "
             "expected patients treated above the true MTD; DLT rate, E[DLTs] / E[N]. The "
             "optimal benchmark (O'Quigley, Paoletti & Maccario 2002) selects from complete "
             "information on 30 patients and treats nobody.", ""]
    for i, entry in enumerate(entries):
        lines += [f"### {entry['name']}: true MTD {mtd_text(entry)}", "",
                  scenario_table(runs, i), ""]
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def moves(before: float, after: float, kind: str = "pct") -> str:
    """'raises it from a to b' or 'lowers it from a to b' (or 'leaves it at a')."""
    text = pct if kind == "pct" else (lambda x: f"{x:.1f}")
    if text(before) == text(after):
        return f"leaves it at {text(before)}"
    verb = "raises" if after > before else "lowers"
    return f"{verb} it from {text(before)} to {text(after)}"


def reading_section(runs: list[PriorRun]) -> str:
    """What borrowing buys when the history is right, what it costs when it is wrong, and
    what robustification buys back: sentences around this run's numbers."""
    def v(key: str, scenario: str, prior: str) -> float:
        return value(runs, key, scenario, prior)

    def all_priors(key: str, scenario: str) -> str:
        kind = pct if key != "n_above_mtd" and key != "n_mean" else (lambda x: f"{x:.1f}")
        return " / ".join(kind(v(key, scenario, r.spec.key)) for r in runs)

    def effect(key: str, scenario: str, prior: str = "map") -> str:
        kind = "num" if key in ("n_mean", "n_above_mtd") else "pct"
        return moves(v(key, scenario, "none"), v(key, scenario, prior), kind)

    right, severe = "history-right", "much-more-toxic"
    lines = [
        "## Reading", "",
        "Each list gives no borrowing / MAP / robust MAP 0.1 / robust MAP 0.5.", "",
        f"- **When the history is right** (history-right), P(correct MTD) is "
        f"{all_priors('pcs', right)}: the MAP prior {effect('pcs', right)}. It also cuts "
        f"overdosing: P(selecting above the MTD) {all_priors('select_above_mtd', right)}, "
        f"patients treated above the MTD {all_priors('n_above_mtd', right)}; and trials are "
        f"shorter (mean N {all_priors('n_mean', right)}), because the rule that stops a trial "
        "once the MTD is established is met sooner.",
        f"- **When the drug is one level more toxic** than the history (more-toxic-1), "
        f"borrowing still helps selection (P(correct MTD) {all_priors('pcs', 'more-toxic-1')}) "
        f"but overdoses more: P(selecting above the MTD) "
        f"{all_priors('select_above_mtd', 'more-toxic-1')}.",
        f"- **Two levels more toxic** (more-toxic-2): P(correct MTD) "
        f"{all_priors('pcs', 'more-toxic-2')}, P(selecting above the MTD) "
        f"{all_priors('select_above_mtd', 'more-toxic-2')}, patients above the MTD "
        f"{all_priors('n_above_mtd', 'more-toxic-2')}, DLT rate "
        f"{all_priors('dlt_rate', 'more-toxic-2')}.",
        f"- **Severe conflict** (much-more-toxic, the MTD at the starting dose): P(correct MTD) "
        f"{all_priors('pcs', severe)}, P(selecting above the MTD) "
        f"{all_priors('select_above_mtd', severe)}, patients above the MTD "
        f"{all_priors('n_above_mtd', severe)}, DLT rate {all_priors('dlt_rate', severe)}. "
        f"This is the cost of borrowing: P(selecting above the MTD) goes from "
        f"{pct(v('select_above_mtd', severe, 'none'))} without borrowing to "
        f"{pct(v('select_above_mtd', severe, 'map'))} with the MAP prior.",
        f"- **Less toxic than the history** (less-toxic): P(correct MTD) "
        f"{all_priors('pcs', 'less-toxic')}; nobody is treated above the MTD, the cost is "
        "under-dosing (stopping below the highest dose).", "",
        "**What robustification buys back.** Under severe conflict, P(selecting above the "
        f"MTD) falls from {pct(v('select_above_mtd', severe, 'map'))} (MAP) to "
        f"{pct(v('select_above_mtd', severe, 'rmap-0.1'))} with robust weight 0.1 and "
        f"{pct(v('select_above_mtd', severe, 'rmap-0.5'))} with weight 0.5"
        f", against {pct(v('select_above_mtd', severe, 'none'))} without borrowing; when the "
        f"history is right, weight 0.1 keeps P(correct MTD) at "
        f"{pct(v('pcs', right, 'rmap-0.1'))} and weight 0.5 at {pct(v('pcs', right, 'rmap-0.5'))}"
        f" (MAP {pct(v('pcs', right, 'map'))}). The robust component here is the config's "
        "prior of mu, mean (-1.3863, 0) and sd (1, 0.7073): it is informative itself and "
        "centred near the history (P(DLT) 20% at 80 mg), so it buys back only part of what "
        "conflict costs in 30 patients; a vaguer component should buy back more, at some cost "
        "when the history is right (not simulated here).", "",
        "The optimal benchmark uses the 30 patients' complete outcomes and no prior "
        "information, so a prior that is right can beat it (history-right), and one that is "
        "wrong falls far below it.", "",
    ]
    return "\n".join(lines)


def speed_section(runs: list[PriorRun], direct: tuple[float, dict] | None,
                  fits: dict[float, float], method: str, imports: Timing) -> str:
    """Wall times of the commands, and what the exact engine does with each prior."""
    base = runs[0]

    def ratio(t: list[float], t0: list[float]) -> str:
        return f"{Timing(tuple(t)).median / Timing(tuple(t0)).median:.2f}"

    cli_rows = [[run.spec.label, fmt_time(run.timing.median), fmt_time(run.timing.min),
                 ratio(run.times, base.times)]
                + ([fmt_time(Timing(tuple(run.sim_times)).median),
                    ratio(run.sim_times, base.sim_times)] if run.sim_times else [])
                for run in runs]
    cli_head = ["prior", f"{base.summary['method']} (--method {method}): median", "min",
                "/ no borrowing"]
    if base.sim_times:
        cli_head += [f"simulate, {SIM_TRIALS:,} trials: median", "/ no borrowing"]
    engine_rows = []
    for run in runs:
        e = run.engine
        g = e["grid"]
        engine_rows.append([
            run.spec.label, f"{g.n_alpha} x {g.n_beta} = {g.n_alpha * g.n_beta:,}",
            f"{g.width:.2f}", fmt_time(e["build"].median),
            f"{e['batch'].median / BATCH_ROWS * 1e6:.0f} µs",
            fmt_rate(BATCH_ROWS / e["batch"].median), f"{e['states']:,}"])
    lines = [
        "## Speed", "",
        f"Wall time of `bayesdose simulate CONFIG --scenarios {SCENARIOS.relative_to(ROOT)} "
        f"--designs blrm --method {method} --workers 1` ({base.summary['method']}: the OCs "
        "above), and of the same command with `--method simulate --trials "
        f"{SIM_TRIALS:,}`; each a new process, so cold: imports, the "
        "exact engine and every trial state built within the run (a new interpreter importing "
        f"`bayesdose.cli` and `bayesdose.simulation.study` alone: {fmt_time(imports.median)}). "
        f"{len(base.times)} run(s) of each per prior, the priors taken in turn.", "",
        table(cli_head, cli_rows), "",
        "Why the times are what they are, in this process (one thread): the exact engine's "
        "grid (nodes along log alpha x rows along log beta; half-width in the prior frame's "
        "standard deviations, `bayesdose.posterior.exact_engine(design).grid`), the time to "
        f"build the engine, the time per posterior in a batch of {BATCH_ROWS:,} count vectors, "
        "and the number of trial states the exact walk of the five scenarios decides (one "
        "posterior each).", "",
        table(["prior", "grid (nodes)", "width", "engine build", "per posterior",
               "posteriors / s", "trial states"], engine_rows), "",
        speed_reading(runs), "",
    ]
    if direct is not None:
        seconds, summary = direct
        frozen = next(r for r in runs if r.spec.robust_weight == 0.1)
        gap = max_gap(summary, frozen.summary)
        lines += [
            f"The shipped `{CONFIG.relative_to(ROOT)}` (prior = \"map\", robust weight 0.1) "
            f"simulates directly too: {fmt_time(seconds)} for the same command "
            f"({summary['method']}), against {fmt_time(frozen.timing.median)} with its frozen "
            "mixture; the difference is the MAP fit by MCMC, which the process runs once "
            "before it simulates. Its operating characteristics "
            + ("are identical to the frozen robust MAP 0.1 prior's" if gap == 0 else
               f"differ from the frozen robust MAP 0.1 prior's by at most {gap:.2g}")
            + " (every probability and mean of the summary): the same seed gives the same "
            "MCMC draws and mixture.", ""]
    if fits:
        lines += ["This run refitted the frozen priors (`bayesdose map`, MCMC): "
                  + ", ".join(f"robust weight {w:g}: {fmt_time(s)}" for w, s in fits.items())
                  + ".", ""]
    return "\n".join(lines)


def speed_reading(runs: list[PriorRun]) -> str:
    """The speed tables in words: grid sizes, time per posterior, and trial states."""
    nodes = {r.engine["grid"].n_alpha * r.engine["grid"].n_beta for r in runs}
    mixtures = [r for r in runs if r.spec.robust_weight is not None]
    widths = [r.engine["grid"].width for r in mixtures]
    per = [r.engine["batch"].median / BATCH_ROWS for r in runs]
    states = [r.engine["states"] for r in mixtures]
    grids = (f"every prior's grid has the same {nodes.pop():,} nodes: the mixtures' grids are "
             f"widened (to {min(widths):.2f}-{max(widths):.2f} frame sds, to hold every "
             "component) but not refined, since no component is narrow enough to need it "
             "([the exact engine](exact-engine.md#mixture-priors))"
             if len(nodes) == 1 else "the mixtures' grids are refined (see the nodes)")
    return (f"So {grids}; the time per posterior ranges from {min(per) * 1e6:.0f} to "
            f"{max(per) * 1e6:.0f} µs over the priors. A mixture prior simulates at the normal "
            "prior's speed per posterior; whole runs differ by how many trial states the design "
            f"reaches: {runs[0].engine['states']:,} without borrowing, "
            f"{min(states):,}-{max(states):,} with a MAP prior, whose trials stop sooner "
            "(mean N above).")


def max_gap(a: dict, b: dict) -> float:
    """Largest absolute difference of the BLRM's numbers between two summaries."""
    gaps = [0.0]
    for ea, eb in zip(a["scenarios"], b["scenarios"], strict=True):
        oa, ob = ea["designs"]["blrm"], eb["designs"]["blrm"]
        for key, va in oa.items():
            vb = ob.get(key)
            if isinstance(va, int | float) and isinstance(vb, int | float):
                gaps.append(abs(va - vb))
            elif isinstance(va, list) and isinstance(vb, list):
                gaps += [abs(x - y) for x, y in zip(va, vb, strict=True)]
    return max(gaps)


def render(runs: list[PriorRun], direct: tuple[float, dict] | None, fits: dict[float, float],
           method: str, imports: Timing, median: np.ndarray, seconds: float) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    exact = runs[0].summary["method"] == "exact"
    head = f"""# Borrowing from historical data: what a MAP prior buys and costs

<!-- Generated by `python -m benchmarks.borrowing`; do not edit by hand. -->

The BLRM-EWOC design of drug A in a new population (`configs/drug-a-map.toml`) with four
priors: no borrowing, the meta-analytic-predictive (MAP) prior from drug A's earlier
monotherapy trial (40 patients, 7 DLTs; OncoBayes2's MAP vignette), and that prior
robustified with weight 0.1 and 0.5. The scenarios put the true dose-toxicity curve where the
history says it is, more toxic than the history (prior-data conflict: one, two and three dose
levels) and less toxic. Reproduce with `cd <repo> && .venv/bin/python -m benchmarks.borrowing`
(this run took {seconds:.0f} s); it rewrites this page.

- Date: {date} (UTC); {machine_text()}; load average at the end {load_average()}
- Python {platform.python_version()}; {versions_text(PAGE_PACKAGES)}; BLAS pinned to one thread
  (`OPENBLAS_NUM_THREADS=1`).
- Method: {"exact (the tree of trial states walked with their probabilities: no Monte Carlo "
            "error)" if exact else "simulated trials (see summary.json for standard errors)"};
  `bayesdose simulate` chose it (`--method {method}`).
- The MAP priors are frozen mixtures (`bayesdose map`, seed {MAP_SEED}) committed under
  `benchmarks/borrowing/`, as a protocol fixes its prior once; `--refit` regenerates them.

"""
    return (head + setup_section(runs, median) + "\n" + results_section(runs) + "\n"
            + reading_section(runs) + "\n" + speed_section(runs, direct, fits, method, imports))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("auto", "exact", "simulate"), default="auto")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per prior")
    parser.add_argument("--refit", action="store_true",
                        help="refit the frozen MAP priors with `bayesdose map` first")
    parser.add_argument("--no-direct", action="store_true",
                        help="skip simulating the shipped prior = 'map' config")
    parser.add_argument("--quick", action="store_true", help="one run per prior, no direct run")
    parser.add_argument("--out", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    package = cli_package_file()
    if not package.startswith(str(ROOT)):
        sys.exit(f"the subprocesses import bayesdose from {package}, not from {ROOT}")
    raw = base_config()
    missing = any(not s.frozen_file.exists() for s in PRIORS if s.robust_weight is not None)
    fits = fit_map_priors(raw) if args.refit or missing else {}
    repeats = 1 if args.quick else args.repeats
    runs = run_priors(raw, args.method, repeats)
    time_simulated(runs, repeats)
    for run in runs:
        measure_engine(run, repeats)
    direct = None
    if not (args.quick or args.no_direct):
        direct = direct_map_run(args.method)
        print(f"shipped prior = 'map' config: {direct[0]:.1f} s", flush=True)
    median = map_median_curve(next(r.design for r in runs if r.spec.robust_weight == 0.0))
    if not only_mtd_in_interval(runs[0].summary, runs[0].design.decision.target_interval):
        sys.exit("a scenario has another dose in the target interval: the page's tables "
                 "would need P(selecting in the interval) beside P(correct MTD)")
    imports = import_time(repeats)
    page = render(runs, direct, fits, args.method, imports, median,
                  time.perf_counter() - start)
    write_atomically(args.out, page)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
