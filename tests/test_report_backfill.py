"""`bayesdose report` with backfill designs: which it compares, the backfill numbers in its
tables (those of summary.json), the scenario figure's backfill and OBD bars, and the page in a
real browser (headless Chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_hex
from test_figures import assert_apart, assert_legend_clear, drawn, label_boxes, panel_design
from test_report import page_cells, summary_value

from bayesdose.cli import main
from bayesdose.designs.registry import colour
from bayesdose.report.charts import RESPONSE, scenario_figure
from bayesdose.report.oc import BACKFILL_METRICS, EFFICACY_METRICS, METRICS, PER_DOSE_DECIMALS
from bayesdose.report.simulated_study import report_designs
from bayesdose.report.words import design_descriptions
from bayesdose.schema import load_design
from bayesdose.simulation.scenarios import load_scenarios

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "xj-mk-002-backfill.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "xj-mk-002-response.toml"
NO_RESPONSE = ROOT / "configs" / "scenarios" / "xj-mk-002.toml"
DECIMALS = {key: decimals for key, _, decimals in (*METRICS, *BACKFILL_METRICS,
                                                   *EFFICACY_METRICS)}
BASE = ["blrm", "3+3", "3+3-deesc", "crm", "boin"]


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of XJ-MK-002 with backfill, in the response scenarios (200 trials)."""
    out = tmp_path_factory.mktemp("report-backfill")
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", out, "--trials", 200,
                 "--seed", 5, "--pathway-cohorts", 2)
    assert result.exit_code == 0, result.output
    return out


def summary_of(report_dir: Path) -> dict:
    return json.loads((report_dir / "simulation" / "summary.json").read_text())


def expected_text(entry: dict, design: str, key: str) -> str:
    value, _ = summary_value(entry, design, key)
    name = key.split("[")[0]
    decimals = PER_DOSE_DECIMALS.get(name, DECIMALS.get(name, 1))  # duration: 1 decimal
    return "—" if value is None else f"{value:.{decimals}f}"


def test_backfill_designs_join_when_they_can_run() -> None:
    design = load_design(CONFIG)
    names, omitted = report_designs(design, load_scenarios(SCENARIOS, 3))
    assert (names, omitted) == ([*BASE, "blrm+backfill", "boin+backfill"], {})
    names, omitted = report_designs(design, load_scenarios(NO_RESPONSE, 3))
    assert names == BASE
    assert "scenario 'safe' p_response: missing" in omitted["blrm+backfill"]
    names, omitted = report_designs(design, load_scenarios(SCENARIOS, 3), "exact")
    assert names == BASE and omitted["boin+backfill"].startswith("--method exact:")
    registered = load_design(ROOT / "configs" / "xj-mk-002.toml")  # no [backfill]
    assert report_designs(registered, load_scenarios(SCENARIOS, 3)) == (BASE, {})


def test_backfill_designs_in_words_and_colours() -> None:
    words = design_descriptions(load_design(CONFIG), ["blrm+backfill", "boin+backfill"])
    assert words["blrm+backfill"].startswith("BLRM-EWOC: this design")
    assert ("fewer than 6 patients and has shown a response; it is closed where EWOC applies: "
            "posterior P(overdosing) at or above [decision] max_overdose_probability"
            ) in words["blrm+backfill"]
    assert "(BF-BOIN), with every dose above it" in words["boin+backfill"]
    assert "utility 100, 60, 40, 0" in words["boin+backfill"]
    assert colour("blrm") == "#1f4e79" and colour("blrm+backfill") == "#849eb5"  # 45% to white
    assert colour("blrm+backfill") != colour("boin+backfill")


