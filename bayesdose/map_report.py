"""The MAP prior for a protocol: the ``[model]`` section ``bayesdose map`` writes, and its
summary in words (the hierarchical fit, the MAP sample, the mixture and what it weighs).

Two drugs: each drug whose ``[model.<name>]`` has ``prior = "map"`` gets its MAP prior from
its monotherapy rows (``map_prior.drug_map_prior``, the prior the design uses at run time),
written as a ``[model.<name>]`` section and summarised as for one drug."""

from __future__ import annotations

from importlib.metadata import version

from bayesdose.errors import InputError
from bayesdose.models.map_prior import MapFit
from bayesdose.panel import DosePanel
from bayesdose.record import sha256_hex
from bayesdose.schema import Design


def map_section(design: Design, fit: MapFit, seed: int) -> str:
    """The frozen MAP prior as TOML: provenance in comments, then ``[model]`` with
    ``prior = "mixture"`` and its components, to replace the config's ``[model]``."""
    from bayesdose.models.mixfit import mixture_to_toml

    trials = design.historical_trials
    header = [
        *_provenance(trials.source, seed),
        f"# {len(trials.names)} historical trial(s), reference dose "
        f"{design.format_dose(design.reference_dose)}",
        f"# hierarchical model: {_hierarchy_text(design)}",
        f"# {_mixture_text(fit)}",
        "# Replace the config's [model] section with this one.",
    ]
    return "\n".join(header) + "\n" + mixture_to_toml(fit.prior)


def map_drugs(design: Design) -> list[int]:
    """Two drugs: the drugs (0, 1) whose MAP priors ``bayesdose map`` fits, those with
    ``prior = "map"``. An InputError, before any fit, for the joint model (both 'exnex') and
    for a drug without monotherapy rows."""
    if design.is_codata:
        raise InputError(design.source, f"[model.{design.drugs.names[0]}] prior",
                         "two drugs with prior = 'exnex' are one joint model of all trials, "
                         "fitted with this trial's data (docs/combination-codata.md); "
                         "bayesdose map fixes each drug's MAP prior: give prior = 'map' to "
                         "the drugs whose prior it should fix")
    drugs = [i for i, model in enumerate(design.drug_models) if model.prior == "map"]
    for i in drugs:
        design.historical_trials.monotherapy(i)  # type: ignore[union-attr]  (its error now)
    return drugs


def combination_map_sections(design: Design, fits: dict[int, MapFit], seed: int) -> str:
    """Two drugs: the frozen MAP priors as TOML, a ``[model.<name>]`` section with
    ``prior = "mixture"`` per fitted drug (``fits`` by drug index), provenance in comments."""
    from bayesdose.models.mixfit import mixture_to_toml

    history = design.historical_trials
    header = _provenance(history.source, seed)  # type: ignore[union-attr]
    for i, fit in fits.items():
        name, panel = design.drugs.names[i], design.pair_panel.drugs[i]
        header += [f"# drug {name}: {_monotherapy_text(design, i)}, reference dose "
                   f"{panel.format(panel.reference)}",
                   f"#   hierarchical model: {_drug_hierarchy_text(design, i)}",
                   f"#   {_mixture_text(fit)}"]
    if unused := _unused_rows_text(design):
        header.append(f"# {unused}")
    sections = [f"[model.{design.drugs.names[i]}]" for i in fits]
    header.append(f"# Replace the config's {' and '.join(sections)} (with their .hierarchy "
                  "tables) by the sections below, and remove [historical]: no prior reads it "
                  "then.")
    return "\n".join(header) + "\n" + "\n".join(
        mixture_to_toml(fit.prior, f"model.{design.drugs.names[i]}")
        for i, fit in fits.items())


def format_combination_map(design: Design, fits: dict[int, MapFit]) -> str:
    """What the statistician reads after ``bayesdose map`` on a two-drug config: per drug
    what the one-drug map prints."""
    from bayesdose.posterior import panel_prior_ess

    history = design.historical_trials
    lines = [f"MAP priors for '{design.trial.name}': each drug's from its monotherapy rows in "
             f"{history.source}"]  # type: ignore[union-attr]
    if unused := _unused_rows_text(design):
        lines.append(f"  {unused}")
    for i, (name, model) in enumerate(zip(design.drugs.names, design.drug_models,
                                          strict=True)):
        if i not in fits:
            lines.append(f"drug {name}: prior = {model.prior!r}, not a MAP prior: "
                         f"[model.{name}] stays as it is")
            continue
        panel = design.pair_panel.drugs[i]
        ess = panel_prior_ess(panel, fits[i].prior, design.decision.target_interval)
        lines += [f"drug {name}: {_monotherapy_text(design, i)}",
                  *_fit_lines(fits[i], _drug_hierarchy_text(design, i), panel, ess)]
    return "\n".join(lines)


def format_map(design: Design, fit: MapFit) -> str:
    """What the statistician reads after ``bayesdose map``."""
    from bayesdose.posterior import prior_ess

    trials = design.historical_trials
    ess = prior_ess(frozen_design(design, fit.prior))
    return "\n".join([f"MAP prior for '{design.trial.name}': {len(trials.names)} historical "
                      f"trial(s) in {trials.source}",
                      *_fit_lines(fit, _hierarchy_text(design), design.panel, ess)])


