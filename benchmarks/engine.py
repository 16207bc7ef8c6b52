"""Benchmarks of the inference engines; writes ``docs/engine-benchmarks.md``.

Run from the repository root::

    .venv/bin/python -m benchmarks.engine            # the full run, about 3 minutes
    .venv/bin/python -m benchmarks.engine --quick    # fewer repeats, for checking the script

Three measurements:

1. ``bayesdose recommend`` whole-process wall time per engine on both shipped examples
   (subprocesses of the installed console script), and the import-time breakdown of the exact
   path (``python -X importtime``).
2. Batched throughput of the exact engine, its construction time and the time of quantiles().
3. Accuracy of the exact engine against the brute-force reference versus grid size, and against
   a 0/1 indicator per cell instead of the cubic partial-cell rule.

BLAS is pinned to one thread (here and in every subprocess), so the numbers describe one core.
The page is written atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

# isort: off
import benchmarks.common  # noqa: F401  (first: pins BLAS to one thread before NumPy loads)
# isort: on

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bayesdose.data import read_trial_data  # noqa: E402
from bayesdose.inference.brute_force import BruteForcePosterior  # noqa: E402
from bayesdose.inference.exact import CHUNK, ERROR_BOUND, ExactEngine, GridSpec  # noqa: E402
from bayesdose.posterior import build_exact_engine  # noqa: E402
from bayesdose.schema import Design, load_design  # noqa: E402
from benchmarks.common import (  # noqa: E402
    NUMPY_WAS_IMPORTED,
    ROOT,
    THREAD_VARIABLES,
    Timing,
    blas_threads,
    fmt_rate,
    fmt_time,
    git_state,
    load_average,
    machine_stamp,
    subprocess_env,
    table,
    time_calls,
    versions_text,
    write_atomically,
)

OUTPUT = ROOT / "docs" / "engine-benchmarks.md"
BIN = Path(sys.executable).parent  # the venv's bin directory: python and the bayesdose script

EXAMPLES = {
    "NBG 2008": ("configs/nbg-2008.toml", "configs/examples/nbg-2008.csv"),
    "XJ-MK-002": ("configs/xj-mk-002.toml", "configs/examples/xj-mk-002.csv"),
}
GRIDS = [
    GridSpec(100, 30, 6.0),
    GridSpec(200, 40, 6.0),
    GridSpec(200, 60, 6.0),
    GridSpec(300, 60, 6.0),
    GridSpec(400, 120, 7.0),
]
DEFAULT_GRID = GridSpec()
NBG_ACCURACY_DOSES = (0, 3, 6, 9, 14)  # 1, 10, 25, 50 and 250 mg
SUMMARY_FIELDS = ("p_underdose", "p_target", "p_overdose", "mean", "sd")
INTERVAL_FIELDS = SUMMARY_FIELDS[:3]
# versions stamped on the page
PAGE_PACKAGES = ("bayesdose", "numpy", "scipy", "xarray", "pymc", "pytensor", "arviz")


# -- helpers ------------------------------------------------------------------------------


def fmt_err(value: float) -> str:
    return f"{value:.1e}"


def load_example(name: str) -> tuple[Design, np.ndarray, np.ndarray]:
    config, data = EXAMPLES[name]
    design = load_design(ROOT / config)
    trial = read_trial_data(ROOT / data, design)
    return design, np.asarray(trial.n), np.asarray(trial.dlt)


def engine_for(design: Design, grid: GridSpec = DEFAULT_GRID, cls=ExactEngine) -> ExactEngine:
    """A new engine (not the cached one: construction is timed) of class ``cls``, built as
    ``bayesdose.posterior.exact_engine`` builds it."""
    return build_exact_engine(design, grid, cls)


def random_counts(n_sets: int, n_doses: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """0..6 patients per dose, DLTs binomial with a rate rising from 2% to 60% along the panel."""
    rng = np.random.default_rng(seed)
    n = rng.integers(0, 7, size=(n_sets, n_doses))
    dlt = rng.binomial(n, np.linspace(0.02, 0.60, n_doses))
    return n, dlt


# -- 1. whole-process wall time -----------------------------------------------------------


def run_recommend(config: str, data: str, engine: str, env: dict[str, str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rec.json"
        cmd = [str(BIN / "bayesdose"), "recommend", config, data, "--engine", engine,
               "--json", str(out)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
        document = json.loads(out.read_text())
    return elapsed, document


def resampled(document: dict) -> bool:
    diagnostics = document.get("diagnostics", {})
    diagnostics = diagnostics.get("mcmc", diagnostics)
    return bool(diagnostics.get("resampled", False))


def pytensor_cache() -> tuple[str, int]:
    code = "import pytensor; print(pytensor.config.base_compiledir)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env())
    base = Path(proc.stdout.strip() or Path.home() / ".pytensor")
    files = sum(1 for p in base.rglob("*") if p.is_file()) if base.exists() else 0
    return str(base), files


def bench_cli(quick: bool) -> dict:
    repeats = {"exact": 2 if quick else 5, "mcmc": 1 if quick else 2, "both": 1 if quick else 2}
    env = subprocess_env()
    cache_dir, cache_files = pytensor_cache()
    rows = []
    for example, (config, data) in EXAMPLES.items():
        for engine, count in repeats.items():
            times, flags = [], []
            for _ in range(count):
                elapsed, document = run_recommend(config, data, engine, env)
                times.append(elapsed)
                flags.append(resampled(document))
                print(f"  recommend {example} --engine {engine}: {elapsed:.2f} s", flush=True)
            rows.append({"example": example, "engine": engine, "times": times,
                         "resampled": any(flags)})
    cold = None
    if not quick:
        with tempfile.TemporaryDirectory() as tmp:
            config, data = EXAMPLES["NBG 2008"]
            elapsed, document = run_recommend(
                config, data, "mcmc", subprocess_env(PYTENSOR_FLAGS=f"base_compiledir={tmp}"))
            cold = {"time": elapsed, "resampled": resampled(document)}
            print(f"  recommend NBG 2008 --engine mcmc, empty cache: {elapsed:.2f} s", flush=True)
    return {"rows": rows, "cold": cold, "cache_dir": cache_dir, "cache_files": cache_files}


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")
IMPORT_CODE = "import bayesdose.cli, bayesdose.designs.blrm.recommendation"


def parse_importtime(stderr: str) -> dict[str, tuple[int, int, int]]:
    """module -> (self us, cumulative us, depth) from ``-X importtime`` output."""
    modules = {}
    for match in IMPORT_LINE.finditer(stderr):
        self_us, cum_us, indent, name = match.groups()
        modules[name] = (int(self_us), int(cum_us), (len(indent) - 1) // 2)
    return modules


def summarise_imports(runs: list[dict[str, tuple[int, int, int]]]) -> dict:
    """Median over runs per module; the top 10 by cumulative time and self time by package."""
    names = set.intersection(*(set(r) for r in runs))
    median = {name: (statistics.median(r[name][0] for r in runs),
                     statistics.median(r[name][1] for r in runs),
                     runs[0][name][2]) for name in names}
    by_package: dict[str, float] = defaultdict(float)
    for name, (self_us, _, _) in median.items():
        by_package[name.split(".")[0]] += self_us
    return {
        "top": sorted(median.items(), key=lambda kv: -kv[1][1])[:10],
        "packages": sorted(by_package.items(), key=lambda kv: -kv[1])[:8],
        "total_self_us": sum(by_package.values()),
        "n_modules": len(median),
        "has": set(by_package),
        "cumulative_us": {name: cum for name, (_, cum, _) in median.items()},
    }


COMMAND_MARK = "--- the command starts ---"
STAGES_CODE = f"""
import time
t0 = time.perf_counter()
import bayesdose.cli, bayesdose.designs.blrm.recommendation
t1 = time.perf_counter()
import contextlib, io, json, sys
print({COMMAND_MARK!r}, file=sys.stderr, flush=True)
with contextlib.redirect_stdout(io.StringIO()):
    bayesdose.cli.main(sys.argv[1:], standalone_mode=False)
