"""Operating characteristics of every design on the benchmark scenarios; writes
``docs/oc-benchmarks.md`` and its figures.

Run from the repository root::

    .venv/bin/python -m benchmarks.oc                     # exact where possible (the default)
    .venv/bin/python -m benchmarks.oc --method simulate   # 4,000 simulated trials per design

Three scenario sets, each with its design:

- ``configs/scenarios/benchmark-5dose.toml`` with ``configs/standard-5dose.toml`` (5 doses,
  target 0.30, cohorts of 3, 30 patients);
- ``configs/scenarios/benchmark-6dose.toml`` with the same config given a sixth dose (32 mg),
  target 0.20 and target interval [0.10, 0.25) (``SIX_DOSE_CHANGES``);
- the seed trial's ``configs/scenarios/xj-mk-002.toml`` with ``configs/xj-mk-002.toml``.

Every design of the registry (BLRM-EWOC, 3+3, 3+3 with de-escalation, CRM, BOIN) runs beside
the nonparametric optimal benchmark (O'Quigley, Paoletti & Maccario 2002). ``--method auto``
computes the operating characteristics exactly (walking the tree of trial states: no Monte
Carlo error) when the tree is small enough and otherwise simulates ``--trials`` trials; the page
says which method produced each set. The calibration scenarios
(``configs/scenarios/calibration-5dose.toml``) are deliberately not used here.
"""

from __future__ import annotations

# isort: off
import benchmarks.common  # noqa: F401  (first: pins BLAS to one thread before NumPy loads)
# isort: on

import argparse  # noqa: E402
import copy  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from bayesdose.designs.registry import BENCHMARK, DESIGNS, colour, label  # noqa: E402
from bayesdose.schema import Design, design_from_dict, read_toml  # noqa: E402
from bayesdose.simulation.scenarios import Scenario, load_scenarios  # noqa: E402
from bayesdose.simulation.study import run_study  # noqa: E402
from benchmarks.common import (  # noqa: E402
    ROOT,
    machine_text,
    table,
    versions_text,
    write_atomically,
)

PAGE = ROOT / "docs" / "oc-benchmarks.md"
FIGURES = ROOT / "docs" / "figures"
SEED = 20240601
TRIALS = 4000
NAMES = list(DESIGNS)  # blrm, 3+3, 3+3-deesc, crm, boin
# The 6-dose design: standard-5dose.toml with these changes (the dfcrm crmsim example's target).
SIX_DOSE_CHANGES: dict[str, dict[str, Any]] = {
    "trial": {"name": "Benchmark 6-dose design"},
    "doses": {"levels": [1, 2, 4, 8, 16, 32]},
    "decision": {"target": 0.20, "target_interval": [0.10, 0.25]},
}

PAGE_PACKAGES = ("bayesdose", "numpy", "scipy", "matplotlib")  # versions stamped on the page


XJ_NOTE = (
    " The designs here decide on complete follow-up (each cohort's DLT window over before the"
    " next); the config's accelerated titration (one patient at the lowest dose) applies. Time"
    " on study, TITE and waiting are not simulated here (`run_study(..., time=False)`): see"
    " [XJ-MK-002](xj-mk-002.md)."
)


@dataclass(frozen=True)
class ScenarioSet:
    """A scenario file and the design it is run with."""

    key: str
    title: str
    config: Path
    scenarios: Path
    changes: dict[str, dict[str, Any]] | None = None

    def design(self) -> Design:
        raw = read_toml(self.config)
        for section, values in (self.changes or {}).items():
            raw = copy.deepcopy(raw)
            raw.setdefault(section, {}).update(values)
        return design_from_dict(raw, str(self.config))

    def load(self, design: Design) -> list[Scenario]:
        return load_scenarios(self.scenarios, len(design.levels))


SETS = [
    ScenarioSet("5dose", "5 doses, target 0.30", ROOT / "configs" / "standard-5dose.toml",
                ROOT / "configs" / "scenarios" / "benchmark-5dose.toml"),
    ScenarioSet("6dose", "6 doses, target 0.20", ROOT / "configs" / "standard-5dose.toml",
                ROOT / "configs" / "scenarios" / "benchmark-6dose.toml", SIX_DOSE_CHANGES),
    ScenarioSet("xj", "XJ-MK-002 (3 doses, target 0.25)", ROOT / "configs" / "xj-mk-002.toml",
                ROOT / "configs" / "scenarios" / "xj-mk-002.toml"),
]