def _fit_lines(fit: MapFit, hierarchy: str, panel: DosePanel, ess) -> list[str]:
    """One MAP fit in words: the hierarchy, the MCMC, the MAP sample, the mixture chosen and
    its components, the robust component, the prior ESS (``ess``) at the panel's doses."""
    d, s = fit.diagnostics, fit.sample
    lines = [
        f"  hierarchical model: {hierarchy}",
        f"  MCMC: {d['chains']} chains x {d['draws']} draws, R-hat max {d['rhat_max']:.4f}, "
        f"ESS bulk min {d['ess_bulk_min']:.0f}, tail min {d['ess_tail_min']:.0f}, "
        f"{d['divergences']} divergences",
        f"  MAP sample ({s['draws']} draws): log alpha {s['mean'][0]:.3f} (sd {s['sd'][0]:.3f}), "
        f"log beta {s['mean'][1]:.3f} (sd {s['sd'][1]:.3f}), correlation "
        f"{s['correlation']:.3f}",
        f"  mixture: {fit.mixture.criterion} by number of components: "
        + ", ".join(f"{k}: {v:.1f}" for k, v in sorted(fit.mixture.scores.items()))
        + f"; chosen {fit.mixture.components}",
    ]
    lines += [f"    {line}" for line in _components(fit.prior)]
    if fit.robust_weight:
        r = fit.robust
        lines.append(f"  robust component (weight {fit.robust_weight:g}): mean "
                     f"({r.mean[0]:.3f}, {r.mean[1]:.3f}), sd ({r.sd[0]:.3f}, {r.sd[1]:.3f})")
    lines.append("  prior effective sample size per dose: " + ", ".join(
        f"{panel.format(dose)} {e:.1f}" for dose, e in zip(panel.levels, ess, strict=True)))
    return lines


def frozen_design(design: Design, prior) -> Design:
    """``design`` with ``prior`` written into its ``[model]`` as a mixture (the design the
    protocol fixes after ``bayesdose map``)."""
    import dataclasses

    from bayesdose.schema import ComponentSection, ModelSection

    parts = prior.as_dict().get("mixture") or [dict(prior.as_dict(), weight=1.0)]
    components = tuple(ComponentSection(c["weight"], tuple(c["mean"]), tuple(c["sd"]),
                                        c["correlation"]) for c in parts)
    return dataclasses.replace(design, model=ModelSection(prior="mixture",
                                                          components=components))


def _components(prior) -> list[str]:
    parts = prior.as_dict().get("mixture") or [dict(prior.as_dict(), weight=1.0)]
    return [f"weight {c['weight']:.3f}: mean ({c['mean'][0]:.3f}, {c['mean'][1]:.3f}), "
            f"sd ({c['sd'][0]:.3f}, {c['sd'][1]:.3f}), correlation {c['correlation']:.3f}"
            for c in parts]


def _hierarchy_text(design: Design) -> str:
    from bayesdose.models.hierarchy import Hierarchy

    return Hierarchy.of(design).describe()


def _drug_hierarchy_text(design: Design, drug: int) -> str:
    from bayesdose.models.hierarchy import Hierarchy

    name, model = design.drugs.names[drug], design.drug_models[drug]
    mean = design.prior_of(model, f"model.{name}", design.pair_panel.drugs[drug])
    return Hierarchy.of_model(model, mean).describe()  # type: ignore[arg-type]


def _provenance(source: str, seed: int) -> list[str]:
    """The first comment lines of a written MAP prior: who wrote it, from which file."""
    from bayesdose.input_files import read_input

    return [f"# MAP prior written by bayesdose {version('bayesdose')} (`bayesdose map`, "
            f"seed {seed})",
            f"# from {source} (sha256 {sha256_hex(read_input(source))}),"]


def _mixture_text(fit: MapFit) -> str:
    return (f"{fit.mixture.components} component(s) chosen by {fit.mixture.criterion}"
            + (f"; robustified with weight {fit.robust_weight:g}" if fit.robust_weight else ""))


def _monotherapy_text(design: Design, drug: int) -> str:
    """E.g. "2 historical trial(s) with A alone (trial_A, trial_C)"."""
    names = design.historical_trials.monotherapy(drug).names  # type: ignore[union-attr]
    return (f"{len(names)} historical trial(s) with {design.drugs.names[drug]} alone "
            f"({', '.join(names)})")


def _unused_rows_text(design: Design) -> str | None:
    """The history's combination rows, which a per-drug MAP prior leaves out, or None."""
    history = design.historical_trials
    rows = history.combination_rows()  # type: ignore[union-attr]
    if not rows:
        return None
    trials = dict.fromkeys(history.names[history.trial[i]] for i in rows)  # type: ignore
    return (f"not used: {len(rows)} combination row(s) of {', '.join(trials)} (a MAP prior is "
            "per drug, from its monotherapy rows; the joint model, prior = 'exnex', uses them)")
