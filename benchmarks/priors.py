"""Priors from historical data: how long ``bayesdose map`` and ``bayesdose recommend`` take
with a MAP prior, frozen or fitted on the fly, against issue 14's targets; writes
``docs/prior-benchmarks.md``.

Run from the repository root::

    .venv/bin/python -m benchmarks.priors            # about 6 minutes on 2 cores
    .venv/bin/python -m benchmarks.priors --quick    # fewer runs, for checking the script

Three measurements, every command in a new process (cold: interpreter, imports and work), this
checkout first on PYTHONPATH, BLAS pinned to one thread:

1. ``bayesdose map configs/drug-a-map.toml --out TMP/prior.toml`` (3 runs), and where its time
   goes: ``sample_map`` (the MCMC fit of the hierarchical model) and ``automixfit`` (the
   mixture fit) timed once in this process.
2. ``bayesdose recommend`` on ``configs/examples/drug-a-new.csv`` with the frozen MAP mixture
   (the section the timed ``map`` wrote, in place of the config's ``[model]``; without and
   with the config's ``[[sensitivity]]`` priors), with the normal 'no borrowing' prior, and
   XJ-MK-002 for reference (7 runs each, taken in turn); and whether PyMC is imported, from
   the CLI's ``main`` run in a new interpreter.
3. ``bayesdose recommend`` with prior = "map" (the MAP fit by MCMC inside the command) and
   with ``configs/drug-a-exnex.toml`` (EXNEX by MCMC, the decision of record): 1 run each.

The third target of the issue (simulating with a mixture prior at a normal prior's speed) is
measured by ``benchmarks.borrowing`` (docs/borrowing-oc.md); the page links to it.
"""

from __future__ import annotations

# isort: off
import benchmarks.common  # noqa: F401  (first: pins BLAS to one thread before NumPy loads)
# isort: on

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bayesdose.report.text import dlts  # noqa: E402
from bayesdose.schema import read_toml  # noqa: E402
from benchmarks.borrowing import (  # noqa: E402
    cli_package_file,
    no_borrowing_model,
    run_cli,
    run_cli_streams,
    to_toml,
    with_model,
)
from benchmarks.common import (  # noqa: E402
    NUMPY_WAS_IMPORTED,
    ROOT,
    Timing,
    blas_threads,
    fmt_time,
    load_average,
    machine_stamp,
    machine_text,
    subprocess_env,
    table,
    timed,
    versions_text,
    write_atomically,
)

OUTPUT = ROOT / "docs" / "prior-benchmarks.md"
MAP_CONFIG = Path("configs/drug-a-map.toml")  # paths relative to ROOT, as the commands see them
EXNEX_CONFIG = Path("configs/drug-a-exnex.toml")
NEW_DATA = Path("configs/examples/drug-a-new.csv")
XJ = (Path("configs/xj-mk-002.toml"), Path("configs/examples/xj-mk-002.csv"))
FROZEN_0_1 = ROOT / "benchmarks" / "borrowing" / "map-robust-0.1.toml"  # borrowing's frozen prior
BIN = Path(sys.executable).parent  # the venv's bin directory: python and the bayesdose script
WORK = Path("build/priors")  # the derived configs (not committed)
MAP_SEED = 1  # `bayesdose map`'s default seed
MAP_TARGET = 60.0  # seconds, issue 14
RECOMMEND_TARGET = 1.5  # seconds, whole process, issue 14
RUNS = {"map": 3, "recommend": 7, "sensitivity": 3}  # --quick: 1, 2, 1
IMPORT_CODE = "import bayesdose.cli, bayesdose.designs.blrm.recommendation"
PAGE_PACKAGES = ("bayesdose", "numpy", "scipy", "pymc", "pytensor")
MARK = "@@priors-benchmark@@"  # prefixes the JSON line of the PyMC check


@dataclass
class Case:
    """One ``recommend`` command of section 2: its label, prior, config and data, the wall
    times of its runs, its next-dose line and the PyMC check."""

    key: str
    label: str
    prior: str
    config: Path
    data: Path
    times: list[float] = field(default_factory=list)
    next_line: str = ""
    heavy: list[str] | None = None  # top-level pymc/pytensor modules imported (None: unchecked)
    says_mcmc: bool = False  # whether its output (stdout or stderr) mentions MCMC

    @property
    def timing(self) -> Timing:
        return Timing(tuple(self.times))