@dataclass
class SetResult:
    """The study of one scenario set."""

    spec: ScenarioSet
    design: Design
    summary: dict
    seconds: float

    @property
    def method(self) -> str:
        return self.summary["method"]


def run_set(spec: ScenarioSet, method: str, trials: int, seed: int, workers: int) -> SetResult:
    design = spec.design()
    scenarios = spec.load(design)
    start = time.perf_counter()
    # time=False: the durations XJ-MK-002's [simulation] states are not compared here
    result = run_study(design, scenarios, NAMES, trials, seed, method, workers, time=False)
    return SetResult(spec, design, result.summary, time.perf_counter() - start)


# -- numbers --------------------------------------------------------------------------------

# (summary key, column header, format): what every table shows, per design.
COLUMNS: list[tuple[str, str, str]] = [
    ("pcs", "PCS", "pct"),
    ("pcs_rel", "PCS / optimal", "ratio"),
    ("p_select_target_interval", "sel. in interval", "pct"),
    ("select_none", "no dose", "pct"),
    ("select_above_mtd", "sel. above MTD", "pct"),
    ("p_at_mtd", "pts at MTD", "pct"),
    ("p_above_mtd", "pts above MTD", "pct"),
    ("dlt_rate", "DLT rate", "pct"),
    ("n_mean", "mean N", "num"),
    ("accuracy_index", "AI", "ai"),
    ("ai_gap", "AI - AI(opt.)", "ai"),
]


def design_row(entry: dict, name: str) -> dict[str, float]:
    """The operating characteristics of one design in one scenario, with the two numbers
    relative to the optimal benchmark."""
    oc = entry["designs"][name]
    opt = entry["designs"][BENCHMARK]
    row = {key: _number(oc.get(key)) for key, _, _ in COLUMNS}
    row["pcs_rel"] = oc["pcs"] / opt["pcs"] if opt["pcs"] > 0 else float("nan")
    row["ai_gap"] = row["accuracy_index"] - _number(opt.get("accuracy_index"))
    for key in ("p_at_mtd", "p_above_mtd", "dlt_rate", "n_mean"):
        if name == BENCHMARK:
            row[key] = float("nan")  # the benchmark treats no patients
    return row


def _number(value: float | None) -> float:
    """A summary value as a float; absent or None (undefined) is NaN."""
    return float("nan") if value is None else float(value)