t2 = time.perf_counter()
print(json.dumps({{"imports": t1 - t0, "work": t2 - t1}}), file=sys.stderr)
"""


def bench_imports(quick: bool) -> dict:
    repeats = 2 if quick else 5
    env = subprocess_env()
    runs = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORT_CODE],
                              capture_output=True, text=True, env=env, check=True)
        runs.append(parse_importtime(proc.stderr))
    # Modules imported on first use while the command runs (after the two imports above).
    config, data = EXAMPLES["NBG 2008"]
    lazy_runs = []
    with tempfile.TemporaryDirectory() as tmp:
        args = ["recommend", config, data, "--engine", "exact", "--json", f"{tmp}/rec.json"]
        for _ in range(repeats):
            proc = subprocess.run([sys.executable, "-X", "importtime", "-c", STAGES_CODE, *args],
                                  cwd=ROOT, capture_output=True, text=True, env=env, check=True)
            lazy_runs.append(parse_importtime(proc.stderr.split(COMMAND_MARK, 1)[1]))

    def wall(code: str) -> Timing:
        return time_calls(lambda: subprocess.run([sys.executable, "-c", code], env=env,
                                                 check=True), repeats, warmup=1)

    return {**summarise_imports(runs), "lazy": summarise_imports(lazy_runs),
            "python_startup": wall("pass"), "import_wall": wall(IMPORT_CODE),
            "stages": exact_stages(repeats)}


def exact_stages(repeats: int) -> dict[str, Timing]:
    """The exact path of `recommend` on the NBG example split into stages, measured inside the
    process (imports, the command's work) and around it (the whole process)."""
    config, data = EXAMPLES["NBG 2008"]
    env = subprocess_env()
    stages = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        args = ["recommend", config, data, "--engine", "exact", "--json", f"{tmp}/rec.json"]
        for i in range(repeats + 1):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", STAGES_CODE, *args], cwd=ROOT, env=env,
                                  capture_output=True, text=True, check=True)
            whole = time.perf_counter() - start
            if i == 0:
                continue  # warm-up
            inside = json.loads(proc.stderr.strip().splitlines()[-1])
            stages["imports"].append(inside["imports"])
            stages["work"].append(inside["work"])
            stages["outside"].append(whole - inside["imports"] - inside["work"])
            stages["whole"].append(whole)
    return {name: Timing(tuple(times)) for name, times in stages.items()}


