"""MAP and EXNEX priors from historical trials, against OncoBayes2 0.8-8's numbers
(tests/reference/oncobayes2/: the MAP vignette's drugs A and B, and EXNEX/MAC fits of a current
trial with drug A's history, run long enough that their Monte Carlo errors are <= 0.002).

These fit MCMC (PyMC's NUTS): about a minute each on these machines; the MAP fit of drug A is
cached, so the tests that use it share one fit."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.data import trial_data_from_records
from bayesdose.designs.blrm.recommendation import recommend, to_json
from bayesdose.models.map_prior import map_prior
from bayesdose.posterior import exact_summary
from bayesdose.schema import design_from_dict, load_design

REFERENCE = CONFIGS.parent / "tests" / "reference" / "oncobayes2"
MAP_REF = json.loads((REFERENCE / "map_vignette.json").read_text())["drugs"]
EXNEX_REF = json.loads((REFERENCE / "exnex.json").read_text())["scenarios"]
LOGIT_02 = math.log(0.25)
INTERVALS = {"p_underdose": "(0,0.16]", "p_target": "(0.16,0.33]", "p_overdose": "(0.33,1]"}


def _history(tmp_path, doses, n, dlt) -> str:
    path = tmp_path / "history.csv"
    path.write_text("trial,dose,n,dlt\n" + "".join(
        f"hist,{d:g},{k},{y}\n" for d, k, y in zip(doses, n, dlt, strict=True)))
    return str(path)


def _design(tmp_path, drug: str, **model):
    """A design on the drug's historical doses with the vignette's priors."""
    inputs = MAP_REF[drug]["inputs"]
    hierarchy = {"tau_mean": inputs["prior_EX_tau_mean_comp_log"],
                 "tau_sd": inputs["prior_EX_tau_sd_comp_log"], **model.pop("hierarchy", {})}
    return design_from_dict({
        "doses": {"levels": inputs["dose"], "reference": inputs["reference_dose"]},
        "historical": {"data": _history(tmp_path, inputs["dose"], inputs["num_patients"],
                                        inputs["num_toxicities"])},
        "model": {"prior": "map", "prior_mean": [LOGIT_02, 0.0],
                  "prior_sd": inputs["prior_EX_mu_sd_comp"], "hierarchy": hierarchy, **model},
        "decision": {"target_interval": [0.16, 0.33]},
    })


@pytest.mark.parametrize("drug", ["A", "B"])
def test_the_map_prior_is_oncobayes2s(tmp_path, drug):
    """The MAP sample's means and sds against OncoBayes2's (4 x 50,000 draws): within 4
    combined Monte Carlo standard errors, ours sd / sqrt(smallest bulk ESS of the fit)."""
    fit = map_prior(_design(tmp_path, drug))
    ess = fit.diagnostics["ess_bulk_min"]
    assert fit.diagnostics["diagnostics_ok"] and fit.diagnostics["divergences"] == 0
    for k, name in enumerate(("log_alpha", "log_beta")):
        ref = MAP_REF[drug]["map"][name]
        for stat in ("mean", "sd"):
            ours = fit.sample[stat][k]
            se = math.hypot(fit.sample["sd"][k] / math.sqrt(ess), ref[f"mcse_{stat}"])
            assert abs(ours - ref[stat]) <= 4 * se, (drug, name, stat, ours, ref[stat], se)
    # the mixture keeps the sample's moments (its frame is the moment-matched normal)
    frame = fit.mixture.prior.frame
    assert np.allclose(frame.mean, fit.sample["mean"], atol=0.02)
    assert np.allclose(frame.sd, fit.sample["sd"], rtol=0.02)


def test_the_vignettes_printed_map_summaries_within_their_rounding_and_error(tmp_path):
    """The vignette prints log alpha -1.73 (0.82), log beta 0.34 (0.72) for drug A from 2,000
    draws (Monte Carlo error ~0.02 on its means, ~0.015 on its sds, plus rounding)."""
    fit = map_prior(_design(tmp_path, "A"))
    assert fit.sample["mean"] == pytest.approx([-1.73, 0.34], abs=0.05)
    assert fit.sample["sd"] == pytest.approx([0.82, 0.72], abs=0.04)


def _exnex(tmp_path, scenario: str):
    ref = EXNEX_REF[scenario]
    p_ex = ref["prior_EX_prob_comp"]["new"]
    design = _design(tmp_path, "A", prior="exnex", hierarchy={
        "ex_probability": p_ex, "nex_mean": [LOGIT_02, 0.0], "nex_sd": [2.0, 1.0]})
    cur = ref["current_trial"]
    data = trial_data_from_records(
        [{"dose": d, "n": n, "dlt": y} for d, n, y in zip(
            cur["dose"], cur["num_patients"], cur["num_toxicities"], strict=True)], design)
    return design, data, ref


@pytest.mark.parametrize("scenario", ["a_exnex_agree", "b_exnex_conflict", "c_mac_agree"])
def test_the_map_equivalent_of_exnex_matches_oncobayes2s_joint_fit(tmp_path, scenario):
    """MAP and MAC/EXNEX are the same model (Neuenschwander et al. 2016): the exact engine on
    the robust MAP prior (weight 1 - p_ex on the NEX prior) gives OncoBayes2's EXNEX posterior.
    Tolerance 0.02: the MAP prior is a mixture fitted to 10,000 MCMC draws; when the data
    conflict with it (b) the posterior rests on the prior's tail, where that fit is least
    accurate (0.014 the largest difference measured; OncoBayes2's own error is <= 0.002)."""
    design, data, ref = _exnex(tmp_path, scenario)
    summary, _ = exact_summary(design, data)
    for k, dose in enumerate(design.levels):
        expected = ref["new_trial"][f"{dose:g}"]
        for name, interval in INTERVALS.items():
            assert summary[name].values[k] == pytest.approx(
                expected["interval_prob"][interval], abs=0.02), (dose, name)
        assert summary["mean"].values[k] == pytest.approx(expected["p_dlt"]["mean"], abs=0.01)


def test_exnex_by_mcmc_is_oncobayes2s_and_its_ewoc_verdicts_hold(tmp_path):
    """The conflict case: the joint EXNEX fit (the decision of record) against OncoBayes2's
    within 4 combined MCSE (ours ~0.005, theirs ~0.002) plus 0.005 for the difference in how
    the two summarise the indicator (ours Rao-Blackwellised); the posterior probability of
    exchangeability falls from 0.8 to OncoBayes2's 0.542."""
    design, data, ref = _exnex(tmp_path, "b_exnex_conflict")
    rec = recommend(design, data, engine="exact", seed=3)
    assert rec.engine == "exnex" and rec.diagnostics["diagnostics_ok"]
    s = rec.summary
    for k, dose in enumerate(design.levels):
        expected = ref["new_trial"][f"{dose:g}"]
        for name, interval in INTERVALS.items():
            se = math.hypot(s[f"mcse_{name}"].values[k],
                            expected["interval_prob_mcse"][interval])
            assert abs(s[name].values[k] - expected["interval_prob"][interval]) <= (
                4 * se + 0.005), (dose, name)
    assert rec.diagnostics["p_exchangeable"] == pytest.approx(
        ref["prob_exchangeable_new"]["posterior"], abs=0.03)
    # the next cohort's predictive probabilities over both curves of every draw: a distribution
    # with mean n x the posterior mean, near the exact engine's on the MAP equivalent (0.02,
    # as the interval probabilities above)
    size = design.cohorts.size
    predictive = s["predictive"].values
    np.testing.assert_allclose(predictive.sum(axis=1), 1.0)
    np.testing.assert_allclose(predictive @ np.arange(size + 1), size * s["mean"].values)
    map_equivalent, _ = exact_summary(design, data)
    assert np.abs(predictive - map_equivalent["predictive"].values).max() <= 0.02
    check = rec.diagnostics["ewoc_check"]
    threshold = design.decision.max_overdose_probability
    gaps = np.abs(s["p_overdose"].values - threshold) / s["mcse_p_overdose"].values
    assert check["resolved"] == bool((gaps > 2).all())
    document = to_json(rec)
    assert all("mcse_p_overdose" in row for row in document["doses"])
    assert document["prior"]["kind"] == "exnex" and document["engine"] == "exnex"
    assert any("exchangeable" in note for note in document["notes"])


def test_bayesdose_map_writes_the_prior_a_protocol_fixes(tmp_path):
    """`bayesdose map` on the shipped example: the [model] section it writes reads back as the
    prior `prior = "map"` uses, so recommend on the frozen config is exact and needs no MCMC."""
    out = tmp_path / "prior.toml"
    result = CliRunner().invoke(main, ["map", str(CONFIGS / "drug-a-map.toml"),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "AIC (penalty 6 per parameter)" in result.output and "0 divergences" in result.output
    design = load_design(CONFIGS / "drug-a-map.toml")
    text = (CONFIGS / "drug-a-map.toml").read_text().replace(
        'data = "examples/', f'data = "{CONFIGS}/examples/')
    start, end = text.index("[model]\nprior"), text.index("[decision]")
    frozen = tmp_path / "frozen.toml"
    frozen.write_text(text[:start] + out.read_text() + "\n" + text[end:])
    assert load_design(frozen).prior.components == design.prior.components
    assert load_design(frozen).prior.weights == pytest.approx(design.prior.weights, abs=1e-15)


def test_the_api_gives_the_map_fit_a_design_uses():
    import bayesdose

    fit = bayesdose.map_prior(CONFIGS / "drug-a-map.toml")
    assert fit.prior == load_design(CONFIGS / "drug-a-map.toml").prior
    assert fit.robust_weight == 0.1 and fit.robust.sd == (1.0, 0.7073)  # the prior of mu
    with pytest.raises(Exception, match=r"\[historical\] data"):
        bayesdose.map_prior(CONFIGS / "xj-mk-002.toml")


def test_the_robust_component_is_nex_when_given(tmp_path):
    design = _design(tmp_path, "A", robust_weight=0.25,
                     hierarchy={"nex_mean": [LOGIT_02, 0.0], "nex_sd": [2.0, 1.0]})
    fit = map_prior(design)
    assert fit.prior.weights[-1] == pytest.approx(0.25)
    assert fit.prior.components[-1].sd == (2.0, 1.0)


def test_the_report_shows_the_history_the_map_prior_and_the_sensitivity(tmp_path):
    """The design report of the shipped MAP design: the historical trials with exact 95%
    intervals, how the MAP prior was derived, what it expects of a first cohort (and from how
    many DLTs recommend's conflict measure would flag it), and the sensitivity table."""
    from scipy.stats import beta

    from bayesdose.conflict import FLAG_LEVEL
    from bayesdose.posterior import exact_engine
    from bayesdose.predictive import grid_predictive

    out = tmp_path / "report"
    result = CliRunner().invoke(main, [
        "report", str(CONFIGS / "drug-a-map.toml"), "--scenarios",
        str(CONFIGS / "scenarios" / "drug-a.toml"), "--out", str(out),
        "--pathway-cohorts", "2"])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    history = html[html.index('id="historical-table"'):html.index("</table>",
                                                                  html.index("historical-table"))]
    assert history.count("monotherapy-2019") == 6
    low, high = beta.ppf(0.025, 4, 20), beta.ppf(0.975, 5, 19)  # 4 DLTs in 23 at 100 mg
    assert f"[{low:.3f}, {high:.3f}]" in history and "0.174" in history
    assert "mixture of 3 bivariate normal(s)" in html and "weight 0.1" in html
    sensitivity = html[html.index('id="sensitivity-table"'):]
    sensitivity = sensitivity[:sensitivity.index("</table>")]
    assert sensitivity.count("<tr>") == 4  # the header, this design's prior and two others
    assert "no borrowing" in sensitivity and "EXNEX" in sensitivity
    design = load_design(CONFIGS / "drug-a-map.toml")
    predictive = grid_predictive(3, exact_engine(design).prior_on_grid)
    assert np.allclose(predictive.sum(axis=1), 1.0)
    table = html[html.index('id="predictive-table"'):]
    table = table[:table.index("</table>")]
    rows = table.split("<tr>")[2:]  # after the header: one row per dose
    for k, row in enumerate(rows):
        flagged = [y for y in range(4) if predictive[k, y:].sum() < FLAG_LEVEL]
        assert (f"{flagged[0]} of 3</td>" if flagged else "never</td>") in row
        assert f"{predictive[k, 0]:.3f}" in row
    assert "2 of 3</td>" in rows[0] and "never</td>" in rows[-1]  # 12.5 mg and 150 mg


def test_the_ewoc_check_samples_more_while_a_verdict_is_in_doubt(tmp_path, monkeypatch):
    """exnex_summary doubles the draws while a P(overdose) is within 2 MCSE of the threshold
    (here: the first two rounds), stops when none is, and says what it did."""
    import xarray as xr

    from bayesdose.inference import exnex

    design, data, _ = _exnex(tmp_path, "a_exnex_agree")
    calls = []

    def fake_fit(design, data, seed, draws):
        calls.append((seed, draws))
        mcse = 0.04 / (draws / 1000)  # shrinks as the draws grow
        p_over = np.array([0.0, 0.0, 0.0, 0.05, 0.22, 0.6])  # 100 mg: 0.03 below 0.25
        summary = xr.Dataset({"p_overdose": ("dose", p_over),
                              "mcse_p_overdose": ("dose", np.full(6, mcse))},
                             coords={"dose": list(design.levels)})
        return summary, {}

    monkeypatch.setattr(exnex, "_fit", fake_fit)
    _, diagnostics = exnex.exnex_summary(design, data, seed=5)
    assert calls == [(5, 1000), (6, 2000), (7, 4000)]  # in doubt at MCSE 0.04 and 0.02
    check = diagnostics["ewoc_check"]
    assert [r["in_doubt"] for r in check["rounds"]] == [[100.0], [100.0], []]
    assert check["resolved"]
    calls.clear()
    monkeypatch.setattr(exnex, "MAX_DRAWS", 2000)  # the cap: still in doubt, flagged
    _, diagnostics = exnex.exnex_summary(design, data, seed=5)
    assert calls == [(5, 1000), (6, 2000)]
    assert diagnostics["ewoc_check"]["in_doubt"] == [100.0]
    assert not diagnostics["ewoc_check"]["resolved"]