# -- 1. bayesdose map -----------------------------------------------------------------------


def time_map(runs: int) -> tuple[list[float], dict[str, Any], bool]:
    """``bayesdose map`` ``runs`` times, each writing into a new temporary folder: the wall
    times, the [model] section the last run wrote, and whether every run wrote the same file."""
    times, texts = [], []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "prior.toml"
            seconds, _ = run_cli(["map", str(MAP_CONFIG), "--out", str(out)])
            texts.append(out.read_text())
        times.append(seconds)
        print(f"  map run {i + 1}: {seconds:.2f} s", flush=True)
    model = read_toml_text(texts[-1])["model"]
    return times, model, len(set(texts)) == 1


def read_toml_text(text: str) -> dict[str, Any]:
    """A TOML text as a dict (through a temporary file, as ``read_toml`` reads files)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "section.toml"
        path.write_text(text)
        return read_toml(path)


def map_split() -> dict[str, float]:
    """Where ``bayesdose map``'s time goes, in this process, once: the config, ``import pymc``,
    the MCMC fit (``sample_map``: model, compilation from PyTensor's disk cache, NUTS, the
    predictive draws) and the mixture fit (``automixfit``: 1 to 4 components by EM)."""
    from bayesdose.models.hierarchy import Hierarchy
    from bayesdose.models.map_prior import MAX_COMPONENTS, sample_map
    from bayesdose.models.mixfit import automixfit
    from bayesdose.schema import load_design

    already = "pymc" in sys.modules
    t_design, design = timed(lambda: load_design(ROOT / MAP_CONFIG))
    t_import, _ = timed(lambda: __import__("pymc"))
    trials, hierarchy = design.historical_trials, Hierarchy.of(design)
    t_sample, (draws, diagnostics) = timed(
        lambda: sample_map(trials, hierarchy, design.reference_dose, MAP_SEED))
    t_mix, fit = timed(lambda: automixfit(draws, max_components=MAX_COMPONENTS, seed=MAP_SEED))
    return {"design": t_design, "import": t_import, "pymc_was_imported": already,
            "sample": t_sample, "mixfit": t_mix, "draws": int(draws.shape[0]),
            "components": fit.components, "diagnostics_ok": bool(diagnostics["diagnostics_ok"])}


# -- 2. recommend with a frozen prior -------------------------------------------------------


def write_config(raw: dict[str, Any], name: str) -> Path:
    """Write a derived config into ``WORK``; its path relative to the repository."""
    folder = ROOT / WORK
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(to_toml(raw))
    return WORK / name


def derived_configs(frozen: dict[str, Any]) -> dict[str, Path]:
    """configs/drug-a-map.toml with its [model] (and [model.hierarchy]) replaced: by the frozen
    MAP mixture without and with the config's [[sensitivity]] priors, and by the 'no
    borrowing' normal prior without them. The [historical] path is made relative to ``WORK``."""
    raw = read_toml(ROOT / MAP_CONFIG)
    history = (ROOT / MAP_CONFIG).parent / raw["historical"]["data"]
    raw["historical"]["data"] = str(Path("../..") / history.resolve().relative_to(ROOT))
    normal = no_borrowing_model(raw)
    mixture_sens = with_model(raw, frozen)
    mixture = {k: v for k, v in mixture_sens.items() if k != "sensitivity"}
    plain = {k: v for k, v in with_model(raw, normal).items() if k != "sensitivity"}
    return {"mixture": write_config(mixture, "drug-a-mixture.toml"),
            "mixture+sensitivity": write_config(mixture_sens,
                                                "drug-a-mixture-sensitivity.toml"),
            "normal": write_config(plain, "drug-a-normal.toml")}


def recommend_cases(configs: dict[str, Path]) -> list[Case]:
    """The commands of section 2, in the order of the page."""
    return [
        Case("mixture", "(a) frozen MAP mixture", "mixture, 4 components",
             configs["mixture"], NEW_DATA),
        Case("mixture+sensitivity", "(a') frozen MAP mixture, [[sensitivity]] kept",
             "mixture; alternatives 'no borrowing' and EXNEX", configs["mixture+sensitivity"],
             NEW_DATA),
        Case("normal", "(b) no borrowing", "normal, mean (-1.3863, 0), sd (2, 1)",
             configs["normal"], NEW_DATA),
        Case("xj", "(c) XJ-MK-002", "normal (the config's)", *XJ),
    ]


