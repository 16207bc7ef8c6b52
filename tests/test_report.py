"""`bayesdose report`: the design report's content, its numbers (those of summary.json),
escaping, reuse of a simulation, and the page in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bayesdose.cli import main
from bayesdose.report import pathways
from bayesdose.report.build import ReportInputs, report_html
from bayesdose.report.oc import DURATION, METRICS, PER_DOSE_DECIMALS
from bayesdose.report.prior import prior_per_dose
from bayesdose.report.simulated_study import Study, report_designs, reuse
from bayesdose.schema import design_from_dict, load_design, read_toml
from bayesdose.simulation.scenarios import load_scenarios

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "xj-mk-002.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "xj-mk-002.toml"
DECIMALS = {key.split("[")[0]: decimals for key, _, decimals in (*METRICS, DURATION)}
EVIL = "<script>alert(1)</script>"


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the shipped XJ-MK-002 design (exact operating characteristics)."""
    out = tmp_path_factory.mktemp("report")
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", out,
                 "--pathway-cohorts", 2)
    assert result.exit_code == 0, result.output
    return out


class Cells(HTMLParser):
    """The numbers of a page: every element with data-key, by scenario section."""

    def __init__(self) -> None:
        super().__init__()
        self.scenario: str | None = None
        self.cells: list[dict] = []
        self._open: dict | None = None
        self._in_value = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section" and "data-scenario" in a:
            self.scenario = a["data-scenario"]
        elif "data-key" in a:
            self._open = dict(a, scenario=self.scenario, text="")
            self.cells.append(self._open)
        elif tag == "span" and a.get("class") == "v" and self._open is not None:
            self._in_value = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_value = False
        elif tag == "td":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._in_value and self._open is not None:
            self._open["text"] += data


def page_cells(html: str) -> list[dict]:
    parser = Cells()
    parser.feed(html)
    return parser.cells


def summary_value(entry: dict, design: str, key: str) -> tuple[float | None, float | None]:
    """(value, standard error) of ``key`` ("pcs" or "select[2]") in a scenario entry."""
    oc = entry["designs"][design]
    if "[" in key:  # a dose's entry, or the mean of a duration
        name, k = key[:-1].split("[")
        if name not in oc:  # the benchmark has no duration
            return None, None
        index = int(k) if k.isdigit() else k
        return oc[name][index], oc["se"][name][index]
    return oc.get(key), oc["se"].get(key)  # the benchmark has no allocation


def check_numbers(html: str, summary: dict) -> int:
    """Every number of the OC tables is summary.json's, shown to its decimals; returns how many
    were checked."""
    entries = {e["name"]: e for e in summary["scenarios"]}
    cells = [c for c in page_cells(html) if c["scenario"] is not None]
    for cell in cells:
        value, se = summary_value(entries[cell["scenario"]], cell["data-design"],
                                  cell["data-key"])
        name = cell["data-key"].split("[")[0]
        decimals = PER_DOSE_DECIMALS.get(name, DECIMALS.get(name, 3))
        if value is None:
            assert cell["data-value"] == "" and cell["text"] == "—"
            continue
        assert float(cell["data-value"]) == value  # exactly, not approximately
        assert float(cell["data-se"]) == se
        assert cell["text"] == f"{value:.{decimals}f}"
    expected = sum(
        len(METRICS) + ("timeline" in summary) + len(oc["select"]) + 1
        + len(oc.get("patients", []))
        for e in summary["scenarios"] for oc in e["designs"].values()
    )
    assert len(cells) == expected
    return len(cells)