def averages(results: list[SetResult], name: str) -> dict[str, float]:
    """Mean of every column over all scenarios of ``results`` (NaN ignored)."""
    rows = [design_row(entry, name) for r in results for entry in r.summary["scenarios"]]
    out = {}
    for key, _, _ in COLUMNS:
        values = np.array([row[key] for row in rows], float)
        out[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return out


def fmt(value: float | None, kind: str) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "ai":
        return f"{value:+.2f}"
    return f"{value:.1f}"


def oc_table(rows: dict[str, dict[str, float]], method: str | None = None) -> str:
    header = ["design", *(h for _, h, _ in COLUMNS)]
    if method:
        header.append("method")
    body = []
    for name, row in rows.items():
        cells = [label(name), *(fmt(row[k], kind) for k, _, kind in COLUMNS)]
        if method:
            cells.append(method)
        body.append(cells)
    return table(header, body)


# -- figures --------------------------------------------------------------------------------


def figure_pcs(results: list[SetResult], path: Path) -> None:
    """Probability of correct selection per scenario and design, one panel per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "bayesdose"
    names = [*NAMES, BENCHMARK]
    widths = [max(len(r.summary["scenarios"]), 4) for r in results]
    fig, axes = plt.subplots(1, len(results), figsize=(12, 4.2), sharey=True,
                             gridspec_kw={"width_ratios": widths})
    width = 0.8 / len(names)
    for ax, result in zip(axes, results, strict=True):
        entries = result.summary["scenarios"]
        x = np.arange(len(entries))
        for j, name in enumerate(names):
            pcs = [e["designs"][name]["pcs"] for e in entries]
            ax.bar(x + (j - (len(names) - 1) / 2) * width, pcs, width, label=label(name),
                   color=colour(name))
        ax.set_xticks(x, [e["name"] for e in entries], rotation=45, fontsize=8)
        ax.set_title(result.spec.title.replace(" (", "\n("), fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("P(correct selection)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=len(names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def figure_tradeoff(results: list[SetResult], path: Path) -> None:
    """Mean PCS against the mean share of patients above the MTD, per design."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "bayesdose"
    literature = [r for r in results if r.spec.key != "xj"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for j, name in enumerate(NAMES):
        mean = averages(literature, name)
        ax.scatter(100 * mean["p_above_mtd"], 100 * mean["pcs"], s=60, color=colour(name))
        ax.annotate(label(name), (100 * mean["p_above_mtd"], 100 * mean["pcs"]),
                    textcoords="offset points", xytext=(-8, 8 if j % 2 == 0 else -14),
                    ha="right", fontsize=8)
    ax.margins(x=0.25, y=0.15)
    opt = 100 * averages(literature, BENCHMARK)["pcs"]
    ax.axhline(opt, color=colour(BENCHMARK), ls="--", lw=1)
    ax.annotate("optimal benchmark", (ax.get_xlim()[0], opt), textcoords="offset points",
                xytext=(4, 4), fontsize=8, color=colour(BENCHMARK))
    ax.set_xlabel("patients above the MTD (%, mean over scenarios)")
    ax.set_ylabel("P(correct selection) (%, mean)")
    ax.set_title("18 literature scenarios (5 and 6 doses)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


# -- page ------------------------------------------------------------------------------------


def describe_method(result: SetResult, trials: int, seed: int) -> str:
    if result.method == "exact":
        return "exact (tree of trial states; no Monte Carlo error, standard errors 0)"
    return f"simulated, {trials:,} trials per design, seed {seed} (common random numbers)"


def scenario_section(result: SetResult, trials: int, seed: int) -> str:
    design = result.design
    rel = result.spec.scenarios.relative_to(ROOT)
    note = XJ_NOTE if result.spec.key == "xj" else ""
    lines = [f"## {result.spec.title}", "",
             f"Scenarios `{rel}`; design `{result.spec.config.relative_to(ROOT)}`"
             + (" with " + ", ".join(f"`[{s}] {k} = {v}`" for s, kv in
                                     (result.spec.changes or {}).items() for k, v in kv.items()
                                     if s != "trial")
                if result.spec.changes else "")
             + f": {len(design.levels)} doses, cohorts of {design.cohorts.size}, at most "
             f"{design.stopping.max_patients} patients, target {design.decision.target:.2f}, "
             f"target interval {list(design.decision.target_interval)}. Method: "
             f"{describe_method(result, trials, seed)}; {result.seconds:.1f} s." + note, ""]
    names = [*NAMES, BENCHMARK]
    lines += ["Mean over the scenarios of this set:", "",
              oc_table({n: averages([result], n) for n in names}), ""]
    for entry in result.summary["scenarios"]:
        mtd = entry["true_mtd"]
        p = ", ".join(f"{v:.2f}" for v in entry["p_true"])
        lines += [f"### {entry['name']}: p_true = [{p}], true MTD "
                  + ("none" if mtd is None else f"dose {mtd}"), "",
                  oc_table({n: design_row(entry, n) for n in names}), ""]
    return "\n".join(lines)


def render(results: list[SetResult], trials: int, seed: int, seconds: float) -> str:
    literature = [r for r in results if r.spec.key != "xj"]
    n_lit = sum(len(r.summary["scenarios"]) for r in literature)
    mean = {n: averages(literature, n) for n in [*NAMES, BENCHMARK]}
    blrm, ttt = mean["blrm"], mean["3+3"]
    methods = "; ".join(f"{r.spec.title}: {r.method}" for r in results)
    comparison = (
        f"BLRM-EWOC against 3+3: probability of correct selection **{100 * blrm['pcs']:.1f}%** "
        f"against **{100 * ttt['pcs']:.1f}%**; share of patients above the MTD "
        f"{100 * blrm['p_above_mtd']:.1f}% against {100 * ttt['p_above_mtd']:.1f}%; selections "
        f"above the MTD {100 * blrm['select_above_mtd']:.1f}% against "
        f"{100 * ttt['select_above_mtd']:.1f}%; mean sample size {blrm['n_mean']:.1f} against "
        f"{ttt['n_mean']:.1f}. The optimal benchmark reaches {100 * mean[BENCHMARK]['pcs']:.1f}%; "
        "the averages of PCS / optimal and AI - AI(opt.) are means of the per-scenario values."
    )
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    head = f"""# Operating characteristics: the designs against the optimal benchmark

<!-- Generated by `python -m benchmarks.oc`; do not edit by hand. -->

How often each design finds the maximum tolerated dose (MTD), how many patients it treats at
and above it, and how close it comes to the nonparametric optimal benchmark (O'Quigley,
Paoletti & Maccario 2002), on {n_lit} scenarios of the dose-finding literature over 5 and 6 doses
and the 3 scenarios of the seed trial XJ-MK-002. Reproduce with
`cd <repo> && .venv/bin/python -m benchmarks.oc` (this run took {seconds:.0f} s); it rewrites
this page and its figures.

- Date: {date} (UTC); {machine_text()}
- Python {platform.python_version()}; {versions_text(PAGE_PACKAGES)}; BLAS pinned to one thread
  (`OPENBLAS_NUM_THREADS=1`).
- Designs: BLRM-EWOC (`blrm`, the default derived prior), `3+3`, `3+3-deesc`, `crm`
  (dfcrm-style, empiric model, `getprior` skeleton), `boin` (BOIN 2.7.2 rules), and the
  `optimal` benchmark from the same patients. Definitions of every column:
  [simulation studies](simulation.md#operating-characteristics).
- Method per set ({methods}): exact results have no Monte Carlo error; a set too large for
  the exact method is simulated, {trials:,} trials per design, seed {seed}, with common random
  numbers.
- Scenario sources: `configs/scenarios/benchmark-5dose.toml` and `benchmark-6dose.toml` say
  which scenarios are taken verbatim from a published source (the BOIN `get.oc` example, the
  simFastBOIN vignette, dfcrm's `crmsim` example) and which we constructed in the usual pattern.
  The BLRM's default prior was calibrated on other scenarios
  (`configs/scenarios/calibration-5dose.toml`, [calibration](calibration.md)), never on these.

## Summary

Mean over the {n_lit} literature scenarios (5 and 6 doses; XJ-MK-002 below):

{oc_table(mean)}

{comparison}

Columns: PCS, probability of correct selection (the true MTD, or no dose when even the lowest
dose is too toxic); PCS / optimal, the design's PCS as a share of the benchmark's; sel. in
interval, selecting a dose whose true rate is in the target interval; no dose, selecting no
dose; sel. above MTD, selecting a dose above the true MTD (overdosing selection); pts at / above
MTD, E[patients at / above the MTD] / E[N]; DLT rate, E[DLTs] / E[N]; mean N, expected sample
size; AI, the accuracy index of Cheung (2011) (1 is perfect); AI - AI(opt.), its distance from
the benchmark's (negative: less accurate than the benchmark).

![Probability of correct selection per scenario](figures/oc-pcs.svg)

![PCS against the share of patients above the MTD](figures/oc-tradeoff.svg)

"""
    return head + "\n".join(scenario_section(r, trials, seed) for r in results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("auto", "exact", "simulate"), default="auto",
                        help="auto (default): exact when the tree of trial states is small")
    parser.add_argument("--trials", type=int, default=TRIALS,
                        help=f"simulated trials per design (default {TRIALS})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    if args.trials < TRIALS:
        parser.error(f"--trials must be at least {TRIALS}")
    start = time.perf_counter()
    results = []
    for spec in SETS:
        result = run_set(spec, args.method, args.trials, args.seed, args.workers)
        print(f"{spec.title}: {result.method}, {result.seconds:.1f} s", flush=True)
        results.append(result)
    figures = args.out.parent / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    figure_pcs(results, figures / "oc-pcs.svg")
    figure_tradeoff(results, figures / "oc-tradeoff.svg")
    page = render(results, args.trials, args.seed, time.perf_counter() - start)
    write_atomically(args.out, page)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