# -- 2. throughput ------------------------------------------------------------------------


def bench_throughput(quick: bool) -> dict:
    sizes = (1, 64, 1000) if quick else (1, 64, 1000, 10_000)
    return {example: _throughput_one(example, sizes, quick) for example in EXAMPLES}


def _throughput_one(example: str, sizes: tuple[int, ...], quick: bool) -> dict:
    repeats = {1: 30, 64: 30, 1000: 5, 10_000: 3}
    design, n_obs, dlt_obs = load_example(example)
    d = len(design.levels)
    build = time_calls(lambda: engine_for(design), 3 if quick else 5)
    engine = engine_for(design)
    n, dlt = random_counts(max(sizes), d, seed=20080101)
    rows = []
    for size in sizes:
        timing = time_calls(lambda size=size: engine.batch(n[:size], dlt[:size]),
                            2 if quick else repeats[size])
        rows.append((size, timing))
        print(f"  batch {example} N={size}: {timing.median:.4f} s", flush=True)
    quant = time_calls(lambda: engine.quantiles(n_obs, dlt_obs), 3 if quick else 10)
    return {"doses": d, "build": build, "rows": rows, "quantiles": quant}


# -- 3. accuracy --------------------------------------------------------------------------


class IndicatorEngine(ExactEngine):
    """The exact engine with the cubic partial-cell rule replaced by a 0/1 indicator per cell.

    Each cell of a row counts wholly (with its four-point cell-rule weights) if its midpoint
    lies below the threshold and not at all otherwise. The normalising constant, mean and sd
    are unchanged; only the interval probabilities differ. Relies on ExactEngine's private
    grid attributes, so a change to their names makes this fail loudly, not silently.
    """

    def _threshold_weights(self, c, doses):
        n = self.grid.n_alpha
        c = np.broadcast_to(np.asarray(c, dtype=float), doses.shape)
        logit_c = np.log(c) - np.log1p(-c)
        t = logit_c[:, None] - self._beta[None, :] * self.x[doses][:, None] - self._row_mean
        u = np.clip((t / self._row_sd - self._s0) / self._h, 0.0, n - 1.0)
        whole_cells = np.minimum(np.floor(u + 0.5).astype(np.int64), n - 1)
        return self._cumulative[whole_cells].reshape(doses.size, -1)


