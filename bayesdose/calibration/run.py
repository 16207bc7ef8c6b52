"""A calibration from start to end: the reference design's overdosing, the search, the outputs.

``calibrate`` computes the reference design (``--against``) on the scenarios once, then
searches the knobs of the BLRM (``search``); ``write_outputs`` writes ``calibrated.toml`` (only
when a feasible setting was found), ``calibration.json`` and the figure of the front
(``front.png``, ``front.svg``), each file whole or not at all.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayesdose.calibration.front import front_figure, pareto_front
from bayesdose.calibration.knobs import (
    PRIOR_KEYS,
    RULE,
    Knob,
    apply,
    key_value,
    value_of,
    with_explicit_prior,
)
from bayesdose.calibration.objective import MEASURES, Evaluator, ScenarioSet
from bayesdose.calibration.search import CONSTRAINED, Search, Setting
from bayesdose.calibration.toml_edit import set_keys
from bayesdose.errors import InputError
from bayesdose.schema import Design

TUNED = "blrm"
OUTPUTS = ("calibrated.toml", "calibration.json", "front.png", "front.svg")


@dataclass(frozen=True)
class Calibration:
    """What a calibration found: every setting tried (``settings[0]`` is the input config's),
    the chosen one (the feasible setting of highest PCS; None if none was feasible) and the
    reference design's mean measures."""

    design: Design
    knobs: list[Knob]
    scenarios: ScenarioSet
    against: str
    reference: dict[str, float]
    reference_method: str
    settings: list[Setting]
    chosen: int | None
    seconds: float

    @property
    def calibrated(self) -> Design | None:
        """The design with the chosen values, or None."""
        if self.chosen is None:
            return None
        return apply(self.design, self.knobs, list(self.settings[self.chosen].values))


def calibrate(design: Design, scenarios: ScenarioSet, knobs: list[Knob], against: str,
              budget: int, seed: int, method: str, trials: int,
              progress: bool = False) -> Calibration:
    """Search ``knobs`` of the BLRM for the highest mean PCS with overdosing no worse than
    ``against``'s, over at most ``budget`` settings."""
    from tqdm import tqdm

    started = time.perf_counter()
    evaluator = Evaluator(scenarios, method, trials, seed)
    reference, reference_method = evaluator.evaluate(design, against)

    def measure(values: tuple) -> tuple[dict[str, float], str]:
        return evaluator.evaluate(apply(design, knobs, list(values)), TUNED)

    with tqdm(total=budget, unit="setting", desc="calibrate", file=sys.stderr,
              disable=None if progress else True) as bar:
        def shown(setting: Setting) -> None:
            bar.update()
            bar.set_postfix(best_pcs=f"{_best_pcs(search):.3f}", refresh=False)

        search = Search(knobs, measure, reference, budget, seed, shown)
        settings = search.run(tuple(value_of(design, k) for k in knobs))
    best = search.best()
    chosen = None if best is None else settings.index(best)
    return Calibration(design, knobs, scenarios, against, reference, reference_method,
                       settings, chosen, time.perf_counter() - started)


def _best_pcs(search: Search) -> float:
    best = search.best()
    return float("nan") if best is None else best.measures["pcs"]


def calibration_document(c: Calibration, source: dict[str, Any]) -> dict[str, Any]:
    """The calibration.json document: the knobs, the reference, every setting, the fronts."""
    def entry(i: int, s: Setting) -> dict[str, Any]:
        return {"index": i, "stage": s.stage, "method": s.method, "seconds": round(s.seconds, 2),
                "values": dict(zip((k.name for k in c.knobs), s.values, strict=True)),
                **{m: s.measures[m] for m in MEASURES},
                "feasible": s.excess(c.reference) == 0}

    return {
        "design": TUNED,
        "objective": "maximise the mean pcs over the scenarios, subject to mean "
                     "select_above_mtd and p_above_mtd no higher than the reference design's",
        "scenarios": {**source, "count": len(c.scenarios.scenarios),
                      "curves": [{"name": s.name, "p_true": list(s.p_true),
                                  "true_mtd": None if m < 0 else int(m) + 1}
                                 for s, m in zip(c.scenarios.scenarios, c.scenarios.mtd,
                                                 strict=True)]},
        "knobs": [{"name": k.name, "low": k.low, "high": k.high, "integer": k.integer}
                  for k in c.knobs],
        "against": {"design": c.against, "method": c.reference_method, **c.reference},
        "settings": [entry(i, s) for i, s in enumerate(c.settings)],
        "chosen": c.chosen,
        "front": {m: pareto_front(c.settings, m) for m in CONSTRAINED},
        "seconds": round(c.seconds, 1),
    }


def calibrated_toml(c: Calibration, config_text: str) -> str:
    """The input config's text with the chosen values, each with a comment on its origin."""
    assert c.chosen is not None
    return set_keys(config_text, config_changes(c.design, c.knobs,
                                                list(c.settings[c.chosen].values),
                                                len(c.settings)))


def check_config_text(design: Design, knobs: list[Knob], config_text: str, source: str) -> None:
    """Refuse, before anything is computed, a config whose keys calibrated.toml could not
    set in its text (``toml_edit``)."""
    try:
        set_keys(config_text, config_changes(design, knobs, [value_of(design, k) for k in knobs],
                                             0))
    except ValueError as err:
        raise InputError(source, None, f"calibrated.toml could not be written: {err}") from None


def config_changes(design: Design, knobs: list[Knob], values: list[float | int],
                   tried: int) -> dict[tuple[str, str], tuple[Any, str]]:
    """Each (table, key) of the design with the knobs' ``values`` to write, with its comment;
    a derived prior is written out whole (prior_mean and prior_sd) when a knob changes it,
    and the ``derived.*`` knobs, which are no keys of the config, by the prior they derive."""
    chosen = apply(design, knobs, values)
    changes: dict[tuple[str, str], tuple[Any, str]] = {}
    for knob in knobs:
        if knob.path[0] == RULE:
            continue
        table, key = ".".join(knob.path[:-1]), knob.path[-1]
        value = key_value(chosen, knob.path)
        element = "" if knob.index is None else f"[{knob.index}] "
        note = (f"{element}calibrated: best of {tried} settings over [{knob.low:g}, "
                f"{knob.high:g}] (bayesdose calibrate), was {value_of(design, knob):g}")
        old = changes.get((table, key), (value, ""))[1]
        changes[table, key] = (value, f"{old}; {note}" if old else note)
    rule = [f"{k.name} = {v:g}" for k, v in zip(knobs, values, strict=True) if k.path[0] == RULE]
    note = ("derived from the dose panel by the calibrated rule " + ", ".join(rule)
            + f" (best of {tried} settings, bayesdose calibrate)" if rule else
            "the prior derived from the dose panel, written out with the calibrated keys")
    if design.model.prior_mean is None and any(
            k.path[0] == RULE or (k.path[0] == "model" and k.path[-1] in PRIOR_KEYS)
            for k in knobs):
        explicit = with_explicit_prior(chosen).model
        for key in ("prior_mean", "prior_sd"):
            if ("model", key) not in changes:
                changes["model", key] = (getattr(explicit, key), note)
    return changes


def write_outputs(c: Calibration, config_text: str | None, source: dict[str, Any],
                  out: Path) -> None:
    """calibrated.toml (when a setting was feasible and the config's text is known),
    calibration.json and the figure; each computed before any is written."""
    from bayesdose.record import atomic_write
    from bayesdose.report.figures import to_bytes

    files: dict[str, bytes | str] = {}
    if c.chosen is not None and config_text is not None:
        files["calibrated.toml"] = calibrated_toml(c, config_text)
    files["calibration.json"] = json.dumps(calibration_document(c, source), indent=2) + "\n"
    figure = front_figure(c.settings, c.chosen, c.reference, c.against)
    files["front.png"] = to_bytes(figure, "png")
    files["front.svg"] = to_bytes(figure, "svg")
    out.mkdir(parents=True, exist_ok=True)
    stale = out / "calibrated.toml"
    if "calibrated.toml" not in files and stale.exists():  # no earlier run's, as if this one's
        stale.unlink()
    for name, content in files.items():
        atomic_write(out / name, content)


def summary_text(c: Calibration, out: Path | None) -> str:
    """What the command prints: the reference, the input setting and the chosen one (and the
    files written to ``out``, if given)."""
    def row(label: str, m: dict[str, float]) -> str:
        return (f"{label:<24} {m['pcs']:>6.3f} {m['select_above_mtd']:>14.3f} "
                f"{m['p_above_mtd']:>16.3f} {m['n_mean']:>7.1f}")

    method = sorted({s.method for s in c.settings} | {c.reference_method})
    lines = [f"calibrated {len(c.knobs)} knob(s) of {TUNED} on {len(c.scenarios.scenarios)} "
             f"scenarios against {c.against}: {len(c.settings)} settings in {c.seconds:.1f} s "
             f"({'/'.join(method)})",
             f"{'':<24} {'PCS':>6} {'select > MTD':>14} {'patients > MTD':>16} {'mean N':>7}",
             row(c.against, c.reference), row("input config", c.settings[0].measures)]
    if c.chosen is None:
        lines.append("no setting tried was as safe as the reference: nothing calibrated (the "
                     "front shows what it would cost)")
    else:
        chosen = c.settings[c.chosen]
        lines.append(row(f"chosen (setting {c.chosen})", chosen.measures))
        lines += [f"  {k.name} = {v:g}" for k, v in zip(c.knobs, chosen.values, strict=True)]
    if out is not None:
        written = [n for n in OUTPUTS if c.chosen is not None or n != "calibrated.toml"]
        lines.append("wrote " + ", ".join(str(out / n) for n in written))
    return "\n".join(lines)
