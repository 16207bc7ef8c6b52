"""The exact engine against brute-force integration, closed forms, and itself on a finer grid."""

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats

from bayesdose.inference.brute_force import BruteForcePosterior
from bayesdose.inference.exact import ERROR_BOUND, ExactEngine, GridSpec
from bayesdose.models.blrm import SingleAgentBlrm
from bayesdose.models.prior import BivariateNormal
from bayesdose.posterior import exact_engine
from bayesdose.schema import load_design

NBG_DOSES = np.array([1, 2.5, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250.0])
NBG_X = np.log(NBG_DOSES / 250)
NBG = SingleAgentBlrm(tuple(NBG_X))
NBG_PRIOR = BivariateNormal((-1.3863, 0.0), (2.0, 1.0), 0.0)
BOUNDS = (0.16, 0.33)


def counts(pairs: dict[int, tuple[int, int]], size: int = 15) -> tuple[np.ndarray, np.ndarray]:
    n, y = np.zeros(size, int), np.zeros(size, int)
    for k, (nk, yk) in pairs.items():
        n[k], y[k] = nk, yk
    return n, y


CASES = {
    "no data": ({}, NBG_PRIOR),
    "NBG 2008 history": ({0: (3, 0), 1: (4, 0), 2: (5, 0), 3: (4, 0), 6: (2, 2)}, NBG_PRIOR),
    "all DLTs at the lowest doses": ({0: (3, 3), 1: (3, 3)}, NBG_PRIOR),
    "no DLT in 30 patients": ({k: (3, 0) for k in range(10)}, NBG_PRIOR),
    "60 patients": (
        {0: (3, 0), 3: (3, 0), 5: (6, 1), 6: (9, 2), 7: (15, 4), 8: (15, 5), 9: (9, 4)},
        NBG_PRIOR,
    ),
    "correlated prior": (
        {0: (3, 0), 1: (4, 0), 2: (5, 1), 3: (4, 1)},
        BivariateNormal.from_covariance([-1.0, 0.3], [[2.25, -0.6], [-0.6, 0.64]]),
    ),
}


@pytest.fixture(scope="module")
def engines():
    return {}


def engine_for(engines, prior):
    key = str(prior)
    if key not in engines:
        engines[key] = ExactEngine(NBG, prior, BOUNDS)
    return engines[key]


@pytest.mark.parametrize("name", list(CASES))
def test_every_reported_number_matches_brute_force(engines, name):
    data, prior = CASES[name]
    n, y = counts(data)
    engine = engine_for(engines, prior)
    summary = engine.batch(n[None], y[None])
    quantiles = engine.quantiles(n, y)
    reference = BruteForcePosterior(NBG, prior, n, y)
    worst = 0.0
    for d in (0, 3, 6, 8, 11, 14):
        below_low = reference.prob_below(d, BOUNDS[0])
        below_high = reference.prob_below(d, BOUNDS[1])
        mean = reference.moment(d, 1)
        sd = math.sqrt(reference.moment(d, 2) - mean**2)
        errors = [
            summary.p_underdose[0, d] - below_low,
            summary.p_target[0, d] - (below_high - below_low),
            summary.p_overdose[0, d] - (1 - below_high),
            summary.mean[0, d] - mean,
            summary.sd[0, d] - sd,
        ]
        # quantiles: one Newton step on the reference CDF from the engine's answer
        for prob, q in zip((0.025, 0.5, 0.975), quantiles[:, d], strict=True):
            eps = 1e-4 * min(q, 1 - q)
            density = (reference.prob_below(d, q + eps) - reference.prob_below(d, q - eps)) / (
                2 * eps
            )
            errors.append((reference.prob_below(d, q) - prob) / density)
        worst = max(worst, max(abs(e) for e in errors))
    assert worst <= ERROR_BOUND / 2, f"{name}: worst error {worst:.2e}"


def test_no_data_at_the_reference_dose_is_the_normal_prior():
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    summary = engine.batch(np.zeros((1, 15)), np.zeros((1, 15)))
    logit = np.log(np.array(BOUNDS) / (1 - np.array(BOUNDS)))
    cdf = stats.norm.cdf(logit, loc=-1.3863, scale=2.0)  # x = 0 at 250 mg: logit p = log alpha
    assert summary.p_underdose[0, -1] == pytest.approx(cdf[0], abs=1e-7)
    assert summary.p_overdose[0, -1] == pytest.approx(1 - cdf[1], abs=1e-7)
    median = engine.quantiles(np.zeros(15), np.zeros(15))[1, -1]
    assert median == pytest.approx(1 / (1 + math.exp(1.3863)), abs=1e-6)