def accuracy_cases(quick: bool) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    nbg, nbg_n, nbg_dlt = load_example("NBG 2008")
    _, xj_n, xj_dlt = load_example("XJ-MK-002")
    d = len(nbg.levels)

    def counts(pairs: dict[int, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        n, y = np.zeros(d, int), np.zeros(d, int)
        for k, (nk, yk) in pairs.items():
            n[k], y[k] = nk, yk
        return n, y

    rand_n, rand_dlt = random_counts(2, d, seed=2008)
    cases = [
        ("no data", "NBG 2008", *counts({})),
        ("NBG 2008 history (18 patients)", "NBG 2008", nbg_n, nbg_dlt),
        ("all DLTs at the two lowest doses", "NBG 2008", *counts({0: (3, 3), 1: (3, 3)})),
        ("no DLT in 30 patients", "NBG 2008", *counts({k: (3, 0) for k in range(10)})),
        ("60 patients", "NBG 2008", *counts(
            {0: (3, 0), 3: (3, 0), 5: (6, 1), 6: (9, 2), 7: (15, 4), 8: (15, 5), 9: (9, 4)})),
        (f"random A ({rand_n[0].sum()} patients)", "NBG 2008", rand_n[0], rand_dlt[0]),
        (f"random B ({rand_n[1].sum()} patients)", "NBG 2008", rand_n[1], rand_dlt[1]),
        ("XJ-MK-002 example (4 patients)", "XJ-MK-002", xj_n, xj_dlt),
    ]
    return cases[:3] + cases[-1:] if quick else cases


def reference_values(design: Design, n, dlt, doses) -> dict[str, np.ndarray]:
    low, high = design.decision.target_interval
    ref = BruteForcePosterior(design.dlt_model, design.prior, n, dlt)
    out = defaultdict(list)
    for dose in doses:
        below_low, below_high = ref.prob_below(dose, low), ref.prob_below(dose, high)
        m1, m2 = ref.moment(dose, 1), ref.moment(dose, 2)
        out["p_underdose"].append(below_low)
        out["p_target"].append(below_high - below_low)
        out["p_overdose"].append(1.0 - below_high)
        out["mean"].append(m1)
        out["sd"].append(np.sqrt(max(m2 - m1 * m1, 0.0)))
    return {k: np.array(v) for k, v in out.items()}


def errors_of(engine: ExactEngine, n, dlt, doses, reference) -> dict[str, float]:
    summary = engine.batch(n[None], dlt[None])
    return {name: float(np.max(np.abs(getattr(summary, name)[0, list(doses)] - reference[name])))
            for name in SUMMARY_FIELDS}


def bench_accuracy(quick: bool) -> dict:
    designs = {name: load_example(name)[0] for name in EXAMPLES}
    cases = accuracy_cases(quick)
    doses_of = {"NBG 2008": NBG_ACCURACY_DOSES,
                "XJ-MK-002": tuple(range(len(designs["XJ-MK-002"].levels)))}
    start = time.perf_counter()
    references = []
    for label, example, n, dlt in cases:
        references.append(reference_values(designs[example], n, dlt, doses_of[example]))
        print(f"  reference: {label}", flush=True)
    reference_time = time.perf_counter() - start
    n_calls = sum(4 * len(doses_of[example]) for _, example, _, _ in cases)

    nbg = designs["NBG 2008"]
    batch_n, batch_dlt = random_counts(1000, len(nbg.levels), seed=7)
    grid_rows = []
    per_case: dict[str, dict[str, float]] = {label: {} for label, *_ in cases}
    for grid in GRIDS:
        engines = {name: engine_for(designs[name], grid) for name in EXAMPLES}
        worst = dict.fromkeys(SUMMARY_FIELDS, 0.0)
        for (label, example, n, dlt), ref in zip(cases, references, strict=True):
            errs = errors_of(engines[example], n, dlt, doses_of[example], ref)
            worst = {k: max(worst[k], errs[k]) for k in SUMMARY_FIELDS}
            if grid == DEFAULT_GRID:
                per_case[label]["cubic"] = max(errs[k] for k in INTERVAL_FIELDS)
                per_case[label]["moments"] = max(errs["mean"], errs["sd"])
        build = time_calls(lambda grid=grid: engine_for(nbg, grid), 1 if quick else 3)
        batch = time_calls(lambda e=engines["NBG 2008"]: e.batch(batch_n, batch_dlt),
                           1 if quick else 3)
        grid_rows.append({"grid": grid, "worst": worst, "build": build, "batch": batch})
        print(f"  grid {grid}: worst {max(worst.values()):.2e}", flush=True)

    indicator = {name: engine_for(designs[name], DEFAULT_GRID, IndicatorEngine)
                 for name in EXAMPLES}
    indicator_worst = dict.fromkeys(INTERVAL_FIELDS, 0.0)
    for (label, example, n, dlt), ref in zip(cases, references, strict=True):
        errs = errors_of(indicator[example], n, dlt, doses_of[example], ref)
        indicator_worst = {k: max(indicator_worst[k], errs[k]) for k in INTERVAL_FIELDS}
        per_case[label]["indicator"] = max(errs[k] for k in INTERVAL_FIELDS)
    return {"cases": cases, "grid_rows": grid_rows, "indicator": indicator_worst,
            "per_case": per_case, "reference_time": reference_time, "n_calls": n_calls,
            "doses_of": doses_of, "designs": designs}


# -- the page -----------------------------------------------------------------------------


def import_table(top) -> str:
    return table(["module", "depth", "cumulative", "self"],
                 [[f"`{name}`", str(depth), fmt_time(cum / 1e6), fmt_time(own / 1e6)]
                  for name, (own, cum, depth) in top])


def package_table(summary: dict) -> str:
    return table(["package", "self time, all its modules", "share"],
                 [[f"`{pkg}`", fmt_time(us / 1e6), f"{us / summary['total_self_us']:.0%}"]
                  for pkg, us in summary["packages"]])


def package_list(summary: dict) -> str:
    return ", ".join(f"`{pkg}` ({us / summary['total_self_us']:.0%})"
                     for pkg, us in summary["packages"][:3])


def section_cli(cli: dict, imports: dict, throughput: dict) -> str:
    rows = []
    by_key = {}
    for row in cli["rows"]:
        times = row["times"]
        first, later = times[0], times[1:]
        by_key[row["example"], row["engine"]] = row
        rows.append([
            row["example"], f"`{row['engine']}`", str(len(times)), fmt_time(first),
            fmt_time(statistics.median(later)) if later else "–",
            fmt_time(min(later)) if later else "–",
            fmt_time(min(times)),
            "yes" if row["resampled"] else "no" if row["engine"] != "exact" else "–",
        ])
    header = ["example", "engine", "runs", "first run", "later runs: median", "later runs: min",
              "min of all", "MCMC resampled"]

    def steady(example: str, engine: str) -> float:
        times = by_key[example, engine]["times"]
        return statistics.median(times[1:] or times)

    exact_med = {ex: statistics.median(by_key[ex, "exact"]["times"]) for ex in EXAMPLES}
    mcmc_warm = {ex: steady(ex, "mcmc") for ex in EXAMPLES}
    both_minus_mcmc = {ex: steady(ex, "both") - mcmc_warm[ex] for ex in EXAMPLES}
    startup, import_wall = imports["python_startup"].median, imports["import_wall"].median
    stages = imports["stages"]
    lazy = imports["lazy"]
    nbg = throughput["NBG 2008"]
    compute = nbg["build"].median + nbg["rows"][0][1].median + nbg["quantiles"].median
    nbg_exact = exact_med["NBG 2008"]
    parts = [
        "## 1. `bayesdose recommend`: whole-process wall time",
        "",
        "Each run is a fresh process of the installed console script, "
        "`bayesdose recommend CONFIG DATA --engine ENGINE --json OUT` on a shipped example "
        "(`configs/nbg-2008.toml` with `configs/examples/nbg-2008.csv`, 15 doses, 18 patients; "
        "`configs/xj-mk-002.toml` with `configs/examples/xj-mk-002.csv`, 3 doses, 4 patients), "
        "timed from launch to exit. The MCMC engine runs 4 chains x (1000 tuning + 1000 "
        "draws) of NUTS one after another (`cores=1`). \"First run\" is the first run of that "
        "example and engine in this session, with the PyTensor cache as found "
        f"(`{cli['cache_dir']}`, {cli['cache_files']} files at the start, i.e. "
        f"{'already warm' if cli['cache_files'] > 20 else 'cold or nearly empty'}); "
        "the later runs show the steady state.",
        "",
        table(header, rows, align="llrrrrrl"),
        "",
    ]
    if cli["cold"] is not None:
        cold = cli["cold"]
        parts += [
            "With an empty PyTensor cache (`PYTENSOR_FLAGS=base_compiledir=<new temporary "
            "directory>`, as on the first MCMC run after installing), `recommend --engine mcmc` "
            f"on the NBG example took **{fmt_time(cold['time'])}**"
            f"{' (resampled)' if cold['resampled'] else ''}, against "
            f"{fmt_time(mcmc_warm['NBG 2008'])} with the warm cache: compiling the model's "
            f"functions (numba) costs about {fmt_time(cold['time'] - mcmc_warm['NBG 2008'])} "
            "once, and is cached on disk after that.",
            "",
        ]
    exact_min = {ex: min(by_key[ex, "exact"]["times"]) for ex in EXAMPLES}
    exact_text = " and ".join(f"{fmt_time(exact_med[ex])} ({ex}; fastest {fmt_time(exact_min[ex])})"
                              for ex in EXAMPLES)
    mcmc_text = " and ".join(f"{fmt_time(t)} ({ex})" for ex, t in mcmc_warm.items())
    diff_text = " and ".join(f"{d:+.2f} s" for d in both_minus_mcmc.values())
    parts += [
        f"The exact engine answers in **{exact_text}** end to end (medians). MCMC takes "
        f"**{mcmc_text}** with a warm cache (median of "
        f"the later runs), about {mcmc_warm['NBG 2008'] / nbg_exact:.0f} times as long as "
        f"exact. `both` differs from `mcmc` by {diff_text}: the exact engine's extra cost is "
        "within the run-to-run variation of MCMC.",
        "",
        "Where the exact path's time goes (NBG example; the same command run as "
        "`python -c` with timers inside the process, "
        f"{len(stages['whole'].times)} runs after a warm-up):",
        "",
        table(["stage", "median", "min"], [
            ["interpreter start-up and shutdown (whole process minus the two below)",
             fmt_time(stages["outside"].median), fmt_time(stages["outside"].min)],
            ["`import bayesdose.cli, bayesdose.designs.blrm.recommendation`",
             fmt_time(stages["imports"].median), fmt_time(stages["imports"].min)],
            ["the command: read config and data, exact engine, decision, table, JSON",
             fmt_time(stages["work"].median), fmt_time(stages["work"].min)],
            ["whole process", fmt_time(stages["whole"].median), fmt_time(stages["whole"].min)],
        ]),
        "",
        f"Imports are {stages['imports'].median / stages['whole'].median:.0%} of the exact "
        f"path's wall time; modules first imported inside the command add "
        f"{fmt_time(lazy['total_self_us'] / 1e6)} (below). The exact engine itself "
        f"(construction, one summary and the quantiles; section 2) is only about "
        f"{fmt_time(compute)}; `python -c pass` alone takes {fmt_time(startup)}, so most of the "
        "start-up-and-shutdown row is tearing down the ~800 imported modules.",
        "",
        "### Import time of the exact path",
        "",
        f"`python -X importtime -c \"{IMPORT_CODE}\"`, median of "
        f"{len(imports['python_startup'].times)} runs ({imports['n_modules']} modules). "
        "Wall time of the same command without `-X importtime`: "
        f"{fmt_time(import_wall)} (median; `python -c pass` alone: {fmt_time(startup)}).",
        "",
        "Top 10 modules by cumulative import time (a module's time includes everything it "
        "imports, so the rows nest; depth 0 is a top-level import):",
        "",
        import_table(imports["top"]),
        "",
        "Self time summed over each top-level package (where the time goes, without nesting):",
        "",
        package_table(imports),
        "",
        f"Most of it is {package_list(imports)}; `xarray`, which loads `pandas`, is imported "
        "for the summary Dataset. PyMC is "
        + ("not " if "pymc" not in imports["has"] | lazy["has"] else "")
        + "imported on the exact path.",
        "",
        "Modules imported on first use while the command runs (after the two imports above; "
        "the same `-X importtime` measurement on the full `recommend --engine exact` command, "
        f"{lazy['n_modules']} modules, {fmt_time(lazy['total_self_us'] / 1e6)} in total):",
        "",
        import_table(lazy["top"]),
        "",
        package_table(lazy),
        "",
    ]
    if lazy["total_self_us"] < 50_000:
        parts += ["Nothing heavy is imported on first use: the command's time is its own work.",
                  ""]
    if "dask" in lazy["has"]:
        parts += [
            "Because `dask` is installed in the environment, xarray imports `dask.array` (and "
            "with it `scipy.fft` and `scipy.special`) the first time it builds a Dataset, to "
            "check whether the data are dask arrays; this happens inside "
            "`bayesdose.posterior._dataset` on every `recommend` call. These first-use imports "
            f"take {fmt_time(lazy['total_self_us'] / 1e6)}, against "
            f"{fmt_time(imports['cumulative_us'].get('xarray', 0) / 1e6)} for importing "
            "xarray itself.",
            "",
        ]
    return "\n".join(parts)


def section_throughput(results: dict) -> str:
    rows = []
    for example, res in results.items():
        for size, timing in res["rows"]:
            rows.append([example, str(res["doses"]), f"{size:,}", fmt_time(timing.median),
                         fmt_time(timing.min), fmt_rate(size / timing.median),
                         fmt_time(timing.median / size)])
    other = [[example, fmt_time(res["build"].median), fmt_time(res["build"].min),
              fmt_time(res["quantiles"].median), fmt_time(res["quantiles"].min)]
             for example, res in results.items()]
    largest = {ex: res["rows"][-1] for ex, res in results.items()}
    text = "; ".join(f"{fmt_rate(size / t.median)} data sets per second on {ex} "
                     f"({res['doses']} doses)"
                     for (ex, (size, t)), res in zip(largest.items(), results.values(),
                                                     strict=True))
    biggest = max(size for size, _ in next(iter(results.values()))["rows"])
    return "\n".join([
        "## 2. Exact engine: batched throughput",
        "",
        "`ExactEngine.batch(n, dlt)` on the default grid (200 x 60, width 6: 12,000 nodes) for "
        "random count data: 0 to 6 patients per dose, DLTs binomial with a rate rising from 2% "
        "to 60% along the panel. One \"summary\" is the full set of per-dose results for one data "
        "set (mean, sd, P(under-dosing), P(target), P(overdosing) at every dose). Median and "
        "minimum over repeated calls after one warm-up call (30 repeats for batches of 1 and 64, "
        "5 for 1,000, 3 for 10,000).",
        "",
        table(["design", "doses", "batch size", "median", "min", "summaries / s (median)",
               "per data set"], rows),
        "",
        f"At a batch of {biggest:,}: {text}. A batch of 1 costs what a batch of "
        f"{CHUNK} costs, because data sets are processed in fixed chunks of {CHUNK} (which "
        "keeps results bit-for-bit independent of the batch), and a batch of several chunks "
        "runs them on a thread per core; simulations should call `batch()` with many data sets "
        "at once. The cost is dominated by the log-likelihood product, the exponential and the "
        "functional product over the 12,000 grid nodes, so it depends only weakly on the "
        "number of doses.",
        "",
        "One-off engine construction (grid, log-likelihood terms and the precomputed "
        "functional matrix) and `quantiles()` for the shipped example's data (2.5%, 50%, 97.5% "
        "at every dose, 40 bisection steps):",
        "",
        table(["design", "construction: median", "min", "quantiles(): median", "min"], other),
        "",
        "Construction is paid once per design and grid (`bayesdose.posterior.exact_engine` "
        "caches it); `quantiles()` is only needed for the one data set being reported.",
        "",
    ])


def section_accuracy(acc: dict) -> str:
    nbg = acc["designs"]["NBG 2008"]
    nbg_doses = ", ".join(f"{nbg.levels[k]:g}" for k in acc["doses_of"]["NBG 2008"])
    default_row = next(r for r in acc["grid_rows"] if r["grid"] == DEFAULT_GRID)
    rows = []
    for r in acc["grid_rows"]:
        g = r["grid"]
        label = f"{g.n_alpha} x {g.n_beta}, width {g.width:g}"
        if g == DEFAULT_GRID:
            label = f"**{label} (default)**"
        rows.append([label, f"{g.n_alpha * g.n_beta:,}",
                     *[fmt_err(r["worst"][k]) for k in SUMMARY_FIELDS],
                     fmt_err(max(r["worst"].values())),
                     fmt_time(r["batch"].median), fmt_time(r["build"].median)])
    ind = acc["indicator"]
    rows.append([
        "200 x 60, width 6, **0/1 indicator per cell**", "12,000",
        *[fmt_err(ind[k]) for k in INTERVAL_FIELDS], "(same)", "(same)",
        fmt_err(max(ind.values())), "(same)", "(same)",
    ])
    case_rows = [[label, fmt_err(v["cubic"]), fmt_err(v["indicator"]), fmt_err(v["moments"])]
                 for label, v in acc["per_case"].items()]
    default_interval = max(default_row["worst"][k] for k in INTERVAL_FIELDS)
    default_worst = max(default_row["worst"].values())
    ratio = max(ind.values()) / default_interval
    hardest = max(acc["per_case"], key=lambda label: acc["per_case"][label]["cubic"])
    coarse = acc["grid_rows"][0]
    fine = acc["grid_rows"][-1]
    return "\n".join([
        "## 3. Exact engine: accuracy against grid size",
        "",
        "Worst absolute error against the brute-force reference "
        "(`bayesdose/inference/brute_force.py`, composite Gauss-Legendre in the model's own "
        "coordinates, split exactly at each interval bound, accurate to about 1e-12) over "
        f"{len(acc['cases'])} data sets, at doses {nbg_doses} mg of the NBG 2008 panel and at "
        "all three doses of XJ-MK-002. The reference was computed once per data set and dose "
        f"({acc['n_calls']} brute-force integrals, {fmt_time(acc['reference_time'])}) and "
        "reused for every grid. The last two columns are the time of `batch()` for 1,000 random "
        "NBG data sets and the engine's construction time (medians).",
        "",
        table(["grid (n_alpha x n_beta)", "nodes", "p_underdose", "p_target", "p_overdose",
               "mean", "sd", "worst", "batch of 1,000", "construction"], rows),
        "",
        f"At the default grid the worst error of any reported number is "
        f"**{fmt_err(default_worst)}**, "
        f"{ERROR_BOUND / default_worst:.0f} times below the engine's stated bound "
        f"(`ERROR_BOUND` = {ERROR_BOUND:g}, used to flag borderline EWOC decisions). The "
        "interval probabilities carry the error (mean and sd: at most "
        f"{fmt_err(max(default_row['worst']['mean'], default_row['worst']['sd']))} on the "
        "default grid); the worst error falls from "
        f"{fmt_err(max(coarse['worst'].values()))} on the coarsest grid to "
        f"{fmt_err(max(fine['worst'].values()))} on the finest, which costs "
        f"{fine['batch'].median / default_row['batch'].median:.1f} times as much per batch. "
        "Replacing the cubic partial-cell rule by a 0/1 indicator per cell (a cell counts "
        "wholly if its midpoint is below the threshold) on the same default grid gives "
        f"**{fmt_err(max(ind.values()))}**, {ratio:,.0f} times worse"
        + (", above the stated bound," if max(ind.values()) > ERROR_BOUND else "")
        + " at the same cost (only the precomputed weights differ).",
        "",
        "Per data set, default grid (interval probabilities: cubic rule and indicator rule; "
        "mean and sd are the same under both):",
        "",
        table(["data set", "interval probabilities, cubic rule", "indicator rule",
               "mean and sd"], case_rows),
        "",
        f"The hardest case for the cubic rule is \"{hardest}\"; the indicator rule's error is "
        "largest where much posterior mass lies near a threshold and, at the reference dose "
        "(x = 0: 250 mg, 3e8 cells), where the threshold falls at the same place in every "
        "row, so its rounding errors do not average out across rows.",
        "",
    ])


def render(stamp: dict, cli: dict, imports: dict, throughput: dict, acc: dict,
           quick: bool) -> str:
    load = stamp["load"]
    lines = [
        "# Engine benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks.engine`; do not edit by hand. -->",
        "",
        "How long `bayesdose recommend` takes with each engine, how fast the exact engine is "
        "when batched (as in simulations), and how accurate it is against grid size. "
        "Reproduce with `cd <repo> && .venv/bin/python -m benchmarks.engine` (this run took "
        f"{stamp['elapsed'] / 60:.1f} minutes); it rewrites this page.",
        "",
    ]
    if quick:
        lines += ["> **Quick mode** (`--quick`): reduced repeats and data sets; do not cite "
                  "these numbers.", ""]
    lines += [
        f"- Date: {stamp['date']} (UTC); repository at {stamp['git']}",
        f"- Machine: {stamp['machine']['cpu']}, {stamp['machine']['nproc']} CPUs available "
        f"(nproc), {stamp['machine']['ram']} RAM; Linux {platform.release()}",
        f"- Python {platform.python_version()}; {stamp['versions']}",
        "- BLAS pinned to one thread: "
        + ", ".join(f"`{v}=1`" for v in THREAD_VARIABLES)
        + " set before numpy is imported and passed to every subprocess "
        f"(threadpoolctl: {stamp['blas']}). All timings use `time.perf_counter`; "
        "median and minimum of repeated runs.",
        f"- Load average (1 min) at start {load[0]}, at end {load[1]}: other work "
        "may share the machine, so the minimum is the better estimate of the undisturbed cost "
        "and the median of the typical one.",
        "",
    ]
    if stamp["numpy_early"]:
        lines += ["> Warning: numpy was imported before the thread pinning took effect.", ""]
    lines += [section_cli(cli, imports, throughput), section_throughput(throughput),
              section_accuracy(acc)]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and data sets (to check the script, not to cite)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    load_start = load_average()
    stamp = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine_stamp(),
        "versions": versions_text(PAGE_PACKAGES),
        "git": git_state(),
        "blas": blas_threads(),
        "numpy_early": NUMPY_WAS_IMPORTED,
    }
    print("1. recommend wall time", flush=True)
    cli = bench_cli(args.quick)
    imports = bench_imports(args.quick)
    print("2. throughput", flush=True)
    throughput = bench_throughput(args.quick)
    print("3. accuracy", flush=True)
    acc = bench_accuracy(args.quick)
    stamp["load"] = (load_start, load_average())
    stamp["elapsed"] = time.perf_counter() - started
    write_atomically(args.output, render(stamp, cli, imports, throughput, acc, args.quick))
    print(f"wrote {args.output} in {stamp['elapsed']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