def test_report_writes_html_pdf_and_simulation(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    assert (report_dir / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert (report_dir / "report.pdf").stat().st_size > 10_000
    summary = json.loads((report_dir / "simulation" / "summary.json").read_text())
    assert summary["method"] == "exact" and summary["seed"] == 1
    assert summary["designs"] == ["blrm", "3+3", "3+3-deesc", "crm", "boin"]
    headings = ["1. The trial", "2. The model and the prior", "3. The rules in words",
                "4. Operating characteristics", "5. Dose-transition pathways",
                "6. Reproducibility"]
    positions = [html.index(h) for h in headings]
    assert positions == sorted(positions)
    words = " ".join(re.sub(r"<[^>]+>", "", html).split())
    timeline = summary["timeline"]  # the config states accrual: durations simulated in time
    assert timeline["simulated_trials"] == 10000
    assert ("Every design also ran in time, on the same simulated arrivals (poisson accrual, 2 "
            "patients a month, a 28-day DLT window): only the mean trial durations come from "
            "this simulation (10000 trials per scenario and design, seed 1), with their "
            "standard errors in parentheses.") in words
    assert ("<th>Method</th><td>exact (every trial path enumerated); durations simulated in "
            "time, 10000 trials per scenario and design</td>") in html


def test_designs_without_configuration_are_left_out() -> None:
    raw = read_toml(CONFIG)
    del raw["designs"]  # no CRM skeleton
    names, omitted = report_designs(design_from_dict(raw, "no-crm.toml"))
    assert names == ["blrm", "3+3", "3+3-deesc", "boin"]
    assert "needs a skeleton" in omitted["crm"]


def test_report_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    assert "<script" not in html and "<link" not in html
    assert "http://" not in html and "https://" not in html
    assert html.count('<img src="data:image/svg+xml;base64,') == 2 + 3  # prior, tree, scenarios
    assert len(html) < 2_000_000


def test_oc_numbers_are_those_of_summary_json(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    summary = json.loads((report_dir / "simulation" / "summary.json").read_text())
    assert check_numbers(html, summary) > 100


def test_report_states_config_inputs_and_reproducibility(report_dir: Path) -> None:
    import hashlib

    html = (report_dir / "report.html").read_text()
    design = load_design(CONFIG)
    for p in prior_per_dose(design):  # the prior table: the exact engine with no data
        assert f"{p.p_overdose:.3f}" in html and f"{p.p_target:.3f}" in html
        assert f'<td class="num">{p.ess:.1f}</td>' in html  # the prior ESS (data-free)
    for text in ("XJ-MK-002 (NCT07110090)", "3×10⁸ viable cells", "16 patients",
                 "Cohorts of 3 patients", "P(DLT rate ≥ 0.33), is below 0.25",
                 "at least 6 patients", "Single-patient cohorts"):
        assert text in html
    for path in (CONFIG, SCENARIOS, report_dir / "simulation" / "summary.json"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in html
    for package in ("numpy", "matplotlib", "weasyprint"):
        assert f"<th>{package}</th>" in html
    assert "Simulation run time" in html and "--seed 1" in html


def test_pathways_are_what_recommend_says(tmp_path: Path) -> None:
    """Each pathway step, written as a data file, gets the same answer from the CLI."""
    design = load_design(CONFIG)
    root, depth = pathways.pathway_tree(design, 2)
    assert depth == 2
    assert root.decision.next_level == 0 and root.decision.cohort_size == 1  # titration
    steps = [s for s in root.walk() if s.cohorts]
    assert len(steps) == 2 + sum(s.decision.cohort_size + 1 for s in root.children
                                 if not s.decision.stop)
    # After the titration patient without a DLT, EWOC allows the middle dose (config comment).
    assert root.children[0].decision.next_level == 1
    for step in steps:
        data = pathways.hypothetical_data(design, step.cohorts)
        rows = ["patient_id,cohort,dose,dlt"] + [
            f"{p.patient_id},{p.cohort},{design.levels[p.level]:g},{p.dlt}"
            for p in data.patients
        ]
        csv = tmp_path / "data.csv"
        csv.write_text("\n".join(rows) + "\n")
        result = run("recommend", CONFIG, csv, "--json", tmp_path / "rec.json")
        assert result.exit_code == 0, result.output
        rec = json.loads((tmp_path / "rec.json").read_text())
        d = step.decision
        assert rec["next_dose"] == (None if d.next_level is None
                                    else design.levels[d.next_level])
        assert rec["stop_reason"] == d.stop_reason and rec["cohort_size"] == d.cohort_size


def test_auto_depth_grows_while_readable() -> None:
    design = load_design(CONFIG)
    root, depth = pathways.pathway_tree(design)
    assert depth >= 2 and root.leaves <= pathways.MAX_LEAVES


def test_every_user_string_is_escaped(tmp_path: Path) -> None:
    from bayesdose.simulation.scenarios import Scenario
    from bayesdose.simulation.study import run_study

    raw = read_toml(CONFIG)
    raw["trial"]["name"] = EVIL
    raw["doses"]["unit"] = "<b>cells</b>"
    design = design_from_dict(raw, "evil.toml")
    config = tmp_path / "evil.toml"
    config.write_text(CONFIG.read_text().replace("XJ-MK-002 (NCT07110090)", EVIL))
    scenario = Scenario("<img src=x onerror=alert(2)>", (0.1, 0.2, 0.3))
    summary = dict(run_study(design, [scenario], ["3+3"], 10, 1).summary, seed=1,
                   designs=["3+3"])
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    study = Study(summary, path, 0.1, False, {"crm": "<i>no skeleton</i>"})
    html = report_html(design, study, ReportInputs(config, config, f"bayesdose {EVIL}"), 2)
    for text in (EVIL, "<b>cells</b>", "<img src=x", "<i>no skeleton</i>"):
        assert text not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;cells&lt;/b&gt;" in html and "&lt;img src=x" in html
    assert "<script" not in html


def test_report_reuses_a_simulation_with_standard_errors(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    result = run("simulate", CONFIG, "--scenarios", SCENARIOS, "--designs", "blrm,3+3",
                 "--trials", 200, "--seed", 7, "--method", "simulate", "--workers", 1,
                 "--out", sim, "--quiet")
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", out, "--sim", sim,
                 "--pathway-cohorts", 2)
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    summary = json.loads((sim / "summary.json").read_text())
    check_numbers(html, summary)
    pcs = summary["scenarios"][0]["designs"]["blrm"]
    assert f'{pcs["pcs"]:.3f}</span> <span class="se">({pcs["se"]["pcs"]:.3f})' in html
    assert "200</b> simulated trials" in html and "not in the reused simulation" in html
    assert not (out / "simulation").exists()


@pytest.mark.parametrize("extra, problem", [
    (["--seed", "3"], "reuses a finished simulation"),
    (["--trials", "50"], "reuses a finished simulation"),
])
def test_sim_conflicts_are_input_errors(tmp_path: Path, extra: list, problem: str) -> None:
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", tmp_path, "--sim",
                 tmp_path, *extra)
    assert result.exit_code == 2 and problem in result.output
    assert not (tmp_path / "report.html").exists()


def test_sim_from_other_scenarios_is_refused(report_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "scenarios.toml"
    other.write_text('[[scenario]]\nname = "flat"\np_true = [0.2, 0.2, 0.2]\n')
    result = run("report", CONFIG, "--scenarios", other, "--out", tmp_path, "--sim",
                 report_dir / "simulation")
    assert result.exit_code == 2 and "differ from the scenario file" in result.output
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", tmp_path, "--sim",
                 tmp_path / "missing")
    assert result.exit_code == 2 and "file not found" in result.output


def test_sim_from_another_design_config_is_refused(tmp_path: Path) -> None:
    """A reused summary.json must come from the report's own config: the same settings read
    from another folder pass, changed settings or a summary without the hash do not."""
    sim = tmp_path / "sim"
    result = run("simulate", CONFIG, "--scenarios", SCENARIOS, "--designs", "blrm",
                 "--method", "exact", "--out", sim, "--quiet")
    assert result.exit_code == 0, result.output
    moved = tmp_path / "moved.toml"
    shutil.copy(CONFIG, moved)
    design = load_design(moved)
    study = reuse(sim, design, load_scenarios(SCENARIOS, len(design.levels)))
    assert study.reused and study.summary["designs"] == ["blrm"]
    changed = tmp_path / "changed.toml"
    changed.write_text(CONFIG.read_text().replace("max_patients = 16", "max_patients = 18"))
    assert changed.read_text() != CONFIG.read_text()
    result = run("report", changed, "--scenarios", SCENARIOS, "--out", tmp_path / "no",
                 "--sim", sim)
    assert result.exit_code == 2 and "another design config than" in result.output
    summary = json.loads((sim / "summary.json").read_text())
    summary["config_sha256"] = summary.pop("design_sha256")  # its name before: still read
    (sim / "summary.json").write_text(json.dumps(summary))
    assert reuse(sim, design, load_scenarios(SCENARIOS, len(design.levels))).reused
    del summary["config_sha256"]
    (sim / "summary.json").write_text(json.dumps(summary))
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", tmp_path / "no", "--sim",
                 sim)
    assert result.exit_code == 2 and "design_sha256" in result.output
    assert not (tmp_path / "no" / "report.html").exists()


@pytest.fixture(scope="module")
def deep_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped report three cohorts deep (the docs' simulation reused): a pathway table
    longer than a page."""
    out = tmp_path_factory.mktemp("deep-report")
    result = run("report", CONFIG, "--scenarios", SCENARIOS, "--out", out,
                 "--sim", ROOT / "docs" / "examples" / "xj-mk-002" / "simulation",
                 "--pathway-cohorts", 3)
    assert result.exit_code == 0, result.output
    return out / "report.html"


def _boxes(box):
    yield box
    for child in getattr(box, "children", None) or ():
        yield from _boxes(child)


def _text(box) -> str:
    return " ".join(b.text for b in _boxes(box) if getattr(b, "text", None)).strip()


def test_pdf_pathway_table_reads_on_every_page(deep_report: Path) -> None:
    """In the PDF's layout (WeasyPrint, the default engine): the table starts on its heading's
    page, carries its header onto the next page, and every row there names its first cohort
    (rowspans left the continued rows without their first column)."""
    weasyprint = pytest.importorskip("weasyprint")
    document = weasyprint.HTML(string=deep_report.read_text()).render()
    pages = []
    for page in document.pages:
        table = next((b for b in _boxes(page._page_box) if b.element_tag == "table"
                      and b.element.get("id") == "pathway-table"), None)
        if table is None:
            continue
        rows = [b for b in _boxes(table) if b.element_tag == "tr"]
        headings = [_text(b) for b in _boxes(page._page_box) if b.element_tag == "h2"]
        pages.append((headings, rows))
    assert len(pages) >= 2, "the test needs a table that breaks across pages"
    assert "5. Dose-transition pathways" in pages[0][0]  # no near-blank page before it
    for _, rows in pages:
        header, *body = rows
        assert [_text(c) for c in header.children][:2] == ["Cohort 1: DLTs", "then"]
        assert body
        for row in body:
            cells = [_text(c) for c in row.children]
            assert sum(c.colspan for c in row.children) == 6, cells  # 3 cohorts, none missing
            assert re.fullmatch(r"\d/1 at \S+", cells[0]), cells  # the first (titration) cohort
            assert cells[1], cells
    leaves = int(re.search(r"(\d+) pathways in all", deep_report.read_text()).group(1))
    assert sum(len(rows) - 1 for _, rows in pages) == leaves  # every pathway, none split


def test_pathway_table_prints_in_a_real_browser(browser, deep_report: Path) -> None:
    """In Chromium with print media: the header repeats, rows never split, no cell spans rows,
    and each row begins with its first cohort."""
    browser.get(deep_report.as_uri())
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    styles = browser.execute_script("""const t = document.querySelector('#pathway-table');
        const s = e => getComputedStyle(e);
        return [s(t.tHead).display, [...t.tBodies[0].rows].map(r => s(r).breakInside),
                [...t.querySelectorAll('td')].map(td => td.rowSpan),
                [...t.tBodies[0].rows].map(r => r.cells[0].innerText),
                [...t.tBodies[0].rows].map(r => [...r.cells].reduce((n, c) => n + c.colSpan,
                                                                    0))]""")
    display, breaks, rowspans, first, columns = styles
    assert set(columns) == {6}  # every row has its three cohorts' columns
    assert display == "table-header-group"
    assert set(breaks) == {"avoid"} and set(rowspans) == {1}
    leaves = int(re.search(r"(\d+) pathways in all", deep_report.read_text()).group(1))
    assert len(first) == leaves and all(re.fullmatch(r"\d/1 at \S+", t) for t in first)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_chromium_prints_a_pdf() -> None:
    from bayesdose.report.render import chromium_path, chromium_pdf

    if chromium_path() is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    pdf = chromium_pdf("<html><body><h1>bayesdose</h1></body></html>")
    assert pdf.startswith(b"%PDF-")


# -- in a real browser ------------------------------------------------------------------------


def test_report_in_a_real_browser(browser, report_dir: Path) -> None:
    browser.get((report_dir / "report.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    assert browser.execute_script("return document.scripts.length") == 0
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == []
    images = browser.execute_script("""return [...document.images].map(i => {
        const r = i.getBoundingClientRect();
        return [i.complete, i.naturalWidth, i.naturalHeight, r.width, r.height]; })""")
    assert len(images) == 5
    for complete, natural_w, natural_h, width, height in images:
        assert complete and natural_w > 0 and natural_h > 0 and width > 100 and height > 50
    shown = browser.execute_script("""return [...document.querySelectorAll('td[data-key]')]
        .map(td => [td.closest('section').dataset.scenario, td.dataset.design, td.dataset.key,
                    td.querySelector('.v').innerText])""")
    summary = json.loads((report_dir / "simulation" / "summary.json").read_text())
    entries = {e["name"]: e for e in summary["scenarios"]}
    assert len(shown) > 100
    for scenario, design, key, text in shown:
        value, _ = summary_value(entries[scenario], design, key)
        name = key.split("[")[0]
        decimals = PER_DOSE_DECIMALS.get(name, DECIMALS.get(name, 3))
        assert text == ("—" if value is None else f"{value:.{decimals}f}")
    pcs = entries["middle"]["designs"]["blrm"]["pcs"]
    assert browser.execute_script(
        "return document.querySelector('#oc-2 td[data-design=\"blrm\"][data-key=\"pcs\"]')"
        ".innerText") == f"{pcs:.3f}"


def test_escaped_name_shows_as_text_in_the_browser(browser, tmp_path: Path) -> None:
    from bayesdose.data import TrialData
    from bayesdose.designs.blrm.recommendation import recommend, to_json
    from bayesdose.report.decision import decision_html

    raw = read_toml(CONFIG)
    raw["trial"]["name"] = EVIL
    design = design_from_dict(raw, "evil.toml")

    zeros = np.zeros(3, dtype=np.int64)
    rec = recommend(design, TrialData(zeros, zeros, patients=()))
    document = dict(to_json(rec), inputs={"config_path": EVIL, "config_sha256": "0",
                                          "data_path": "d", "data_sha256": "0"})
    page = tmp_path / "decision.html"
    page.write_text(decision_html(rec, document))
    browser.get(page.as_uri())
    assert browser.execute_script("return document.querySelector('h1').innerText") == EVIL
    assert browser.execute_script("return document.scripts.length") == 0
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_decision_page_with_mcmc_in_a_real_browser(browser, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`recommend --engine both --html`: the page shows the MCMC estimates beside the exact
    ones and the predictive table with the JSON's numbers, and the failed diagnostics (a real
    run of 2 chains x 40 draws) as a note, in a real browser."""
    import functools

    pytest.importorskip("pymc")
    from bayesdose.designs.blrm.crosscheck import COMPARED
    from bayesdose.inference import mcmc

    monkeypatch.setattr(mcmc, "fit_mcmc",
                        functools.partial(mcmc.fit_mcmc, chains=2, draws=40, tune=40))
    page, out = tmp_path / "decision.html", tmp_path / "decision.json"
    result = run("recommend", CONFIG, ROOT / "configs" / "examples" / "xj-mk-002.csv",
                 "--engine", "both", "--html", page, "--json", out)
    assert result.exit_code == 0, result.output
    doses = json.loads(out.read_text())["doses"]
    browser.get(page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    def texts(selector: str) -> list[str]:
        return browser.execute_script(
            f"return [...document.querySelectorAll({selector!r})].map(e => e.innerText)")

    assert texts("#mcmc-table td") == [
        f"{e[n]:.3f} | {e['mcmc'][n]:.3f} ({e['mcmc'][f'mcse_{n}']:.3f})"
        for e in doses for n in COMPARED]
    assert texts("#predictive-table td") == [f"{p:.3f}" for e in doses for p in e["predictive"]]
    diagnostics = browser.find_element("id", "mcmc-diagnostics")
    assert diagnostics.is_displayed() and diagnostics.text.startswith("MCMC diagnostics FAILED")
    assert diagnostics.value_of_css_property("background-color") == "rgba(255, 248, 225, 1)"
    assert browser.find_element("id", "decided-on").text.startswith(
        "Decided on the exact engine's posterior")