def test_no_data_at_any_dose_matches_one_dimensional_quadrature():
    """P(p_d < c) = integral over log beta of Phi((logit c - e^b x_d - mu_a) / sd_a)."""
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    summary = engine.batch(np.zeros((1, 15)), np.zeros((1, 15)))
    for d in (0, 4, 9):
        def integrand(b, c, d=d):
            t = math.log(c / (1 - c)) - math.exp(b) * NBG_X[d]
            return stats.norm.pdf(b) * stats.norm.cdf(t, loc=-1.3863, scale=2.0)

        below_high = integrate.quad(integrand, -12, 12, args=(0.33,), epsabs=1e-12)[0]
        assert summary.p_overdose[0, d] == pytest.approx(1 - below_high, abs=1e-6)


def test_interval_probabilities_are_probabilities():
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    rng = np.random.default_rng(3)
    n = rng.integers(0, 7, size=(300, 15))
    y = rng.binomial(n, 0.3)
    s = engine.batch(n, y)
    total = s.p_underdose + s.p_target + s.p_overdose
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    for p in (s.p_underdose, s.p_target, s.p_overdose):
        assert p.min() >= 0 and p.max() <= 1


def test_a_data_set_gets_the_same_bits_in_any_batch():
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    rng = np.random.default_rng(7)
    n = rng.integers(0, 7, size=(150, 15))
    y = rng.binomial(n, 0.25)
    whole = engine.batch(n, y)
    for i in (0, 63, 64, 149):
        alone = engine.batch(n[i : i + 1], y[i : i + 1])
        shuffled = engine.batch(n[::-1], y[::-1])
        for name in ("mean", "sd", "p_underdose", "p_target", "p_overdose"):
            assert getattr(alone, name)[0].tobytes() == getattr(whole, name)[i].tobytes()
            assert getattr(shuffled, name)[149 - i].tobytes() == getattr(whole, name)[i].tobytes()


def _batch_in_child(queue) -> None:
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    rng = np.random.default_rng(7)
    n = rng.integers(0, 7, size=(150, 15))
    queue.put(engine.batch(n, rng.binomial(n, 0.25)).p_overdose.tobytes())


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork")
def test_a_forked_process_gets_its_own_threads(monkeypatch):
    """A process forked after the engine ran batches (the pool object is inherited, its threads
    are not) still computes a many-chunk batch, with the same bits."""
    import multiprocessing

    from bayesdose.inference import exact

    monkeypatch.setattr(exact, "_threads_per_batch", 2)  # the pool, even on one core
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    rng = np.random.default_rng(7)
    n = rng.integers(0, 7, size=(150, 15))
    here = engine.batch(n, rng.binomial(n, 0.25)).p_overdose.tobytes()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_batch_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked process hung in the engine's thread pool")
    assert child.exitcode == 0 and queue.get(timeout=5) == here


def test_concurrent_batches_leave_blas_as_it_was(monkeypatch):
    """Batches from several user threads at once give the bits a lone batch gives, and only
    one at a time holds the one-BLAS-thread limit (process-wide: overlapping holders would
    restore each other's settings wrongly); one engine thread per batch (as in simulation
    workers) gives the same bits too."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import contextmanager

    from bayesdose.inference import exact

    class Recorder:
        """Stands in for threadpoolctl's controller: counts overlapping limits."""

        def __init__(self):
            self.active = self.most = 0
            self.lock = threading.Lock()

        @contextmanager
        def limit(self, **_):
            with self.lock:
                self.active += 1
                self.most = max(self.most, self.active)
            time.sleep(0.02)  # long enough for the other threads to arrive
            try:
                yield
            finally:
                with self.lock:
                    self.active -= 1

    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    rng = np.random.default_rng(3)
    n = rng.integers(0, 7, size=(200, 15))
    y = rng.binomial(n, 0.3)
    alone = engine.batch(n, y).p_target.tobytes()
    recorder = Recorder()
    monkeypatch.setattr(exact, "_blas_controller", lambda: recorder)
    monkeypatch.setattr(exact, "_threads_per_batch", 2)
    with ThreadPoolExecutor(4) as users:
        results = list(users.map(lambda _: engine.batch(n, y).p_target.tobytes(), range(8)))
    assert set(results) == {alone} and recorder.most == 1
    monkeypatch.setattr(exact, "_threads_per_batch", 1)
    assert engine.batch(n, y).p_target.tobytes() == alone


