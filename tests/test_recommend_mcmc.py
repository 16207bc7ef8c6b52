"""`recommend --engine both|mcmc` shows what MCMC computed (per dose with MCSE, diagnostics, the
engines' largest difference), says which numbers decide, and `--strict` exits 3 when an MCMC
check fails: diagnostics (a real run with far too few draws) or disagreeing engines."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import EXIT_STRICT, main
from bayesdose.designs.blrm.crosscheck import COMPARED
from bayesdose.posterior import exact_summary

pytest.importorskip("pymc")

CONFIG = CONFIGS / "xj-mk-002.toml"
DATA = CONFIGS / "examples" / "xj-mk-002.csv"


def recommend(*args: object):
    return CliRunner().invoke(main, ["recommend", str(CONFIG), str(DATA), *map(str, args)])


# The doses as the terminal writes them (the config's [doses] format "auto": powers of ten)
TERMINAL = {1e8: "1x10^8", 3e8: "3x10^8", 6e8: "6x10^8"}


def table_row(text: str, dose: float) -> list[str]:
    """The cells of the MCMC table's row of ``dose`` (its lines hold "|" or "(")."""
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == TERMINAL[dose] and "(" in line and "[" not in line:
            return cells[1:]
    raise AssertionError(f"no MCMC row for {TERMINAL[dose]}")


def cell(html: str, key: str, dose_row: int) -> str:
    """The attributes of the MCMC table's cell ``key`` in row ``dose_row``."""
    table = html[html.index('id="mcmc-table"'):]
    row = table.split("<tr>")[2 + dose_row]
    return re.search(rf'<td class="num" data-key="{key}"[^>]*>', row).group(0)


def test_engine_both_shows_mcmc_beside_exact(tmp_path: Path) -> None:
    out, page = tmp_path / "both.json", tmp_path / "both.html"
    result = recommend("--engine", "both", "--json", out, "--html", page, "--strict")
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["engine"] == "both" and doc["decided_on"] == "exact" and doc["next_dose"] == 1e8
    assert doc["mcmc_failures"] == [] and not any("MCMC" in n for n in doc["notes"])
    comparison, sampler = doc["diagnostics"]["comparison"], doc["diagnostics"]["mcmc"]
    assert comparison["agree"] and comparison["disagreements"] == []
    assert comparison["max_abs_difference"] < 0.05 and comparison["max_difference_in_mcse"] < 4
    assert sampler["diagnostics_ok"] and doc["diagnostics"]["exact"]["engine"] == "exact"
    text = result.output
    for entry in doc["doses"]:  # the JSON of before, and the MCMC's predictive beside it
        mcmc = entry["mcmc"]
        assert {"mean", "sd", "q025", "median", "q975", "mcse_p_overdose"} <= set(mcmc)
        assert np.isclose(sum(mcmc["predictive"]), 1.0)
        assert np.isclose(np.arange(4) @ mcmc["predictive"], 3 * mcmc["mean"])
        assert table_row(text, entry["dose"]) == [
            f"{entry[n]:.3f} | {mcmc[n]:.3f} ({mcmc[f'mcse_{n}']:.3f})" for n in COMPARED]
    assert (f"MCMC diagnostics passed: largest R-hat {sampler['rhat_max']:.3f} (at most 1.01), "
            f"smallest bulk ESS {sampler['ess_bulk_min']:.0f} and tail ESS "
            f"{sampler['ess_tail_min']:.0f} (at least 400), 0 divergent transitions") in text
    where = comparison["max_difference_in_mcse_at"]
    assert (f"largest in MCSE units {comparison['max_difference_in_mcse']:.2f} "
            f"({COMPARED[where['variable']]} at {TERMINAL[where['dose']]} viable cells): the "
            "engines agree") in text
    assert "\ndecided on the exact engine's posterior" in text
    html = page.read_text()
    first = doc["doses"][0]
    assert (f'data-key="p_overdose" data-mcmc="{first["mcmc"]["p_overdose"]}" data-mcse='
            f'"{first["mcmc"]["mcse_p_overdose"]}" data-exact="{first["p_overdose"]}"'
            in cell(html, "p_overdose", 0))
    assert 'class="small" id="mcmc-diagnostics">MCMC diagnostics passed' in html
    assert 'class="small" id="engine-comparison">exact vs MCMC' in html
    start = html.index("<tbody>", html.index('id="mcmc-table"'))
    mcmc_rows = html[start:html.index("</tbody>", start)]
    assert re.findall(r"<tr><th>([^<]*)</th>", mcmc_rows) == [
        "1×10⁸ viable cells", "3×10⁸ viable cells", "6×10⁸ viable cells"]
    assert "x10^" not in html and "e+08" not in html  # the page's one form of a dose
    assert ("Decided on the exact engine&#39;s posterior (grid quadrature, no Monte Carlo "
            "error)") in html


