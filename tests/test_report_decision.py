"""`bayesdose recommend --plot PATH` (PNG or SVG) and `--html PATH`, and the lazy imports that
keep `recommend` fast."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from bayesdose.cli import main
from bayesdose.doseformat import rich_text

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "xj-mk-002.toml"
DATA = ROOT / "configs" / "examples" / "xj-mk-002.csv"


def recommend(*args: object):
    return CliRunner().invoke(main, ["recommend", str(CONFIG), str(DATA), *map(str, args)])


def test_plot_png(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "decision.png"
    result = recommend("--plot", path)
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(path) as image:
        width, height = image.size
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert width > 1000 and height > 400
    assert len(colours) > 20  # drawn, not blank
    assert not list(tmp_path.glob(".tmp-*"))  # written atomically: no temporary file left


def test_plot_svg(tmp_path: Path) -> None:
    path = tmp_path / "decision.SVG"
    result = recommend("--plot", path)
    assert result.exit_code == 0, result.output
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert float(root.get("width").removesuffix("pt")) > 100
    assert path.stat().st_size > 5000
    text = path.read_text()
    assert "EWOC" in text and "Posterior DLT curve" in text


def test_plot_needs_png_or_svg(tmp_path: Path) -> None:
    result = recommend("--plot", tmp_path / "decision.jpg")
    assert result.exit_code == 2
    assert "--plot" in result.output and ".png or .svg" in result.output
    assert "next:" not in result.output  # refused before anything is computed
    assert not (tmp_path / "decision.jpg").exists()


def test_html_decision_report(tmp_path: Path) -> None:
    page, js = tmp_path / "decision.html", tmp_path / "rec.json"
    result = recommend("--html", page, "--json", js)
    assert result.exit_code == 0, result.output
    html = page.read_text()
    document = json.loads(js.read_text())
    assert ("Next cohort: 1×10⁸ viable cells, 3 patients (de-escalate from 3×10⁸ viable cells)"
            in html)
    assert "3x10^8" in document["reason"]  # plain text in the JSON, as in the terminal ...
    assert str(escape(rich_text(document["reason"]))) in html  # ... the same digits in HTML
    assert "x10^" not in html
    assert '<img src="data:image/svg+xml;base64,' in html and "<script" not in html
    for entry in document["doses"]:
        for key in ("mean", "p_underdose", "p_target", "p_overdose"):
            cell = f'data-key="{key}" data-value="{entry[key]}">{entry[key]:.3f}</td>'
            assert cell in html
    assert document["inputs"]["config_sha256"] in html
    for ess in document["prior"]["ess"]:  # the prior ESS column
        assert f'data-key="ess" data-value="{ess}">{ess:.1f}</td>' in html
    assert "prior-data conflict: overall p = 0.400" in html


def test_recommend_without_plot_imports_no_plotting() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from bayesdose.cli import main\n"
        f"r = CliRunner().invoke(main, ['recommend', {str(CONFIG)!r}, {str(DATA)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = ('matplotlib', 'weasyprint', 'pymc', 'bayesdose.report.render')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("option", ["--plot", "--html"])
def test_unwritable_output_is_an_input_error(tmp_path: Path, option: str) -> None:
    suffix = ".png" if option == "--plot" else ".html"
    result = recommend(option, tmp_path / "missing" / f"out{suffix}")
    assert result.exit_code == 2 and "cannot write" in result.output


def test_progress_plot(tmp_path: Path) -> None:
    path = tmp_path / "progress.svg"
    result = recommend("--progress-plot", path)
    assert result.exit_code == 0, result.output
    text = "".join(ET.parse(path).getroot().itertext())
    assert "Trial progress: 4 patients, 1 DLT, 2 cohorts" in text
    assert "next: 1×10⁸ viable cells × 3 (de-escalate)" in text


@pytest.mark.parametrize(("design", "decision"), [
    ("3+3", "next: 3×10⁸ viable cells × 3 (stay)"),
    ("boin", "next: 1×10⁸ viable cells × 3 (de-escalate)"),
    ("crm", "next: 3×10⁸ viable cells × 3 (stay)"),
])
def test_progress_plot_of_another_design(tmp_path: Path, design: str, decision: str) -> None:
    """That design's decision, its move as its step's document says (``direction``)."""
    svg, png = tmp_path / "progress.svg", tmp_path / "progress.png"
    for path in (svg, png):
        result = recommend("--design", design, "--progress-plot", path)
        assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG")
    text = "".join(ET.parse(svg).getroot().itertext())
    assert "Trial progress: 4 patients, 1 DLT, 2 cohorts" in text and decision in text


def test_progress_plot_needs_patients_in_order(tmp_path: Path) -> None:
    aggregated = tmp_path / "counts.csv"
    aggregated.write_text("dose,n,dlt\n1e8,1,0\n3e8,3,1\n")
    records = tmp_path / "records"
    result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(aggregated),
                                       "--progress-plot", str(tmp_path / "p.png"),
                                       "--record-dir", str(records)])
    assert result.exit_code == 2
    assert "--progress-plot" in result.output and "patient-level data" in result.output
    assert "next:" not in result.output  # refused before anything is computed
    assert not (tmp_path / "p.png").exists() and not records.exists()
    result = recommend("--progress-plot", tmp_path / "p.pdf")
    assert result.exit_code == 2 and "--progress-plot" in result.output
    assert ".png or .svg" in result.output and "next:" not in result.output


def test_html_page_shows_the_progress_plot(tmp_path: Path) -> None:
    page = tmp_path / "decision.html"
    result = recommend("--html", page)
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert html.count('<img src="data:image/svg+xml;base64,') == 2
    assert 'alt="Trial progress:' in html


# -- another design's step -------------------------------------------------------------------


def test_boin_plot_shows_the_boundaries_and_the_step(tmp_path: Path) -> None:
    path = tmp_path / "boin.svg"
    result = recommend("--design", "boin", "--plot", path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    for words in ("BOIN: observed DLT rates", "de-escalate above λd = 0.298",
                  "escalate at or below λe = 0.197", "target 0.25", "observed DLT/n", "1/3",
                  "current", "next"):
        assert words in text, words


def test_boin_plot_shades_the_eliminated_doses(tmp_path: Path) -> None:
    data, path = tmp_path / "trial.csv", tmp_path / "boin.svg"
    data.write_text("patient_id,cohort,dose,dlt\n1,1,1e8,0\n2,2,3e8,1\n3,2,3e8,1\n4,2,3e8,1\n")
    result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(data), "--design", "boin",
                                       "--plot", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert "eliminated" in text and "3/3" in text
    assert "next: 1×10⁸ viable cells, cohort of 3: de-escalate from 3×10⁸ viable cells" in text


def test_crm_plot_shows_the_skeleton_and_the_model(tmp_path: Path) -> None:
    path = tmp_path / "crm.svg"
    result = recommend("--design", "crm", "--plot", path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    for words in ("skeleton", "model P(DLT) at the posterior mean", "model 90% interval",
                  "current, next"):
        assert words in text, words


def test_three_plus_three_plot_marks_the_declared_mtd(tmp_path: Path) -> None:
    from PIL import Image

    data = tmp_path / "trial.csv"
    data.write_text("patient_id,cohort,dose,dlt\n1,1,1e8,0\n2,2,3e8,0\n3,2,3e8,0\n4,2,3e8,0\n"
                    "5,3,6e8,1\n6,3,6e8,1\n7,3,6e8,0\n")
    svg, png = tmp_path / "p.svg", tmp_path / "p.png"
    for path in (svg, png):
        result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(data), "--design",
                                           "3+3", "--plot", str(path)])
        assert result.exit_code == 0, result.output
    text = svg.read_text()
    assert "STOP (mtd declared): MTD 3×10⁸ viable cells" in text  # the stop, in the title
    assert ">current<" in text and ">MTD<" in text and "2/3" in text  # 6e8; 3e8
    with Image.open(png) as image:
        assert image.size[0] > 1000 and len(image.convert("RGB").getcolors(1_000_000)) > 20


def test_boin_html_decision_page(tmp_path: Path) -> None:
    page, js = tmp_path / "boin.html", tmp_path / "boin.json"
    result = recommend("--design", "boin", "--html", page, "--json", js)
    assert result.exit_code == 0, result.output
    html, document = page.read_text(), json.loads(js.read_text())
    assert ("Next cohort: 1×10⁸ viable cells, 3 patients (de-escalate from 3×10⁸ viable cells)"
            in html)
    assert "3x10^8" in document["reason"]  # plain text in the JSON, as in the terminal ...
    assert str(escape(rich_text(document["reason"]))) in html  # ... the same digits in HTML
    assert "x10^" not in html
    assert html.count('<img src="data:image/svg+xml;base64,') == 2  # the rule, the progress
    assert 'alt="Trial progress:' in html and "<script" not in html
    assert "lambda_d 0.298" in html and "no dose is eliminated" in html
    entry = document["doses"][1]
    assert (f'data-key="p_above_target" data-value="{entry["p_above_target"]}">'
            f'{entry["p_above_target"]:.3f}</td>') in html
    assert document["inputs"]["config_sha256"] in html


def test_rule_page_in_a_real_browser(browser, tmp_path: Path) -> None:
    """The CRM's page in Chromium: self-contained, the figure drawn, the table's numbers those
    of the JSON."""
    page, js = tmp_path / "crm.html", tmp_path / "crm.json"
    result = recommend("--design", "crm", "--html", page, "--json", js)
    assert result.exit_code == 0, result.output
    document = json.loads(js.read_text())
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    assert browser.execute_script("return document.scripts.length") == 0
    images = browser.execute_script("""return [...document.images].map(i => {
        const r = i.getBoundingClientRect(); return [i.complete, i.naturalWidth, r.width,
        r.height];});""")
    assert len(images) == 2  # the rule's figure and the trial's progress
    for image in images:
        assert image[0] and image[1] > 0 and image[2] > 300 and image[3] > 100
    reason = browser.execute_script("return document.querySelector('#reason').innerText")
    assert reason == rich_text(document["reason"]) and "3×10⁸ viable cells" in reason
    shown = browser.execute_script("""return [...document.querySelectorAll('td[data-key]')]
        .map(td => [td.dataset.key, td.innerText])""")
    expected = [(key, f"{entry[key]:.3f}") for entry in document["doses"]
                for key in ("skeleton", "p_dlt")]
    assert [tuple(cell) for cell in shown if cell[0] != "p_dlt_lower"] == expected
    assert [text for key, text in shown if key == "p_dlt_lower"][0] == (
        f"[{document['doses'][0]['p_dlt_lower']:.3f}, {document['doses'][0]['p_dlt_upper']:.3f}]")


def test_bf_boin_plot_shows_boins_boundaries_over_the_pooled_complete_data(tmp_path: Path) -> None:
    """boin+backfill draws BOIN's boundaries, as boin does, over every patient's complete
    data (backfill patients' counts drawn apart as well)."""
    path = tmp_path / "bf.svg"
    result = CliRunner().invoke(main, [
        "recommend", str(ROOT / "configs" / "bf-boin.toml"),
        str(ROOT / "configs" / "examples" / "bf-boin-backfill.csv"), "--design", "boin+backfill",
        "--plot", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text()
    for words in ("BOIN + backfill: observed DLT rates", "de-escalate above λd = 0.298",
                  "escalate at or below λe = 0.197", "target 0.25", "2/5", "1/6", "1/3",
                  "backfill patients' DLT/n"):
        assert words in text, words
    assert "eliminated" not in text  # 2/5 at the lowest dose does not meet the rule
