"""Two drugs: ``recommend --engine mcmc|both`` (the combination BLRM in PyMC beside the
deterministic engine, under the single agent's diagnostics gate) and dated data (patients in
DLT follow-up counted with their TITE weight, or left out with ``followup = "complete"``, as
for one drug).

One MCMC run (4 chains x 1,000 draws, about 20 s) on a dated data set with patients in
follow-up: PyMC's likelihood is the single agent's TITE rows (``weighted_loglik``), written
apart from the deterministic engine's, so their agreement checks both the engine and its TITE
term."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bayesdose.cli import main
from bayesdose.data import TrialData, read_trial_data
from bayesdose.designs.blrm_comb import crosscheck
from bayesdose.designs.blrm_comb.recommendation import recommend_combination, to_json
from bayesdose.schema import design_from_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "combination-blrm.toml"
DATA = ROOT / "configs" / "examples" / "combination-blrm.csv"
RAW = tomllib.loads(CONFIG.read_text())
AS_OF = date(2024, 6, 1)
# The example's 30 patients dated: cohorts 28 days apart; the last cohort (A 80 mg + B 1 mg)
# dosed 10 days before AS_OF: P28 and P30 followed 10 of 28 days, P29's DLT on day 5.
DATED = "patient_id,cohort,dose_A,dose_B,dlt,enrolled,dlt_day\n" + "".join(
    f"{pid},{cohort},{a},{b},{dlt},{enrolled},{day}\n"
    for pid, cohort, a, b, dlt, enrolled, day in (
        (row[0], int(row[1]), row[2], row[3], int(row[4]),
         date.fromordinal(AS_OF.toordinal() - 10 - 28 * (10 - int(row[1]))).isoformat(),
         "5" if int(row[4]) else "")
        for row in (line.split(",") for line in DATA.read_text().splitlines()[1:])))


def _design(followup: str = "tite"):
    cohorts = {**RAW["cohorts"], "dlt_window_days": 28, "followup": followup}
    return design_from_dict({**RAW, "cohorts": cohorts}, "combo-tite.toml")


def _read(design, tmp_path: Path, text: str = DATED) -> TrialData:
    path = tmp_path / "dated.csv"
    path.write_text(text)
    return read_trial_data(path, design, AS_OF)


@pytest.fixture(scope="module")
def dated(tmp_path_factory) -> TrialData:
    return _read(_design(), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def both(dated):
    return recommend_combination(_design(), dated, engine="both", seed=1)


def _with_outcomes(design, tmp_path, rows: str) -> TrialData:
    """The dated data with the last cohort's rows replaced."""
    head = DATED.splitlines()[:-3]
    return _read(design, tmp_path, "\n".join([*head, *rows.splitlines()]) + "\n")


# --- dated data --------------------------------------------------------------------------------


def test_dated_two_drug_data_count_patients_in_follow_up(dated):
    assert (ROOT / "configs" / "examples" / "combination-blrm-dated.csv").read_text() == DATED
    pairs = _design().pair_panel
    arm = pairs.index(2, 1)  # A 80 mg + B 1 mg
    assert [p.patient_id for p in dated.pending_patients] == ["P28", "P30"]
    assert dated.n[arm] == 9 and dated.dlt[arm] == 2
    assert dated.pending[arm, 10] == 2 and dated.pending.sum() == 2


def test_a_patient_followed_0_days_counts_as_none_and_a_whole_window_as_complete(tmp_path):
    """The TITE likelihood 1 - (d / T) p: weight 0 is a patient not yet there, weight 1 a
    complete outcome; anything between moves P(DLT) between the two, and followup =
    'complete' leaves the patients in follow-up out."""
    design = _design()
    dose = _design().pair_panel.index(2, 1)
    enrolled = {d: date.fromordinal(AS_OF.toordinal() - d).isoformat() for d in (0, 10, 28)}

    def mean(rows: str, followup: str = "tite") -> float:
        data = _with_outcomes(_design(followup), tmp_path, rows)
        return float(recommend_combination(_design(followup), data).summary.mean[0, dose])

    def last(days: int) -> str:
        """P28 and P29 at the pair, followed ``days`` days without a DLT."""
        return "".join(f"P{28 + i},10,80,1,0,{enrolled[days]},\n" for i in range(2))

    without = _with_outcomes(design, tmp_path, "")  # the last cohort left out
    before = float(recommend_combination(design, without).summary.mean[0, dose])
    dlt = f"P30,10,80,1,1,{enrolled[10]},5\n"
    assert mean(last(0)) == pytest.approx(before, abs=1e-9)  # weight 0: no information
    followed, complete = mean(last(10) + dlt), mean(last(28) + dlt)
    assert complete < followed  # a whole window without DLT is more reassuring
    only_dlt = mean(dlt.replace("P30", "P28"))
    assert complete < followed < only_dlt  # partial follow-up counts partly
    assert mean(last(10) + dlt, "complete") == pytest.approx(only_dlt, abs=1e-9)