def reachable_xj_states():
    """Every count state XJ-MK-002 can reach: 1 titration patient (+ cohorts of 3) at the
    lowest dose, cohorts of 3 elsewhere, at most 16 patients, any DLT counts."""
    sizes_low = [0, 1] + [1 + 3 * k for k in range(1, 6)] + [3 * k for k in range(1, 6)]
    sizes = [3 * k for k in range(0, 6)]
    states = []
    for n in itertools.product(sorted(set(sizes_low)), sizes, sizes):
        if sum(n) > 16:
            continue
        for y in itertools.product(*(range(k + 1) for k in n)):
            states.append((n, y))
    return np.array([s[0] for s in states]), np.array([s[1] for s in states])


def finer_grid_errors(design, n, y) -> dict[str, float]:
    """Worst difference per reported number between the default grid and a 400 x 120 grid of
    width 7 (itself within 2e-5 of brute force, tested below)."""
    default = exact_engine(design).batch(n, y)
    fine = ExactEngine(
        design.dlt_model, design.prior, design.decision.target_interval, GridSpec(400, 120, 7.0),
    ).batch(n, y)
    names = ("mean", "sd", "p_underdose", "p_target", "p_overdose")
    return {k: float(np.abs(getattr(default, k) - getattr(fine, k)).max()) for k in names}


def test_all_reachable_xj_mk_002_states_agree_with_a_much_finer_grid():
    design = load_design("configs/xj-mk-002.toml")
    n, y = reachable_xj_states()
    assert len(n) == 6888
    for name, error in finer_grid_errors(design, n, y).items():
        assert error <= ERROR_BOUND / 10, f"{name}: {error:.2e}"


def test_the_finer_grid_itself_matches_brute_force_on_a_large_xj_state():
    design = load_design("configs/xj-mk-002.toml")
    n, y = np.array([4, 6, 6]), np.array([0, 2, 3])
    fine = ExactEngine(design.dlt_model, design.prior, (0.16, 0.33), GridSpec(400, 120, 7.0))
    s = fine.batch(n[None], y[None])
    ref = BruteForcePosterior(design.dlt_model, design.prior, n, y)
    for d in range(3):
        assert s.p_overdose[0, d] == pytest.approx(1 - ref.prob_below(d, 0.33), abs=2e-5)
        assert s.mean[0, d] == pytest.approx(ref.moment(d, 1), abs=1e-8)


def test_random_nbg_trial_states_agree_with_a_much_finer_grid():
    """The 15-dose NBG design cannot be enumerated: 300 random states of up to 60 patients,
    treated at contiguous doses from the lowest as an escalation would, stand in for it."""
    design = load_design("configs/nbg-2008.toml")
    rng = np.random.default_rng(2008)
    n = np.zeros((300, 15), int)
    for row in n:
        top = rng.integers(1, 16)
        row[:top] = 3 * rng.integers(0, 3, size=top)
        row[top - 1] += 3
    y = rng.binomial(n, np.linspace(0.02, 0.6, 15))
    for name, error in finer_grid_errors(design, n, y).items():
        assert error <= ERROR_BOUND / 2, f"{name}: {error:.2e}"


def test_tite_weights_match_brute_force():
    """Patients in follow-up without a DLT count with weight w = days / T (Cheung & Chappell
    2000): likelihood 1 - w p. 28-day window; pending patients at 10, 25 and 40 mg."""
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS, window_days=28)
    n, y = counts({0: (3, 0), 1: (4, 0), 2: (5, 0), 3: (4, 0), 6: (3, 1), 8: (2, 0)})
    pending = np.zeros((15, 28))
    pending[6, 14] = 1  # 14 days at 25 mg: weight 0.5
    pending[8, 7] = 1  # 7 days at 40 mg: weight 0.25
    pending[8, 21] = 1  # 21 days at 40 mg: weight 0.75
    summary = engine.batch(n[None], y[None], pending[None])
    ref = BruteForcePosterior(NBG, NBG_PRIOR, n, y, [(6, 0.5), (8, 0.25), (8, 0.75)])
    for d in (0, 6, 8, 12):
        assert summary.p_overdose[0, d] == pytest.approx(1 - ref.prob_below(d, 0.33), abs=5e-4)
        assert summary.mean[0, d] == pytest.approx(ref.moment(d, 1), abs=1e-8)
    # a patient followed 0 days carries no information: as if not treated
    day_zero = np.zeros((15, 28))
    day_zero[8, 0] = 2
    untreated = n.copy()
    untreated[8] -= 2
    np.testing.assert_allclose(
        engine.batch(n[None], y[None], day_zero[None]).p_overdose,
        engine.batch(untreated[None], y[None]).p_overdose, atol=1e-12,
    )