def test_backfill_numbers_are_those_of_summary_json(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    summary = summary_of(report_dir)
    assert summary["designs"] == [*BASE, "blrm+backfill", "boin+backfill"]
    entries = {e["name"]: e for e in summary["scenarios"]}
    cells = [c for c in page_cells(html) if c["scenario"] is not None]
    for cell in cells:
        assert cell["text"] == expected_text(entries[cell["scenario"]], cell["data-design"],
                                             cell["data-key"])
    keys = {(c["scenario"], c["data-design"], c["data-key"]) for c in cells}
    for name in entries:
        for design in ("blrm+backfill", "boin+backfill"):
            for key, _, _ in (*BACKFILL_METRICS, *EFFICACY_METRICS):
                assert (name, design, key) in keys
            for k in range(3):
                for key in ("patients_escalation", "patients_backfill", "select_obd"):
                    assert (name, design, f"{key}[{k}]") in keys
        # every design selects an OBD; one without backfill has a dash in the backfill rows,
        # and one allocation row
        for design in BASE:
            assert entries[name]["designs"][design]["p_select_obd"] is not None
            assert {(name, design, key) for key, _, _ in EFFICACY_METRICS} <= keys
            assert {(name, design, f"select_obd[{k}]") for k in range(3)} <= keys
        assert (name, "3+3", "backfill_mean") in keys
        assert (name, "3+3", "patients_backfill[0]") not in keys
        assert (name, "3+3", "patients[0]") in keys
    bf = entries["safe-plateau"]["designs"]["blrm+backfill"]
    assert bf["backfill_mean"] > 1 and bf["responses_mean"] > 5  # backfill happened
    words = " ".join(html.split())
    assert ("true MTD: <b>level 3, 6×10⁸ viable cells</b>. True response rates 0.3, 0.6, 0.6; "
            "true optimal biological dose (OBD): <b>level 2, 3×10⁸ viable cells</b>.") in words
    assert "true optimal biological dose (OBD): <b>none (every dose is too toxic)</b>" in words
    assert html.count('<table class="oc obd-selection">') == 5


def test_backfill_figure_stacks_backfill_and_shows_the_obd() -> None:
    """Hatched backfill patients on top of the escalation's; the OBD panel's bars are
    select_obd against the true response rates on its own right-hand axis."""
    rng = np.random.default_rng(1)
    for k in (3, 5, 15):
        design = panel_design(k, "viable cells", 1e8)
        names = ["blrm", "blrm+backfill", "boin+backfill"]
        designs = {}
        for name in names:
            oc = {"select": list(rng.dirichlet(np.ones(k + 1))[:k]), "select_none": 0.01,
                  "patients": list(rng.uniform(0, 8, k))}
            if name.endswith("+backfill"):
                oc |= {"patients_escalation": list(rng.uniform(0, 8, k)),
                       "patients_backfill": list(rng.uniform(0, 4, k)),
                       "select_obd": list(rng.dirichlet(np.ones(k)))}
            designs[name] = oc
        entry = {"designs": designs, "p_true": list(np.linspace(0.02, 0.6, k)), "true_mtd": 2,
                 "p_response": list(np.linspace(0.1, 0.7, k)), "true_obd": 2}
        fig = scenario_figure(design, entry)
        renderer = drawn(fig)
        left, middle, obd, *twins = fig.axes
        for ax in (left, middle, obd):
            assert_apart(label_boxes(ax, renderer))
        assert_legend_clear(fig, renderer)
        assert obd.get_title(loc="left") == "OBD selection" and len(twins) == 3
        assert to_hex(twins[2].spines["right"].get_edgecolor()) == RESPONSE
        assert list(twins[2].lines[0].get_ydata()) == entry["p_response"]
        bars = [p for p in middle.patches if p.get_width() < 1]  # not the true MTD's column
        hatched = [p for p in bars if p.get_hatch()]
        solid = [p for p in bars if not p.get_hatch()]
        assert len(hatched) == 2 * k and len(solid) == 3 * k
        ours = designs["blrm+backfill"]
        assert [p.get_y() for p in hatched[:k]] == pytest.approx(ours["patients_escalation"])
        assert [p.get_height() for p in hatched[:k]] == pytest.approx(ours["patients_backfill"])
        heights = [p.get_height() for p in obd.patches if p.get_width() < 1]
        assert heights == pytest.approx(designs["blrm+backfill"]["select_obd"]
                                        + designs["boin+backfill"]["select_obd"])
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "backfill patients" in legend and "true P(response) (right axis)" in legend


def test_report_of_a_simulation_with_any_backfill_design(tmp_path: Path) -> None:
    """--sim: a study of other backfill designs (3+3 with backfill) shows their columns."""
    sim = tmp_path / "sim"
    result = run("simulate", CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3,3+3+backfill",
                 "--trials", 100, "--seed", 2, "--workers", 1, "--out", sim)
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--sim", sim, "--out", out)
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    entry = json.loads((sim / "summary.json").read_text())["scenarios"][1]
    assert entry["name"] == "safe-plateau"
    cells = {(c["data-design"], c["data-key"]): c["text"] for c in page_cells(html)
             if c["scenario"] == "safe-plateau"}
    for key in ("p_select_obd", "patients_backfill[1]", "select_obd[1]", "responses_mean"):
        assert cells[("3+3+backfill", key)] == expected_text(entry, "3+3+backfill", key)
    assert cells[("3+3", "p_select_obd")] == expected_text(entry, "3+3", "p_select_obd") != "—"
    assert cells[("3+3", "backfill_mean")] == "—"
    assert "3+3 + backfill: backfill" in html
    assert "not compared: not in the reused simulation" in html  # blrm+backfill, BF-BOIN


# -- in a real browser ------------------------------------------------------------------------


def test_backfill_report_in_a_real_browser(browser, report_dir: Path) -> None:
    browser.get((report_dir / "report.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    images = browser.execute_script("""return [...document.images].map(i => {
        const r = i.getBoundingClientRect();
        return [i.complete, i.naturalWidth, i.naturalHeight, r.width, r.height]; })""")
    assert len(images) == 2 + 5  # prior, tree, one figure per scenario
    for complete, natural_w, natural_h, width, height in images:
        assert complete and natural_w > 0 and natural_h > 0 and width > 100 and height > 50
        assert abs(width / height - natural_w / natural_h) < 0.02  # not stretched
    summary = summary_of(report_dir)
    entries = {e["name"]: e for e in summary["scenarios"]}
    shown = browser.execute_script("""return [...document.querySelectorAll('td[data-key]')]
        .map(td => [td.closest('section').dataset.scenario, td.dataset.design, td.dataset.key,
                    td.querySelector('.v').innerText])""")
    backfill = [s for s in shown if s[2].startswith(("patients_", "select_obd", "p_select_obd",
                                                     "backfill_mean", "responses_mean", "late"))]
    # 4 rows x 8 columns; per dose (3 doses) escalation and backfill patients of the 2
    # backfill designs, the OBD selection of all 7
    assert len(backfill) == 5 * (8 * 4 + 2 * 2 * 3 + 7 * 3)
    for scenario, design, key, text in shown:
        assert text == expected_text(entries[scenario], design, key)
    rows = browser.execute_script("""return [...document.querySelectorAll(
        'section[data-scenario="middle-flat"] table.obd-selection tr')]
        .map(tr => [...tr.cells].map(c => c.innerText.trim()))""")
    assert rows[0] == ["Design", "1×10⁸", "3×10⁸", "6×10⁸"]
    assert rows[1] == ["true P(response)", "0.4", "0.45", "0.5"]
    assert [r[0] for r in rows[2:]] == ["BLRM-EWOC", "3+3", "3+3 de-esc.", "CRM", "BOIN",
                                        "BLRM-EWOC + backfill", "BOIN + backfill"]
    # the OBD table sits beside its words, below the MTD selection table
    top = browser.execute_script("""const s = document.querySelector(
        'section[data-scenario="middle-flat"]');
        return [s.querySelector('table.selection').getBoundingClientRect().bottom,
                s.querySelector('table.obd-selection').getBoundingClientRect().top]""")
    assert top[1] > top[0]


@pytest.mark.parametrize(("names", "hatched"), [(["3+3"], False),
                                                (["3+3", "boin+backfill"], True)])
def test_the_caption_names_hatched_backfill_only_with_a_backfill_design(
        tmp_path: Path, names: list[str], hatched: bool) -> None:
    """A scenario with response rates: the caption explains the OBD panel for any design, and
    the hatched backfill patients only when a backfill design is in the study."""
    from bayesdose.report.build import ReportInputs, report_html
    from bayesdose.report.simulated_study import Study
    from bayesdose.simulation.study import run_study

    design = load_design(CONFIG)
    scenario = load_scenarios(SCENARIOS, 3)[:1]
    summary = dict(run_study(design, scenario, names, 20, 1).summary, seed=1, designs=names)
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    html = report_html(design, Study(summary, path, 0.1, False, {}),
                       ReportInputs(CONFIG, SCENARIOS, "bayesdose report"), 2)
    caption = " ".join(html.split("<figcaption>Probability of selecting each dose")[1]
                       .split("</figcaption>")[0].split())
    assert caption.startswith("(left) and mean number of patients per dose (middle), by "
                              "design; the red line is the true DLT curve (right-hand axis).")
    assert caption.endswith("Right: the probability that each design selects each dose as the "
                            "optimal biological dose, against the true response rates "
                            "(right-hand axis).")
    assert ("Hatched: the backfill patients of a backfill design, on top of its escalation "
            "patients." in caption) is hatched