def test_the_pending_patients_are_in_the_text_and_the_json(tmp_path, dated):
    rec = recommend_combination(_design(), dated)
    document = to_json(rec)
    assert document["as_of"] == "2024-06-01"
    assert document["pending"] == [
        {"patient_id": pid, "dose": {"A": 80.0, "B": 1.0}, "days_followed": 10,
         "weight": 10 / 28} for pid in ("P28", "P30")]
    assert ("pending: P28 at A 80 mg + B 1 mg, 10 of 28 days without DLT (weight 0.357) as of "
            "2024-06-01") in str(rec)
    complete = recommend_combination(_design("complete"), dated)
    assert ("2 patient(s) still in DLT follow-up are not yet counted in the model ([cohorts] "
            "followup = 'complete')") in complete.notes


# --- MCMC beside the deterministic engine ------------------------------------------------------


def test_the_mcmc_posterior_agrees_with_the_deterministic_engine(both):
    """Every arm, the mean and the three interval probabilities: within 4 MCSE plus the
    combination engine's error bound and 1e-3, under a clean diagnostics gate."""
    sampler = both.mcmc.diagnostics
    assert sampler["diagnostics_ok"] and sampler["divergences"] == 0
    assert sampler["rhat_max"] <= 1.01 and sampler["ess_bulk_min"] >= 400
    assert both.mcmc.comparison["agree"] and both.failures == ()
    assert pytest.approx(4e-3) == crosscheck.AGREE_FLOOR
    mcmc = both.mcmc.summary
    for name in ("mean", "p_underdose", "p_target", "p_overdose"):
        diff = np.abs(getattr(both.summary, name)[0] - mcmc[name].values)
        assert (diff <= 4 * mcmc[f"mcse_{name}"].values + crosscheck.AGREE_FLOOR).all(), name
    assert np.abs(both.summary.mean[0] - mcmc["mean"].values).max() < 0.01
    # the arms: the 16 pairs and both monotherapy arms with patients
    assert len(both.arms) == 18 and mcmc.sizes["dose"] == 18


def test_both_decides_on_the_deterministic_engine_and_shows_mcmc_beside_it(both, dated):
    exact = recommend_combination(_design(), dated)
    assert both.decision == exact.decision
    np.testing.assert_array_equal(both.summary.p_target, exact.summary.p_target)
    document = to_json(both)
    assert document["engine"] == "both" and document["decided_on"] == "exact"
    assert set(document["diagnostics"]) == {"exact", "mcmc", "comparison"}
    assert document["diagnostics"]["exact"]["resolved"]
    entry = document["doses"][0]
    assert entry["mcmc"]["p_target"] == pytest.approx(float(both.mcmc.summary["p_target"][0]))
    assert entry["mcmc"]["mcse_p_target"] > 0
    worst = document["diagnostics"]["comparison"]["max_abs_difference_at"]["dose"]
    assert set(worst) == {"A", "B"}  # an arm named by both drugs' doses
    text = str(both)
    assert "posterior per pair (deterministic engine, MCMC beside it)" in text
    assert "MCMC beside the exact engine (PyMC NUTS, 4 chains x 1000 draws" in text
    assert "MCMC diagnostics passed" in text and "the engines agree" in text
    assert "decided on the deterministic engine's posterior" in text


def test_mcmc_decides_with_its_monte_carlo_error(both, dated, monkeypatch):
    """``--engine mcmc``: the rules on the MCMC estimates, a pair borderline within 2 MCSE of
    the EWOC threshold (the same run as ``both``'s, not sampled again)."""
    monkeypatch.setattr(crosscheck, "fit", lambda *args: crosscheck.McmcRun(
        both.mcmc.summary, both.mcmc.diagnostics))
    rec = recommend_combination(_design(), dated, engine="mcmc")
    p_over = both.mcmc.summary["p_overdose"].values[:16]
    np.testing.assert_array_equal(rec.summary.p_overdose[0], both.mcmc.summary[
        "p_overdose"].values)
    assert rec.diagnostics is None and rec.decided_on == "mcmc"
    expected = np.abs(p_over - 0.25) <= 2 * both.mcmc.summary["mcse_p_overdose"].values[:16]
    assert rec.borderline == tuple(bool(b) for b in expected)
    allowed = [p < 0.25 for p in p_over]
    assert [b != "overdose_probability" for b in rec.decision.barred_by] == allowed
    document = to_json(rec)
    assert document["engine"] == "mcmc" and document["decided_on"] == "mcmc"
    assert document["diagnostics"]["sampler"] == "pymc-nuts"
    assert document["doses"][0]["mcse_p_overdose"] >= 0 and "mcmc" not in document["doses"][0]
    assert str(rec).splitlines()[1].startswith("combination BLRM by MCMC: PyMC NUTS, 4 chains")


