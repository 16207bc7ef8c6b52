"""The exact engine on concentrated posteriors (issue 19): ``python -m
benchmarks.research.concentrated [--sweep]``.

For each case: the prior-frame grid's answer as it was before the engine followed the posterior
(``ExactEngine._summaries`` of its functionals, no re-gridding), the engine's answer now
(``batch``: re-gridded where the prior's grid does not resolve the posterior), and the
brute-force integrator on a box placed on the posterior (``box="posterior"``; its own
convergence is checked against twice the panels and a wider box). Prints the worst absolute
error over doses of P(underdosing), P(target), P(overdosing), and of the mean and sd, the
posterior's sd in the prior grid's spacings and its mass at the grid's edge. ``--sweep``
adds the calibration sweep of the resolution thresholds (n patients per dose, 5 to 400).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bayesdose.inference.brute_force import BruteForcePosterior
from bayesdose.inference.exact import BeyondEngine, ExactEngine
from bayesdose.models.prior import BivariateNormal, Mixture
from bayesdose.posterior import build_exact_engine
from bayesdose.schema import load_design
from benchmarks.common import ROOT

RATES = np.array([0.05, 0.10, 0.18, 0.26, 0.305])


def reference(engine: ExactEngine, n, y, check: bool = False) -> dict[str, np.ndarray]:
    """Brute-force summaries per dose (and, with ``check``, the change against a finer,
    wider brute force)."""

    def summaries(bf):
        lo, hi = engine.bounds
        below = np.array([[bf.prob_below(d, c) for d in range(engine.n_doses)] for c in (lo, hi)])
        mean = np.array([bf.moment(d, 1) for d in range(engine.n_doses)])
        second = np.array([bf.moment(d, 2) for d in range(engine.n_doses)])
        return {"p_underdose": below[0], "p_target": below[1] - below[0],
                "p_overdose": 1 - below[1], "mean": mean,
                "sd": np.sqrt(np.maximum(second - mean**2, 0))}

    ref = summaries(BruteForcePosterior(engine.model, engine.prior, n, y, box="posterior"))
    if check:
        fine = summaries(BruteForcePosterior(engine.model, engine.prior, n, y,
                                             box="posterior", scale=2, sds=20))
        ref["self_check"] = max(np.max(np.abs(fine[k] - ref[k])) for k in fine)
    return ref


def errors(summary, ref) -> tuple[float, float, float]:
    """(worst interval probability error, worst mean/sd error, P(overdose) at the top)."""
    probs = max(np.max(np.abs(getattr(summary, k)[0] - ref[k]))
                for k in ("p_underdose", "p_target", "p_overdose"))
    moments = max(np.max(np.abs(getattr(summary, k)[0] - ref[k])) for k in ("mean", "sd"))
    return probs, moments, float(summary.p_overdose[0, -1])


def row(name: str, engine: ExactEngine, n, y, check: bool = True) -> dict:
    n, y = np.asarray(n, float), np.asarray(y, float)
    counts = engine.observation_counts(n[None], y[None])
    out = engine._functionals_of(counts[0])[None]
    spacings, edge = engine.resolution(out)
    old = engine._summaries(out)
    start = time.perf_counter()
    try:
        new = engine.batch(n[None], y[None])
    except BeyondEngine as err:
        print(f"{name:42s} n={int(n.sum()):5d} sd/spacing z {spacings[0, 0]:6.2f} "
              f"s {spacings[0, 1]:6.2f} edge {edge[0]:.1e} refused: {err}", flush=True)
        return {"case": name, "patients": int(n.sum()), "refused": str(err)}
    seconds = time.perf_counter() - start
    answering = engine.regrid(counts[0])
    ref = reference(engine, n, y, check)
    result = {
        "case": name, "patients": int(n.sum()),
        "spacings": spacings[0], "edge": float(edge[0]),
        "regridded": answering is not engine,
        "grid": f"{answering.grid.n_alpha} x {answering.grid.n_beta}",
        "old": errors(old, ref), "new": errors(new, ref),
        "ref_overdose": float(ref["p_overdose"][-1]),
        "self_check": ref.get("self_check", float("nan")), "seconds": seconds,
        "estimate": answering.error_estimate,
    }
    print(f"{name:42s} n={result['patients']:5d} sd/spacing z {spacings[0, 0]:6.2f} "
          f"s {spacings[0, 1]:6.2f} edge {edge[0]:.1e} regrid {result['regridded']!s:5s} "
          f"old {result['old'][0]:.1e}/{result['old'][1]:.1e} new {result['new'][0]:.1e}/"
          f"{result['new'][1]:.1e} P(over, top) old {result['old'][2]:.4f} new "
          f"{result['new'][2]:.4f} bf {result['ref_overdose']:.4f} bf-check "
          f"{result['self_check']:.0e} est {result['estimate']} {seconds:.2f}s", flush=True)
    return result


def cases() -> list[tuple[str, ExactEngine, np.ndarray, np.ndarray]]:
    design = load_design(ROOT / "configs/standard-5dose.toml")
    engine = build_exact_engine(design)
    model, bounds = design.dlt_model, design.decision.target_interval
    tight = ExactEngine(model, BivariateNormal((-0.8473, -0.7197), (0.05, 0.05), 0.0), bounds)
    mixture = Mixture((0.5, 0.5), (BivariateNormal((-0.8473, -0.7197), (2.0, 1.0), 0.0),
                                   BivariateNormal((-1.5, -0.2), (0.5, 0.3), 0.3)))
    from bayesdose.inference.exact import resolving_grid
    mixed = ExactEngine(model, mixture, bounds, resolving_grid(mixture))
    per_dose = [10, 20, 36, 52, 61]
    return [
        ("12 per dose", engine, [12] * 5, [0, 1, 2, 3, 4]),
        ("60 per dose (300)", engine, [60] * 5, [3, 6, 11, 16, 18]),
        ("100 per dose (500)", engine, [100] * 5, [5, 10, 18, 26, 30]),
        ("issue 19: 200 per dose", engine, [200] * 5, per_dose),
        ("issue 19: 1000 per dose (counts x5)", engine, [1000] * 5, [50, 100, 180, 260, 305]),
        ("3000 per dose", engine, [3000] * 5, [150, 300, 540, 780, 915]),
        ("600 at the lowest dose only", engine, [600, 0, 0, 0, 0], [30, 0, 0, 0, 0]),
        ("tight prior (sd 0.05), no data", tight, [0] * 5, [0] * 5),
        ("tight prior (sd 0.05), 200 per dose", tight, [200] * 5, per_dose),
        ("mixture prior, 200 per dose", mixed, [200] * 5, per_dose),
        ("mixture prior, 12 per dose", mixed, [12] * 5, [0, 1, 2, 3, 4]),
    ]


def sweep(engine: ExactEngine) -> None:
    """The prior grid's error against the posterior's sd in its spacings."""
    print("\ncalibration sweep: n per dose, DLT rates", RATES)
    for k in (5, 10, 20, 30, 45, 60, 80, 100, 130, 160, 200, 260, 330, 400):
        row(f"sweep {k} per dose", engine, [k] * 5, np.round(RATES * k), check=False)
    for k in (20, 50, 100, 200, 400):
        row(f"sweep {k} at dose 3 only", engine, [0, 0, k, 0, 0],
            [0, 0, round(0.2 * k), 0, 0], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    all_cases = cases()
    for name, engine, n, y in all_cases:
        row(name, engine, n, y)
    if args.sweep:
        sweep(all_cases[0][1])


if __name__ == "__main__":
    main()
