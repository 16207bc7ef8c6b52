"""Check the default BLRM-EWOC (the prior derived from the panel, the [stopping] defaults)
on panels it was not tuned on, against BOIN and the previous default; writes the top of
``docs/calibration.md``.

``python -m benchmarks.research.calibration`` computes exact operating characteristics (no
Monte Carlo error) of three designs on each check panel: BOIN, BLRM-EWOC with the previous
default rule (prior medians 0.10 and 0.30 at the lowest and highest dose, sds (2, 1),
``mtd_min_patients`` 6, ``mtd_min_p_target`` 0.5) and BLRM-EWOC with today's
(``models.prior.DEFAULT_RULE`` and the schema's ``[stopping]`` defaults). Each panel is
``configs/standard-5dose.toml`` (cohorts of 3, 30 patients, EWOC 0.25) with other doses, target,
interval or reference dose, on random curves (Paoletti et al. 2004, as ``--random``) and on the
project's benchmark scenario sets. The rule itself was tuned by ``bayesdose calibrate`` with the
``derived.*`` knobs on the first panel's curves only (docs/calibration.md says how); every other
row is a check. The page's part from ``## The `calibrate` command`` on is kept.
"""

from __future__ import annotations

# isort: off
import benchmarks.common  # noqa: F401  (first: pins BLAS to one thread before NumPy loads)
# isort: on

import copy  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from bayesdose.calibration.objective import Evaluator, ScenarioSet  # noqa: E402
from bayesdose.models.prior import DEFAULT_RULE, DerivationRule, derive_prior  # noqa: E402
from bayesdose.schema import Design, StoppingSection, design_from_dict, read_toml  # noqa: E402
from bayesdose.simulation.random_scenarios import random_scenarios  # noqa: E402
from bayesdose.simulation.scenarios import load_scenarios  # noqa: E402
from benchmarks.common import ROOT, write_atomically  # noqa: E402
from benchmarks.oc import SIX_DOSE_CHANGES  # noqa: E402

CONFIG = ROOT / "configs" / "standard-5dose.toml"
SCENARIOS = ROOT / "configs" / "scenarios"
PAGE = ROOT / "docs" / "calibration.md"
KEPT = "\n## The `calibrate` command"  # written by hand from runs; kept when regenerating
OLD_RULE = DerivationRule(0.10, 0.30, (2.0, 1.0))
OLD_STOPPING = {"mtd_min_patients": 6, "mtd_min_p_target": 0.5}
CHECK_CURVES = 100
CHECK_SEED = 2  # the tuning used seed 1: other curves


@dataclass(frozen=True)
class Panel:
    """One check: the standard design with ``changes`` to its config, on ``curves`` random
    curves drawn with ``seed`` or on the scenario file ``scenarios``."""

    label: str
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: int = CHECK_CURVES
    seed: int = CHECK_SEED
    scenarios: str | None = None

    def raw(self) -> dict[str, Any]:
        raw = read_toml(CONFIG)
        for section, keys in self.changes.items():
            raw.setdefault(section, {}).update(copy.deepcopy(keys))
        for key in OLD_STOPPING:  # the defaults decide (the config states the old ones)
            raw["stopping"].pop(key, None)
        return raw


def _interval(target: float, low: float, high: float) -> dict[str, dict[str, Any]]:
    return {"decision": {"target": target, "target_interval": [low, high]}}


PANELS = [
    Panel("5 doses 1-16 mg, target 0.30 (the tuning curves: seed 1)", curves=200, seed=1),
    Panel("5 doses 1-16 mg, target 0.30, other curves"),
    Panel("3 doses 1-4 mg", {"doses": {"levels": [1, 2, 4]}}),
    Panel("4 doses 1-8 mg", {"doses": {"levels": [1, 2, 4, 8]}}),
    Panel("6 doses 1-32 mg", {"doses": {"levels": [1, 2, 4, 8, 16, 32]}}),
    Panel("5 doses 10-50 mg (a narrow panel)", {"doses": {"levels": [10, 20, 30, 40, 50]},
                                                 "cohorts": {"start_dose": 10}}),
    Panel("5 doses, reference dose 4 mg (the middle)", {"doses": {"reference": 4}}),
    Panel("5 doses, target 0.25, interval [0.16, 0.33)", _interval(0.25, 0.16, 0.33)),
    Panel("5 doses, target 0.33, interval [0.25, 0.40)", _interval(0.33, 0.25, 0.40)),
    Panel("6 doses 1-32 mg, target 0.20, interval [0.10, 0.25)", SIX_DOSE_CHANGES),
    Panel("benchmark set standard-5dose (7 scenarios)", scenarios="standard-5dose.toml"),
    Panel("benchmark set benchmark-5dose (9 scenarios)", scenarios="benchmark-5dose.toml"),
    Panel("benchmark set benchmark-6dose (6 doses, target 0.20)", SIX_DOSE_CHANGES,
          scenarios="benchmark-6dose.toml"),
]


def scenarios_of(panel: Panel, design: Design) -> ScenarioSet:
    """The panel's random curves or scenario file, with their true MTDs."""
    target, doses = design.decision.target, len(design.levels)
    if panel.scenarios is None:
        scenarios = random_scenarios(panel.curves, doses, target, panel.seed)
    else:
        scenarios = load_scenarios(SCENARIOS / panel.scenarios, doses)
    return ScenarioSet.of(scenarios, target)