def run_recommend(config: Path, data: Path) -> tuple[float, str, str]:
    """``bayesdose recommend CONFIG DATA`` in a new process: wall time, stdout, stderr."""
    return run_cli_streams(["recommend", str(config), str(data)])


def next_line(stdout: str) -> str:
    """The recommendation's 'next: ...' line, up to its explanation."""
    line = next((s for s in stdout.splitlines() if s.startswith("next:")), "?")
    return line.split(" — ")[0].removeprefix("next: ")


def time_recommend(cases: list[Case], runs: int) -> None:
    """``runs`` whole-process runs of each case's ``recommend``, the cases taken in turn."""
    for i in range(runs):
        for case in cases:
            seconds, stdout, stderr = run_recommend(case.config, case.data)
            case.times.append(seconds)
            case.next_line = next_line(stdout)
            case.says_mcmc = "mcmc" in (stdout + stderr).lower()
            print(f"  recommend {case.key} run {i + 1}: {seconds:.2f} s", flush=True)


def import_floor(runs: int) -> Timing:
    """A new interpreter importing what ``recommend`` imports before it works: the part of
    every command's time that no prior changes."""
    cmd = [sys.executable, "-c", IMPORT_CODE]
    env = subprocess_env(repo_on_path=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))


CHECK_CODE = """
import json, sys
from bayesdose.cli import main
main(["recommend", {config!r}, {data!r}], standalone_mode=False)
heavy = sorted({{m.split(".")[0] for m in sys.modules if m.startswith(("pymc", "pytensor"))}})
print({mark!r} + json.dumps(heavy))
"""


def pymc_check(case: Case) -> None:
    """Run the CLI's ``main`` on ``case`` in a new interpreter and record which of ``pymc``
    and ``pytensor`` are in ``sys.modules`` afterwards."""
    code = CHECK_CODE.format(config=str(case.config), data=str(case.data), mark=MARK)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, text=True,
                          capture_output=True, env=subprocess_env(repo_on_path=True))
    if proc.returncode != 0:
        raise RuntimeError(f"the PyMC check of {case.key} failed:\n{proc.stderr}")
    line = next(s for s in proc.stdout.splitlines() if s.startswith(MARK))
    case.heavy = json.loads(line.removeprefix(MARK))
    print(f"  PyMC check {case.key}: {case.heavy or 'none'}", flush=True)