@pytest.fixture
def few_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """NUTS with 2 chains of 40 draws (80 after the resampling): ESS far below 400."""
    from bayesdose.inference import mcmc

    monkeypatch.setattr(mcmc, "fit_mcmc",
                        functools.partial(mcmc.fit_mcmc, chains=2, draws=40, tune=40))


def test_a_failed_diagnostic_is_a_note_and_strict_exits_3(tmp_path: Path, few_draws) -> None:
    out, page, records = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "records"
    strict = recommend("--engine", "mcmc", "--strict", "--json", out, "--html", page,
                       "--record-dir", records)
    assert strict.exit_code == EXIT_STRICT == 3, strict.output
    assert "--strict: the MCMC check failed" in strict.output
    assert not out.exists() and not page.exists() and not records.exists()  # nothing written
    assert "note: MCMC diagnostics failed: first run failed diagnostics" in strict.output

    result = recommend("--engine", "mcmc", "--json", out, "--html", page)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    sampler = doc["diagnostics"]
    assert doc["decided_on"] == "mcmc" and not sampler["diagnostics_ok"]
    assert (sampler["chains"], sampler["draws"], sampler["resampled"]) == (2, 80, True)
    assert doc["mcmc_failures"] == [doc["notes"][0]]
    assert doc["mcmc_failures"][0].startswith("MCMC diagnostics failed: ")
    text = result.output
    assert ("MCMC estimates (MCSE) (PyMC NUTS, 2 chains x 80 draws after 80 tuning steps, "
            "seed 2, resampled once)") in text
    assert f"MCMC diagnostics FAILED: largest R-hat {sampler['rhat_max']:.3f}" in text
    assert ("\ndecided on the MCMC estimates (with their Monte Carlo error, MCSE), not on the "
            "exact engine") in text
    for entry in doc["doses"]:  # the decision's table shows the MCMC estimates: no exact beside
        assert table_row(text, entry["dose"]) == [
            f"{entry[n]:.3f} ({entry[f'mcse_{n}']:.3f})" for n in COMPARED]
    html = page.read_text()
    assert 'class="note" id="mcmc-diagnostics">MCMC diagnostics FAILED' in html
    assert "data-exact" not in html and "engine-comparison" not in html
    assert f'data-mcmc="{doc["doses"][1]["mean"]}"' in cell(html, "mean", 1)
    assert "Decided on the MCMC estimates" in html


def shifted_mcmc(design, data, seed):
    """An 'MCMC' summary 0.05 above the exact P(overdose), MCSE 0.005, diagnostics passed."""
    exact, _ = exact_summary(design, data)
    mcse = {f"mcse_{name}": ("dose", np.full(3, 0.005)) for name in COMPARED}
    fake = exact.assign(p_overdose=exact["p_overdose"] + 0.05, **mcse)
    diagnostics = {"engine": "mcmc", "chains": 4, "draws": 1000, "tune": 1000, "seed": seed,
                   "rhat_max": 1.001, "ess_bulk_min": 2000.0, "ess_tail_min": 1800.0,
                   "divergences": 0, "diagnostics_ok": True, "resampled": False,
                   "messages": []}
    return fake, diagnostics


def test_disagreeing_engines_are_a_note_and_strict_exits_3(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from bayesdose.designs.blrm import recommendation

    monkeypatch.setattr(recommendation, "mcmc_summary", shifted_mcmc)
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    strict = recommend("--engine", "both", "--strict", "--json", out)
    assert strict.exit_code == EXIT_STRICT and not out.exists()
    result = recommend("--engine", "both", "--json", out, "--html", page)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    comparison = doc["diagnostics"]["comparison"]
    assert not comparison["agree"]
    assert [(d["dose"], d["variable"]) for d in comparison["disagreements"]] == [
        (1e8, "p_overdose"), (3e8, "p_overdose"), (6e8, "p_overdose")]
    assert comparison["max_difference_in_mcse"] == pytest.approx(10.0)
    exact = doc["doses"][1]["p_overdose"]
    assert doc["mcmc_failures"] == [doc["notes"][0]]
    assert (f"P(over) at 3x10^8 viable cells: exact {exact:.3f}, MCMC {exact + 0.05:.3f} "
            "(MCSE 0.005)") in doc["mcmc_failures"][0]
    assert "the engines DISAGREE (differences beyond 4 MCSE + 0.002)" in result.output
    assert "note: the exact and MCMC engines disagree" in result.output
    assert doc["next_dose"] == 1e8  # the decision stays the exact engine's
    html = page.read_text()
    assert 'class="note" id="engine-comparison">' in html
    comparison_html = html.split('id="engine-comparison">')[1].split("</p>")[0]
    assert "viable cells" in comparison_html and "x10^" not in comparison_html
    assert "×10⁸ viable cells" in comparison_html  # the doses as the page writes them
