"""The MAP prior for a protocol: the ``[model]`` section ``bayesdose map`` writes, and its
summary in words (the hierarchical fit, the MAP sample, the mixture and what it weighs)."""

from __future__ import annotations

from importlib.metadata import version

from bayesdose.models.map_prior import MapFit
from bayesdose.record import sha256_hex
from bayesdose.schema import Design


def map_section(design: Design, fit: MapFit, seed: int) -> str:
    """The frozen MAP prior as TOML: provenance in comments, then ``[model]`` with
    ``prior = "mixture"`` and its components, to replace the config's ``[model]``."""
    from bayesdose.input_files import read_input
    from bayesdose.models.mixfit import mixture_to_toml

    trials = design.historical_trials
    digest = sha256_hex(read_input(trials.source))
    header = [
        f"# MAP prior written by bayesdose {version('bayesdose')} (`bayesdose map`, seed {seed})",
        f"# from {trials.source} (sha256 {digest}),",
        f"# {len(trials.names)} historical trial(s), reference dose "
        f"{design.format_dose(design.reference_dose)}",
        f"# hierarchical model: {_hierarchy_text(design)}",
        f"# {fit.mixture.components} component(s) chosen by {fit.mixture.criterion}"
        + (f"; robustified with weight {fit.robust_weight:g}" if fit.robust_weight else ""),
        "# Replace the config's [model] section with this one.",
    ]
    return "\n".join(header) + "\n" + mixture_to_toml(fit.prior)


def format_map(design: Design, fit: MapFit) -> str:
    """What the statistician reads after ``bayesdose map``."""
    from bayesdose.posterior import prior_ess

    trials, d = design.historical_trials, fit.diagnostics
    s = fit.sample
    lines = [
        f"MAP prior for '{design.trial.name}': {len(trials.names)} historical trial(s) in "
        f"{trials.source}",
        f"  hierarchical model: {_hierarchy_text(design)}",
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
    ess = prior_ess(frozen_design(design, fit.prior))
    lines.append("  prior effective sample size per dose: " + ", ".join(
        f"{design.format_dose(dose)} {e:.1f}" for dose, e in zip(design.levels, ess,
                                                                 strict=True)))
    return "\n".join(lines)


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
