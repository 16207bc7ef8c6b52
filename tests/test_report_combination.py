"""``bayesdose report`` on a two-drug config: the combination BLRM, BOIN-comb and the waterfall
simulated, every OC
number on the page is summary.json's, the heatmaps show the summary's matrices with the true
MTD set boxed, the combination BLRM's pathways, and the page in a real browser."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bayesdose.cli import main
from bayesdose.report.combination_study import METRICS, PER_PAIR, heatmaps
from bayesdose.schema import load_design
from tests.test_report import page_cells

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "combination-3x5.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "combination-3x5.toml"
DECIMALS = {key: d for key, _, d in METRICS} | {key: d for key, (_, d) in PER_PAIR.items()}


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("combination-report")
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", out, "--trials", 300)
    assert result.exit_code == 0, result.output
    return out


def _summary(report_dir: Path) -> dict:
    return json.loads((report_dir / "simulation" / "summary.json").read_text())


def _value(entry: dict, design: str, key: str) -> tuple[float | None, float | None]:
    """(value, standard error) of "pcs" or "select[1][2]" in a scenario entry."""
    oc = entry["designs"][design]
    if "[" not in key:
        return oc.get(key), oc["se"].get(key)
    name, a, b = key.replace("]", "").split("[")
    return oc[name][int(a)][int(b)], oc["se"][name][int(a)][int(b)]


def test_the_report_simulates_the_three_designs(report_dir: Path) -> None:
    summary = _summary(report_dir)
    assert summary["designs"] == ["blrm", "boin-comb", "waterfall"] and summary["combination"]
    assert (report_dir / "report.pdf").read_bytes().startswith(b"%PDF")
    html = (report_dir / "report.html").read_text()
    assert "Not compared" not in html
    for words in ("BOIN for combinations (Lin &amp; Yin 2017", "Waterfall design (Zhang",
                  "True MTD set: <b>A 10 mg + B 12 mg/kg; A 20 mg + B 8 mg/kg; A 40 mg + B 4"):
        assert words in html


def test_every_oc_number_is_summary_jsons(report_dir: Path) -> None:
    summary = _summary(report_dir)
    entries = {e["name"]: e for e in summary["scenarios"]}
    cells = [c for c in page_cells((report_dir / "report.html").read_text())
             if c["scenario"] is not None]
    for cell in cells:
        value, se = _value(entries[cell["scenario"]], cell["data-design"], cell["data-key"])
        decimals = DECIMALS[cell["data-key"].split("[")[0]]
        if value is None:
            assert cell["text"] == "—"
            continue
        assert float(cell["data-value"]) == value and float(cell["data-se"]) == se
        assert cell["text"] == f"{value:.{decimals}f}"
    per_scenario = 4 * len(METRICS) + 15 * (2 + 2 + 2 + 1)  # 4 designs; optimal: selection
    assert len(cells) == len(entries) * per_scenario


def test_the_heatmaps_show_the_matrices_and_box_the_true_mtd_set(report_dir: Path) -> None:
    from matplotlib.patches import Rectangle

    design = load_design(CONFIG)
    entry = _summary(report_dir)["scenarios"][1]  # staircase: [1,4], [2,3], [3,2]
    fig = heatmaps(design, entry)
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(drawn) == 7  # selection and patients of three designs, the benchmark's selection
    for ax in drawn:
        boxes = [(p.get_x() + 0.5, p.get_y() + 0.5) for p in ax.patches
                 if isinstance(p, Rectangle)]
        assert sorted(boxes) == sorted((b - 1, a - 1) for a, b in entry["true_mtd_set"])
        design_name, what = ax.get_title(loc="left").split(": ")
        name = {"BLRM-EWOC": "blrm", "BOIN-comb": "boin-comb", "Waterfall": "waterfall",
                "Optimal": "optimal"}[design_name]
        key = "select" if what == "selection" else "patients"
        matrix = entry["designs"][name][key]
        texts = {(t.get_position()[1], t.get_position()[0]): t.get_text() for t in ax.texts}
        for a, row in enumerate(matrix):
            for b, value in enumerate(row):
                assert texts[(a, b)] == f"{value:.{DECIMALS[key]}f}"


def test_the_pathways_start_at_the_start_pair(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    text = html.split('<pre id="pathways-text">')[1].split("</pre>")[0]
    lines = text.splitlines()
    first = [line for line in lines if line.startswith("  1. ")]
    assert len(first) == 4  # 0..3 DLTs in the first cohort of 3 (two cohorts by default)
    assert lines[0].startswith("  1. 0/3 at A 10 mg + B 1 mg/kg -&gt; ")
    assert "(escalate)" in lines[0] and lines[1].startswith("    2. 0/3 at ")


def test_the_pathway_tree_beside_the_lines(report_dir: Path) -> None:
    """The tree drawn from the start pair: its root box and one box per line of the text."""
    html = (report_dir / "report.html").read_text()
    encoded = html.split('id="pathways-figure" src="data:image/svg+xml;base64,', 1)[1]
    svg = base64.b64decode(encoded.split('"', 1)[0]).decode()
    lines = html.split('<pre id="pathways-text">')[1].split("</pre>")[0].splitlines()
    assert ">start: A 10 + B 1 × 3<" in svg and ">before the<" in svg
    assert svg.count("× 3<") + svg.count(">STOP: ") == len(lines) + 1
    for line in lines:
        dlts, size = line.split(". ", 1)[1].split(" at ")[0].split("/")
        assert f">{dlts}/{size}<" in svg


def test_the_prior_per_pair_is_the_engines_with_no_patients(report_dir: Path) -> None:
    """Section 2's prior tables: the combination engine's summaries with no data, computed
    here apart from the report (the engine on the grid's pairs), each to 3 decimals."""
    from bayesdose.inference.combination import CombinationEngine

    design = load_design(CONFIG)
    panel = design.pair_panel
    doses = [[panel.doses(k)[name] for name in panel.names] for k in range(panel.size)]
    engine = CombinationEngine(design.combination_model, np.array(doses),
                               design.decision.target_interval)
    prior = engine.summarise(np.zeros(panel.size), np.zeros(panel.size))[0]
    html = (report_dir / "report.html").read_text()
    assert "; interaction: " in html.split('id="prior"')[1].split("</p>")[0]
    rows, cols = panel.shape
    for key in ("mean", "p_target", "p_overdose"):
        table = html.split(f'<table class="oc prior" data-key="{key}">')[1].split("</table>")[0]
        shown = [float(v) for v in re.findall(r'<td class="num">([^<]*)</td>', table)]
        expected = [getattr(prior, key)[0, a * cols + b] for a in range(rows - 1, -1, -1)
                    for b in range(cols)]
        assert shown == [float(f"{v:.3f}") for v in expected]
    assert prior.mean[0].min() < prior.mean[0].max()  # the tables are not constant


@pytest.mark.parametrize("extra, where", [
    (["--method", "exact"], "--method exact"),
    (["--sim", "MISSING"], "summary.json"),
    (["--pathway-cohorts", "4"], "--pathway-cohorts"),
])
def test_two_drug_report_errors(tmp_path: Path, extra: list, where: str) -> None:
    extra = [str(tmp_path / "nothing") if e == "MISSING" else e for e in extra]
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", tmp_path / "out", *extra)
    assert result.exit_code == 2 and where in result.output
    assert not (tmp_path / "out" / "report.html").exists()


def test_a_reused_simulation_of_other_scenarios_is_refused(report_dir: Path,
                                                           tmp_path: Path) -> None:
    other = tmp_path / "scenarios.toml"
    other.write_text(SCENARIOS.read_text().replace("staircase", "stairs"))
    result = run("report", CONFIG, "--scenarios", other, "--out", tmp_path / "out", "--sim",
                 report_dir / "simulation")
    assert result.exit_code == 2 and "its scenarios differ" in result.output


def test_the_report_in_a_real_browser(browser, report_dir: Path) -> None:
    browser.get((report_dir / "report.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)") == []
    images = browser.execute_script("""return [...document.images].map(i => {
        const r = i.getBoundingClientRect();
        return [i.complete, i.naturalWidth, r.width, r.height]; })""")
    assert len(images) == 4  # one per scenario, and the pathway tree
    for complete, natural, width, height in images:
        assert complete and natural > 0 and width > 300 and height > 200
    summary = _summary(report_dir)
    entry = summary["scenarios"][0]
    pcs = browser.execute_script(
        "return document.querySelector('#oc-1 td[data-design=\"waterfall\"][data-key=\"pcs\"]"
        " .v').innerText")
    assert pcs == f"{entry['designs']['waterfall']['pcs']:.3f}"
    marked = browser.execute_script(
        "return [...document.querySelectorAll('#oc-1 table.truth td.mtd')].map(t => t.innerText)")
    p_true = entry["p_true"]
    assert marked == [f"{p_true[a - 1][b - 1]:g}" for a, b in sorted(
        entry["true_mtd_set"], key=lambda p: (-p[0], p[1]))]