def with_rule(raw: dict[str, Any], rule: DerivationRule, stopping: dict[str, Any]) -> Design:
    """The design of ``raw`` with the prior ``rule`` derives and these [stopping] values."""
    design = design_from_dict(raw, str(CONFIG))
    prior = derive_prior(design.panel.levels, design.panel.reference,
                         design.model.prior_correlation, rule)
    raw = copy.deepcopy(raw)
    raw["model"] = {"prior_mean": list(prior.mean), "prior_sd": list(prior.sd)}
    raw["stopping"].update(stopping)
    return design_from_dict(raw, str(CONFIG))


def measures(panel: Panel) -> dict[str, dict[str, float]]:
    """Mean PCS, selection above the MTD, share of patients above it and sample size of BOIN,
    the previous default and today's on the panel's scenarios (exact)."""
    raw = panel.raw()
    today = design_from_dict(raw, str(CONFIG))
    evaluator = Evaluator(scenarios_of(panel, today), "exact", 0, 0)
    return {"boin": evaluator.evaluate(today, "boin")[0],
            "old": evaluator.evaluate(with_rule(raw, OLD_RULE, OLD_STOPPING), "blrm")[0],
            "new": evaluator.evaluate(today, "blrm")[0]}


def _cells(m: dict[str, float]) -> str:
    return (f"{m['pcs']:.3f} | {m['select_above_mtd']:.3f} | {m['p_above_mtd']:.3f} | "
            f"{m['n_mean']:.1f}")


def table(results: list[tuple[Panel, dict[str, dict[str, float]]]]) -> str:
    """One row per panel and design."""
    lines = ["| panel | design | mean PCS | select > MTD | patients > MTD | mean N |",
             "|---|---|---:|---:|---:|---:|"]
    names = {"boin": "BOIN", "old": "previous default", "new": "**default**"}
    for panel, m in results:
        where = panel.label if panel.scenarios else f"{panel.label}; {panel.curves} curves"
        for key, name in names.items():
            lines.append(f"| {where if key == 'boin' else ''} | {name} | {_cells(m[key])} |")
    return "\n".join(lines)


def main() -> None:
    started = time.time()
    results = []
    for panel in PANELS:
        results.append((panel, measures(panel)))
        print(panel.label, {k: round(v["pcs"], 3) for k, v in results[-1][1].items()},
              flush=True)
    stopping = StoppingSection()
    rule = DEFAULT_RULE
    default_row = (f"| {rule.p_lowest:g} | {rule.p_highest:g} | ({rule.sd[0]:g}, {rule.sd[1]:g}) "
                   f"| {stopping.mtd_min_patients} | {stopping.mtd_min_p_target:g} |")
    page = f"""# Calibrating the default BLRM-EWOC

Generated by `python -m benchmarks.research.calibration` in {time.time() - started:.0f} s.

When a config gives no `[model]` prior, bayesdose derives one from the dose panel by a rule
(`models/prior.py`, `DerivationRule`): prior median DLT rates `p_lowest` at the lowest and
`p_highest` at the highest dose fix the medians of log beta and log alpha (at the reference
dose), with standard deviations `sd` of (log alpha, log beta). When it gives no `[stopping]`
MTD declaration, the MTD is declared once `mtd_min_patients` patients had the recommended dose
and its P(target) is at least `mtd_min_p_target`. The default is

| p_lowest | p_highest | sd (log alpha, log beta) | mtd_min_patients | mtd_min_p_target |
|---:|---:|---|---:|---:|
{default_row}

(previously {OLD_RULE.p_lowest:g}, {OLD_RULE.p_highest:g}, ({OLD_RULE.sd[0]:g}, \
{OLD_RULE.sd[1]:g}), {OLD_STOPPING['mtd_min_patients']} and \
{OLD_STOPPING['mtd_min_p_target']:g}). It is a rule of the panel, not values for one panel: it
was tuned by `bayesdose calibrate` on the first panel below only
([how](#recalibrating-the-default-blrm-ewoc-issue-17-what-it-can-do-what-it-takes)), and
every other row checks it where it was not tuned.

## The default on panels it was not tuned on

Exact operating characteristics (no Monte Carlo error), means over the scenarios, of BOIN, the
previous default and the default, each panel being `configs/standard-5dose.toml` (cohorts of
3 from the lowest dose, 30 patients, EWOC 0.25, interval [0.20, 0.35) around the target 0.30
unless the row says otherwise) with no `[model]` and no MTD declaration in `[stopping]`.
Random curves are Paoletti et al. (2004) with the panel's target and number of doses (seed
{CHECK_SEED}, {CHECK_CURVES} curves, unless the row says seed 1: the curves the rule was tuned
on); the benchmark sets are `configs/scenarios/*.toml` ([OC benchmarks](oc-benchmarks.md)).
"Select > MTD" is the mean probability of selecting a dose above the true MTD, "patients >
MTD" the mean share of patients treated above it.

{table(results)}
"""
    old = PAGE.read_text() if PAGE.exists() else ""
    kept = old[old.index(KEPT):] if KEPT in old else ""  # the calibrate command's section
    write_atomically(PAGE, page + kept)
    print(page)


if __name__ == "__main__":
    main()
