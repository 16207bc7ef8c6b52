"""Random dose-toxicity scenarios, drawn as in the published comparisons of dose-finding designs.

A design tuned on a handful of curves learns those curves; tuned on many random ones it learns
the problem. Two generators, each with the target and the number of doses of the design:

- ``paoletti``: Paoletti, O'Quigley & Maccario (2004, Comput. Stat. Data Anal. 45:197) as used
  by Liu & Yuan (2015, J. R. Stat. Soc. C 64:507, sec. 4.2) to compare BOIN with CRM and 3+3.
  On the probit scale z = Phi^-1(p): the MTD position M is uniform over the doses; z_M ~
  N(Phi^-1(target), sigma0^2); the next dose below is z_{M-1} = min(z_M, Phi^-1(2 target - p_M))
  - e^2 and the next above z_{M+1} = max(z_M, Phi^-1(2 target - p_M)) + e^2, e ~ N(mu, sigma^2),
  which keeps p_M the rate closest to the target; every further dose moves by another e^2. The
  constants sigma0 = 0.05, mu = 0.55 and sigma = 0.35 are those of the public implementation of
  this algorithm by the CFO design's authors (Jin & Yin; ``gen.rand.doses``); Liu & Yuan vary mu
  to set the mean gap between the MTD's rate and its neighbours'.
- ``pseudo-uniform``: Clertant & O'Quigley (2017, J. R. Stat. Soc. B 79:1487), as implemented
  in the public code of later comparisons (e.g. the toxicity part of ``simprob`` in
  zichen-liu/ModelAssistedPhase12): the MTD position M (0-based, of K doses) is uniform; an
  upper bound B = target + (1 - target) x Beta(max(K - 1 - M, 0.5), 1); the K rates are sorted
  draws from U(0, B); B and the rates are redrawn until the dose closest to the target is M
  (redrawing the rates alone can take forever when B is far above the target and M is the
  top dose).

Either way the true MTD (``scenarios.true_mtd``) of every curve is its drawn position. Each
scenario has its own stream, seeded by (seed, index): the first N of ``--random 200`` are
``--random N`` with the same seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.defaults import DEFAULT_RANDOM_METHOD, RANDOM_METHODS
from bayesdose.errors import InputError
from bayesdose.simulation.scenarios import Scenario, load_scenarios, true_mtd

if TYPE_CHECKING:
    from bayesdose.schema import Design

SIGMA_MTD = 0.05  # sd of the MTD's rate around the target, probit scale
MU_STEP = 0.55  # mean of e, the square root of a probit step between neighbouring doses
SIGMA_STEP = 0.35  # its sd
MAX_REDRAWS = 100_000  # pseudo-uniform: redraws before giving up (a panel of a hundred doses)
BATCH = 256  # pseudo-uniform: curves drawn at once while redrawing


def scenario_set(design: Design, path: str | Path | None, count: int | None, seed: int,
                 method: str = DEFAULT_RANDOM_METHOD) -> tuple[list[Scenario], dict[str, Any]]:
    """The scenarios of a scenario file or ``count`` random curves (exactly one of them) for
    ``design`` (its number of doses and target), and where they came from."""
    if (path is None) == (count is None):
        raise InputError("--scenarios/--random", None, "give either a scenario file "
                         "(--scenarios FILE) or random scenarios (--random N), one of them")
    if path is not None:
        return load_scenarios(path, len(design.levels)), {"file": str(path)}
    scenarios = random_scenarios(count, len(design.levels), design.decision.target, seed, method)
    return scenarios, {"random": count, "method": method, "seed": seed}


def random_scenarios(count: int, doses: int, target: float, seed: int,
                     method: str = DEFAULT_RANDOM_METHOD) -> list[Scenario]:
    """``count`` random curves of ``doses`` doses around ``target``, named ``random-1`` ...
    (deterministic in ``seed``; ``method`` one of ``defaults.RANDOM_METHODS``)."""
    if method not in RANDOM_METHODS:
        raise ValueError(f"method: expected one of {RANDOM_METHODS}, got {method!r}")
    if count < 1 or doses < 1 or not 0 < target < 1:
        raise ValueError("expected count >= 1, doses >= 1 and a target in (0, 1)")
    draw = paoletti_curve if method == "paoletti" else pseudo_uniform_curve
    scenarios = []
    for i in range(count):
        rng = np.random.default_rng((seed, i))
        mtd = int(rng.integers(doses))
        p = draw(rng, mtd, doses, target)
        scenarios.append(Scenario(f"random-{i + 1}", tuple(float(v) for v in p)))
    return scenarios


def paoletti_curve(rng: np.random.Generator, mtd: int, doses: int, target: float) -> np.ndarray:
    """One curve of Paoletti et al. (2004) / Liu & Yuan (2015) with its MTD at ``mtd``."""
    from scipy.special import ndtr, ndtri  # here: simulate with a scenario file needs no SciPy

    z = np.empty(doses)
    z[mtd] = rng.normal(ndtri(target), SIGMA_MTD)
    mirror = ndtri(min(max(2 * target - ndtr(z[mtd]), 1e-12), 1 - 1e-12))  # 2 target - p_M
    for k in range(mtd - 1, -1, -1):
        start = min(z[mtd], mirror) if k == mtd - 1 else z[k + 1]
        z[k] = start - rng.normal(MU_STEP, SIGMA_STEP) ** 2
    for k in range(mtd + 1, doses):
        start = max(z[mtd], mirror) if k == mtd + 1 else z[k - 1]
        z[k] = start + rng.normal(MU_STEP, SIGMA_STEP) ** 2
    return ndtr(z)


def pseudo_uniform_curve(rng: np.random.Generator, mtd: int, doses: int,
                         target: float) -> np.ndarray:
    """One pseudo-uniform curve (Clertant & O'Quigley 2017) with its MTD at ``mtd``: the bound
    and the rates are drawn together, and redrawn together until the MTD is at ``mtd``."""
    for _ in range(0, MAX_REDRAWS, BATCH):
        bound = target + (1 - target) * rng.beta(max(doses - 1 - mtd, 0.5), 1.0, BATCH)
        curves = np.sort(rng.uniform(0.0, 1.0, (BATCH, doses)), axis=1) * bound[:, None]
        for p in curves:
            if true_mtd(tuple(p), target) == mtd:
                return p
    raise RuntimeError(f"no pseudo-uniform curve with its MTD at dose {mtd + 1} of {doses} "
                       f"in {MAX_REDRAWS} draws")