def data_text(path: Path) -> str:
    """'N patients, D DLTs' of a patient-level CSV (one row per patient, a ``dlt`` column)."""
    with (ROOT / path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    return f"{len(rows)} patients, {dlts(sum(int(r['dlt']) for r in rows))}"


# -- 3. recommend fitting by MCMC -----------------------------------------------------------


def time_mcmc_commands() -> dict[str, tuple[float, str]]:
    """One run each of ``recommend`` with prior = "map" and with EXNEX: (wall time, next)."""
    out = {}
    for key, config in (("map", MAP_CONFIG), ("exnex", EXNEX_CONFIG)):
        seconds, stdout, _ = run_recommend(config, NEW_DATA)
        out[key] = (seconds, next_line(stdout))
        print(f"  recommend {config}: {seconds:.2f} s", flush=True)
    return out


def shared_fit() -> bool:
    """Whether every EXNEX alternative of configs/drug-a-map.toml has the config's hierarchy
    (then its MAP prior comes from the same cached MCMC fit)."""
    from bayesdose.models.hierarchy import Hierarchy
    from bayesdose.schema import load_design

    design = load_design(ROOT / MAP_CONFIG)
    return all(Hierarchy.of(alt) == Hierarchy.of(design)
               for _, alt in design.alternatives() if alt.model.prior == "exnex")


# -- the page ---------------------------------------------------------------------------------


def fmt_signed(seconds: float) -> str:
    return ("-" if seconds < 0 else "+") + fmt_time(abs(seconds))


def verdict(timing: Timing, target: float, also: bool = True) -> str:
    """Whether the median meets the target (and ``also``); if only the minimum does, say so:
    on a shared machine the minimum is the better estimate of the undisturbed cost."""
    if not also:
        return "**not met**"
    if timing.median <= target:
        return "**met**"
    if timing.min <= target:
        return "**met by the minimum**, not by the median (load, below)"
    return "**not met**"


def modules_text(heavy: list[str] | None) -> str:
    if heavy is None:
        return "not checked"
    return ", ".join(f"`{m}`" for m in heavy) if heavy else "no"


def targets_section(map_times: list[float], cases: list[Case]) -> str:
    """Issue 14's three targets and what this run measured."""
    map_t = Timing(tuple(map_times))
    a = cases[0]
    return "\n".join([
        "## The targets", "",
        table(["target (issue 14)", "measured", "verdict"], [
            [f"`bayesdose map` on the drug A example within {MAP_TARGET:.0f} s",
             f"{fmt_time(map_t.median)} (median of {len(map_times)}; min "
             f"{fmt_time(map_t.min)})", verdict(map_t, MAP_TARGET)],
            [f"`recommend` with a mixture prior within {RECOMMEND_TARGET:g} s, whole process, "
             "exact engine, PyMC not imported",
             f"{fmt_time(a.timing.median)} (median of {len(a.times)}; min "
             f"{fmt_time(a.timing.min)}); PyMC imported: {modules_text(a.heavy)}",
             verdict(a.timing, RECOMMEND_TARGET, a.heavy == [])],
            ["simulation with a mixture prior at today's speed",
             "measured by `benchmarks.borrowing`: [Borrowing, Speed](borrowing-oc.md#speed)",
             "see there"],
        ], align="lll"), "",
        "The `recommend` row is the config as a protocol freezes it: the mixture in "
        "`[model]`, and no alternative prior that needs the historical fit; with such an "
        "alternative the command fits by MCMC (section 2).",
        "",
    ])


def load_warning(loads: list[str]) -> list[str]:
    """A warning when the load average exceeded the CPUs available during the run."""
    try:
        values = [float(v) for v in loads]
    except ValueError:
        return []
    cpus = int(machine_stamp()["nproc"])
    if max(values) <= cpus:
        return []
    return [f"> **The load average exceeded the {cpus} CPUs during this run** ({loads[0]} at "
            f"start, {loads[1]} at end): other jobs competed for the cores, so every wall "
            "time here is inflated by contention, the medians most. Compare rows within "
            "the page; against the targets, the minima are the fairer estimate.", ""]


def map_section(map_times: list[float], same: bool, split: dict[str, Any],
                frozen: dict[str, Any]) -> str:
    """Section 1: ``bayesdose map``, whole process and split."""
    t = Timing(tuple(map_times))
    rest = t.median - split["design"] - split["import"] - split["sample"] - split["mixfit"]
    matches = read_toml(FROZEN_0_1)["model"] == frozen
    return "\n".join([
        "## 1. `bayesdose map`", "",
        f"`bayesdose map {MAP_CONFIG} --out TMP/prior.toml`, each run a new process writing "
        f"into a new temporary folder (seed {MAP_SEED}; 4 chains of 1,000 tuning and 2,500 "
        "draws, one after another on one core):", "",
        table(["runs", "median", "min", "all runs"],
              [[str(len(map_times)), fmt_time(t.median), fmt_time(t.min),
                ", ".join(fmt_time(s) for s in map_times)]]), "",
        "Every run wrote " + ("the same file" if same else "**different files**")
        + "; its `[model]` section "
        + ("is the frozen robust MAP 0.1 prior of the borrowing benchmark "
           f"(`{FROZEN_0_1.relative_to(ROOT)}`)" if matches else
           f"differs from `{FROZEN_0_1.relative_to(ROOT)}`")
        + f" ({split['components']} components from the MAP sample, plus the robust one).", "",
        "Where the time goes: the steps of the command timed once in the benchmark's own "
        "process (after the runs above, so PyTensor's compiled code is on disk), against the "
        "median whole process:", "",
        table(["step", "time"], [
            ["read the config and the historical CSV (`load_design`)",
             fmt_time(split["design"])],
            ["`import pymc`" + (" (already imported)" if split["pymc_was_imported"] else ""),
             fmt_time(split["import"])],
            ["MCMC fit of the hierarchical model and the MAP sample "
             f"(`bayesdose.models.map_prior.sample_map`, {split['draws']:,} draws)",
             fmt_time(split["sample"])],
            ["mixture fit, 1 to 4 components (`bayesdose.models.mixfit.automixfit`)",
             fmt_time(split["mixfit"])],
            ["the rest: interpreter, other imports, robustifying, ESS, writing, exit "
             "(whole-process median minus the steps above)", fmt_signed(rest)],
            ["whole process (median of the runs above)", fmt_time(t.median)],
        ]), "",
        "The steps were timed once each, in another process than the commands', on a shared "
        "machine: the rest is the difference of two noisy numbers (negative when this "
        "process's MCMC ran slower than the commands'), small against the MCMC either way.",
        "",
        (f"The MCMC fit is {split['sample'] / t.median:.0%} of the command"
         if split["sample"] < 0.9 * t.median else "The MCMC fit is nearly all of the command")
        + f"; the mixture fit takes {fmt_time(split['mixfit'])}.", "",
    ])


def recommend_section(cases: list[Case], floor: Timing, sens_runs: int) -> str:
    """Section 2: ``recommend`` with a frozen prior, and the PyMC check."""
    rows = [[c.label, c.prior, f"`{c.config}`", str(len(c.times)), fmt_time(c.timing.median),
             fmt_time(c.timing.min), c.next_line, modules_text(c.heavy)] for c in cases]
    by = {c.key: c for c in cases}
    a, sens, b = by["mixture"], by["mixture+sensitivity"], by["normal"]
    return "\n".join([
        "## 2. `recommend` with a frozen prior", "",
        f"`bayesdose recommend CONFIG DATA` (exact engine, the default), each run a new "
        f"process; data `{NEW_DATA}` ({data_text(NEW_DATA)}) except for XJ-MK-002 (data "
        f"`{XJ[1]}`). The derived configs are `{MAP_CONFIG}` with its `[model]` and "
        "`[model.hierarchy]` replaced: by the `[model]` section the timed `bayesdose map` "
        "wrote, or by the config's 'no borrowing' prior (`prior_mean = [-1.3863, 0]`, "
        f"`prior_sd = [2, 1]`); they are written to `{WORK}/`. The `[[sensitivity]]` priors "
        "are removed except in (a'). The cases were taken in turn; (a') "
        f"{sens_runs} run(s). PyMC imported: the CLI's `main([...], standalone_mode=False)` "
        "run in a new interpreter, then any module of `sys.modules` starting with `pymc` or "
        "`pytensor`.", "",
        table(["case", "prior", "config", "runs", "median", "min", "next", "PyMC imported"],
              rows, align="lllrrrll"), "",
        f"A new interpreter running `{IMPORT_CODE}` alone takes {fmt_time(floor.median)} "
        f"(median; min {fmt_time(floor.min)}): the floor of every row. The mixture prior "
        f"against the normal one: {fmt_signed(a.timing.median - b.timing.median)} (medians; "
        f"ratio {a.timing.median / b.timing.median:.2f}), "
        f"{fmt_signed(a.timing.min - b.timing.min)} (minima).", "",
        "With the `[[sensitivity]]` tables kept (a'), the command takes "
        f"{fmt_time(sens.timing.median)}: the EXNEX alternative's prior is the MAP prior of "
        "its own hierarchy, robustified with weight 1 - ex_probability, which `recommend` "
        "fits by MCMC (PyMC imported: "
        f"{modules_text(sens.heavy)}) before deciding under it with the exact engine. "
        + (f"Its output and error stream do not mention MCMC: the "
           f"{sens.timing.median / a.timing.median:.0f}-fold cost against (a) comes without "
           "a word. " if not sens.says_mcmc else "Its output mentions MCMC. ")
        + "A protocol that freezes the prior should freeze (or drop) such alternatives too.",
        "",
    ])


def mcmc_section(mcmc: dict[str, tuple[float, str]], map_median: float) -> str:
    """Section 3: ``recommend`` that fits by MCMC."""
    return "\n".join([
        "## 3. `recommend` fitting by MCMC", "",
        f"One run each, new process, data `{NEW_DATA}`:", "",
        table(["command", "model", "wall time", "next"], [
            [f"`bayesdose recommend {MAP_CONFIG} {NEW_DATA}`",
             "prior = \"map\": the MAP fit by MCMC inside the command, then the exact engine",
             fmt_time(mcmc["map"][0]), mcmc["map"][1]],
            [f"`bayesdose recommend {EXNEX_CONFIG} {NEW_DATA}`",
             "EXNEX, the joint model of both trials by MCMC (the decision of record)",
             fmt_time(mcmc["exnex"][0]), mcmc["exnex"][1]],
        ], align="llrl"), "",
        f"`bayesdose map` alone takes {fmt_time(map_median)} (section 1); a config with "
        "prior = \"map\" pays that fit on every `recommend`, which is why the shipped config "
        "says to freeze it. "
        + f"It took {mcmc['map'][0] / map_median:.1f} times `bayesdose map`'s median. "
        + ("Its EXNEX alternative needs no second fit: the fit is cached per historical "
           "data, hierarchy, reference dose and seed (`bayesdose.models.map_prior`), and the "
           "alternative's hierarchy equals the config's (checked by this script)."
           if shared_fit() else
           "Its EXNEX alternative's hierarchy differs from the config's, so it is a second "
           "MCMC fit."), "",
    ])


def render(stamp: dict[str, Any], map_result: tuple[list[float], dict[str, Any], bool],
           split: dict[str, Any], cases: list[Case], floor: Timing,
           mcmc: dict[str, tuple[float, str]], quick: bool) -> str:
    map_times, frozen, same = map_result
    lines = [
        "# Priors from historical data: benchmarks", "",
        "<!-- Generated by `python -m benchmarks.priors`; do not edit by hand. -->", "",
        "How long it takes to fit a meta-analytic-predictive (MAP) prior from an earlier trial "
        "(`bayesdose map`), to recommend with it once frozen as a mixture, and to recommend "
        "when the prior is fitted by MCMC inside the command (prior = \"map\", EXNEX), against "
        "the performance targets of issue 14. The example is drug A "
        f"(`{MAP_CONFIG}`; [borrowing from earlier trials](borrowing.md)). Reproduce with "
        "`cd <repo> && .venv/bin/python -m benchmarks.priors` (this run took "
        f"{stamp['elapsed'] / 60:.1f} minutes); it rewrites this page.", "",
    ]
    if quick:
        lines += ["> **Quick mode** (`--quick`): fewer runs; do not cite these numbers.", ""]
    lines += [
        f"- Date: {stamp['date']} (UTC); {machine_text()}",
        f"- Python {platform.python_version()}; {versions_text(PAGE_PACKAGES)}; bayesdose "
        f"imported by the subprocesses from `{stamp['package']}`",
        f"- BLAS pinned to one thread (`OPENBLAS_NUM_THREADS=1` and the like, in every "
        f"process; threadpoolctl: {stamp['blas']}). Wall times by `time.perf_counter` around "
        "`subprocess.run` of the venv's `bayesdose` script.",
        f"- Load average (1 min) at start {stamp['load'][0]}, at end {stamp['load'][1]}: "
        "other jobs share this 2-core machine, so the minimum is the better estimate of the "
        "undisturbed cost and the median of the typical one.", "",
    ]
    if stamp["numpy_early"]:
        lines += ["> Warning: numpy was imported before the thread pinning took effect.", ""]
    lines += load_warning(stamp["load"])
    lines += [targets_section(map_times, cases),
              map_section(map_times, same, split, frozen),
              recommend_section(cases, floor, len(cases[1].times)),
              mcmc_section(mcmc, Timing(tuple(map_times)).median)]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs (to check the script, not to cite)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    runs = {"map": 1, "recommend": 2, "sensitivity": 1} if args.quick else RUNS

    started = time.perf_counter()
    stamp: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"), "package": cli_package_file(),
        "blas": blas_threads(), "numpy_early": NUMPY_WAS_IMPORTED, "load": [load_average()]}
    if not stamp["package"].startswith(str(ROOT)):
        raise RuntimeError(f"the subprocesses import bayesdose from {stamp['package']}, "
                           f"not from {ROOT}")
    print("1. bayesdose map", flush=True)
    map_result = time_map(runs["map"])
    split = map_split()
    print(f"  split: sample_map {split['sample']:.2f} s, automixfit {split['mixfit']:.2f} s",
          flush=True)
    print("2. recommend with a frozen prior", flush=True)
    cases = recommend_cases(derived_configs(map_result[1]))
    fast = [c for c in cases if c.key != "mixture+sensitivity"]
    time_recommend(fast, runs["recommend"])
    time_recommend([c for c in cases if c.key == "mixture+sensitivity"], runs["sensitivity"])
    floor = import_floor(runs["recommend"])
    for case in cases:
        pymc_check(case)
    print("3. recommend fitting by MCMC", flush=True)
    mcmc = time_mcmc_commands()
    stamp["load"].append(load_average())
    stamp["elapsed"] = time.perf_counter() - started
    write_atomically(args.output, render(stamp, map_result, split, cases, floor, mcmc,
                                         args.quick))
    print(f"wrote {args.output} in {stamp['elapsed']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