def test_a_disagreement_is_a_failure_and_strict_exits_3(both, dated, monkeypatch, tmp_path):
    """A shifted MCMC estimate fails the comparison: a note naming the arm, and --strict
    exits 3 writing nothing."""
    shifted = both.mcmc.summary.copy(deep=True)
    shifted["p_target"].values[5] += 0.2
    monkeypatch.setattr(crosscheck, "fit", lambda *args: crosscheck.McmcRun(
        shifted, both.mcmc.diagnostics))
    rec = recommend_combination(_design(), dated, engine="both")
    assert len(rec.failures) == 1
    assert rec.failures[0].startswith("the exact and MCMC engines disagree (beyond 4 MCSE + "
                                      "0.004): P(target) at A 50 mg + B 1 mg: exact 0.")
    config, data = tmp_path / "c.toml", tmp_path / "d.csv"
    config.write_text(CONFIG.read_text().replace("size = 3", "size = 3\ndlt_window_days = 28"))
    data.write_text(DATED)
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(main, ["recommend", str(config), str(data), "--engine", "both",
                                       "--as-of", "2024-06-01", "--strict", "--json", str(out)])
    assert result.exit_code == 3, result.output
    assert not out.exists()
    assert "the exact and MCMC engines disagree" in result.output
    assert json.loads(json.dumps(to_json(rec)))["mcmc_failures"] == list(rec.failures)


def test_the_html_page_shows_the_mcmc_beside_the_engine(both, monkeypatch, tmp_path, browser):
    """``--engine both --html``: the MCMC table (every arm), its diagnostics and the
    comparison on the page, as printed (the same run as ``both``'s)."""
    monkeypatch.setattr(crosscheck, "fit", lambda *args: crosscheck.McmcRun(
        both.mcmc.summary, both.mcmc.diagnostics))
    config, data, page = tmp_path / "c.toml", tmp_path / "d.csv", tmp_path / "p.html"
    config.write_text(CONFIG.read_text().replace("size = 3", "size = 3\ndlt_window_days = 28"))
    data.write_text(DATED)
    result = CliRunner().invoke(main, ["recommend", str(config), str(data), "--engine", "both",
                                       "--as-of", "2024-06-01", "--html", str(page)])
    assert result.exit_code == 0, result.output
    browser.get(page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    shown = browser.execute_script("return document.querySelector('#mcmc').innerText")
    printed = result.output.split("\n\nMCMC beside", 1)[1].split("\n\n", 1)[0]
    assert shown.splitlines() == ("MCMC beside" + printed).splitlines()
    assert len(shown.splitlines()) == 1 + 1 + 18 + 2  # heading, titles, arms, two remarks
    subtitle = browser.execute_script("return document.querySelector('.subtitle').innerText")
    assert "combination BLRM, deterministic engine, MCMC beside it" in subtitle
    decided = browser.execute_script("return document.querySelector('#decided-on').innerText")
    assert decided.startswith("decided on the deterministic engine's posterior")


def test_an_untried_pair_above_waits_for_a_complete_patient_at_the_current_pair(tmp_path):
    """The first nine cohorts, the ninth (A 80 mg + B 2 mg, a pair new to the trial) dosed 10
    days before AS_OF without a DLT so far. Of the untried pairs above it, A 100 mg + B 2 mg
    and + B 3 mg are barred by EWOC first; A 80 mg + B 3 mg, which EWOC allows, waits for one
    patient to complete the window at the current pair ([cohorts] min_complete_followup = 1),
    with the reason in words. The same data with everyone's follow-up complete allow it."""
    rows = [line.split(",") for line in DATED.splitlines()[1:28]]
    text = DATED.splitlines()[0] + "\n" + "".join(
        ",".join([*r[:4], "0" if r[1] == "9" else r[4],
                  date.fromordinal(date.fromisoformat(r[5]).toordinal() + 28).isoformat(),
                  "" if r[1] == "9" else r[6]]) + "\n" for r in rows)
    design = _design()
    rec = recommend_combination(design, _read(design, tmp_path, text))
    pairs = design.pair_panel
    assert pairs.label(rec.decision.current_pair) == "A 80 mg + B 2 mg"
    verdicts = zip(rec.decision.barred_by, rec.decision.why_barred, strict=True)
    barred = dict(zip(map(pairs.label, range(pairs.size)), verdicts, strict=True))
    assert [k for k, (code, _) in barred.items() if code == "followup"] == ["A 80 mg + B 3 mg"]
    assert barred["A 80 mg + B 3 mg"][1] == ("follow-up: 1 patient(s) must first complete the "
                                             "DLT window at the current pair (A 80 mg + B 2 mg)")
    assert barred["A 100 mg + B 2 mg"][0] == barred["A 100 mg + B 3 mg"][0] == (
        "overdose_probability")
    complete = dataclasses.replace(rec.data, pending=None)
    after = recommend_combination(design, complete).decision
    assert after.barred_by[list(barred).index("A 80 mg + B 3 mg")] is None
    assert "followup" not in after.barred_by
