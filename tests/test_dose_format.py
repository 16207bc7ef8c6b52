"""One dose format (``[doses] format``, ``bayesdose/doseformat.py``): the same digits in the
terminal, the JSON's sentences, the HTML page and the figures; configurable; display only."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from bayesdose.cli import main
from bayesdose.doseformat import format_number, resolve, rich_text
from bayesdose.schema import load_design
from bayesdose.simulation.chunks import design_sha256

ROOT = Path(__file__).resolve().parents[1]
XJ = ROOT / "configs" / "xj-mk-002.toml"
XJ_DATA = ROOT / "configs" / "examples" / "xj-mk-002.csv"
XJ_SCENARIOS = ROOT / "configs" / "scenarios" / "xj-mk-002.toml"
NBG = ROOT / "configs" / "nbg-2008.toml"


@pytest.mark.parametrize(("x", "fmt", "plain", "rich"), [
    (1e8, "scientific", "1x10^8", "1×10⁸"),
    (3.5e8, "scientific", "3.5x10^8", "3.5×10⁸"),
    (2.5e-4, "scientific", "2.5x10^-4", "2.5×10⁻⁴"),
    (3e8, "plain", "300000000", "300000000"),
    (2.5, "plain", "2.5", "2.5"),
    (0.1, "plain", "0.1", "0.1"),
    (3e8, ".1e", "3.0x10^8", "3.0×10⁸"),
    (3e8, ",.0f", "300,000,000", "300,000,000"),
    (123456789.0, ".3g", "1.23x10^8", "1.23×10⁸"),
])
def test_one_helper_writes_the_same_digits(x: float, fmt: str, plain: str, rich: str) -> None:
    assert format_number(x, fmt) == plain
    assert format_number(x, fmt, rich=True) == rich
    assert rich_text(f"next: {plain} mg") == f"next: {rich} mg"


def test_auto_is_one_form_per_panel() -> None:
    assert resolve("auto", (1e8, 3e8, 6e8)) == "scientific"
    assert resolve("auto", (1, 2.5, 250)) == "plain"
    assert resolve("auto", (5e4, 1e5)) == "scientific"  # 50000 would sit beside 1x10^5
    assert resolve("auto", (0.0005, 0.01)) == "scientific"
    assert resolve(".2f", (1e8,)) == ".2f"


def test_rich_text_leaves_other_numbers_alone() -> None:
    assert rich_text("P(over) 0.268 >= 0.25; 2x3; x10^8") == "P(over) 0.268 >= 0.25; 2x3; x10^8"


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def with_format(tmp_path: Path, fmt: str) -> Path:
    config = tmp_path / "xj.toml"
    text = XJ.read_text().replace('unit = "viable cells"',
                                  f'unit = "viable cells"\nformat = "{fmt}"')
    assert text != XJ.read_text()
    config.write_text(text)
    return config


PLAIN_DOSE = re.compile(r"\d+(?:\.\d+)?x10\^-?\d+")
RICH_DOSE = re.compile(r"\d+(?:\.\d+)?×10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+")


@pytest.mark.parametrize(("fmt", "next_dose"), [("auto", "1x10^8"), (".1e", "1.0x10^8")])
def test_terminal_html_and_figure_show_the_same_digits(tmp_path: Path, fmt: str,
                                                       next_dose: str) -> None:
    config = with_format(tmp_path, fmt) if fmt != "auto" else XJ
    page, plot = tmp_path / "decision.html", tmp_path / "decision.svg"
    result = run("recommend", config, XJ_DATA, "--html", page, "--plot", plot)
    assert result.exit_code == 0, result.output
    assert f"next: {next_dose} viable cells, cohort of 3" in result.output
    assert "e+08" not in result.output
    printed = set(PLAIN_DOSE.findall(result.output))
    assert printed == {next_dose, next_dose.replace("1", "3", 1), next_dose.replace("1", "6", 1)}
    html = page.read_text()
    assert "e+08" not in html and "x10^" not in html  # one form on the page
    shown = set(RICH_DOSE.findall(html))
    assert shown == {rich_text(d) for d in printed}
    svg_text = "".join(ET.parse(plot).getroot().itertext())
    assert set(RICH_DOSE.findall(svg_text)) == shown  # the figure's labels too


def test_validate_and_errors_name_doses_in_the_format(tmp_path: Path) -> None:
    result = run("validate", with_format(tmp_path, ",.0f"))
    assert result.exit_code == 0, result.output
    assert "with doses 100,000,000, 300,000,000, 600,000,000" in result.output
    data = tmp_path / "data.csv"
    data.write_text("patient_id,cohort,dose,dlt\n1,1,2e8,0\n")
    result = run("recommend", XJ, data)
    assert result.exit_code == 2
    assert "dose 2e8 is not in the panel (1x10^8, 3x10^8, 6x10^8)" in result.output


@pytest.mark.parametrize("fmt", ["", "d", "s", "engineering"])
def test_a_bad_format_is_refused(tmp_path: Path, fmt: str) -> None:
    result = run("validate", with_format(tmp_path, fmt))
    assert result.exit_code == 2
    assert "[doses] format" in result.output and "expected 'auto', 'scientific'" in result.output


def test_the_format_changes_no_simulated_run(tmp_path: Path) -> None:
    assert design_sha256(load_design(with_format(tmp_path, "plain"))) == design_sha256(
        load_design(XJ))


def test_plain_doses_stay_plain() -> None:
    """The NBG panel (1 to 250 mg) prints as it is written."""
    result = run("recommend", NBG, ROOT / "configs" / "examples" / "nbg-2008.csv")
    assert result.exit_code == 0, result.output
    assert "next: 25 mg, cohort of 3: stay at 25 mg" in result.output
    assert "x10^" not in result.output


@pytest.mark.parametrize(("fmt", "doses"), [("auto", ["1x10^8", "3x10^8", "6x10^8"]),
                                            (".1e", ["1.0x10^8", "3.0x10^8", "6.0x10^8"])])
def test_simulate_writes_the_true_mtd_and_its_summary_in_the_format(
        tmp_path: Path, fmt: str, doses: list[str]) -> None:
    """The simulate table's true MTD and per-dose header, summary.json's dose labels and the
    Jupyter table: the panel's format, not Python's 6e+08."""
    from bayesdose.api import SimulationResult

    config = with_format(tmp_path, fmt) if fmt != "auto" else XJ
    out = tmp_path / "sim"
    result = run("simulate", config, "--scenarios", XJ_SCENARIOS, "--designs", "3+3",
                 "--no-time", "--verbose", "--out", out)
    assert result.exit_code == 0, result.output
    labels = [f"{d} viable cells" for d in doses]
    lines = result.output.splitlines()
    assert f"safe (true MTD: {labels[2]}, level 3)" in lines
    assert f"middle (true MTD: {labels[1]}, level 2)" in lines
    assert ("per dose: " + ", ".join(f"level {k + 1} = {label}" for k, label in enumerate(labels))
            in lines)
    assert "e+08" not in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["doses"] == labels
    html = SimulationResult(summary)._repr_html_()
    assert f"safe (true MTD: {rich_text(labels[2])}, level 3)" in html
    assert "x10^" not in html


@pytest.mark.parametrize("design", ["boin", "3+3", "crm"])
def test_another_designs_step_shows_the_same_digits(tmp_path: Path, design: str) -> None:
    """Its table, reason and headline in the terminal and the JSON; its page, whose reason and
    numbers are the terminal's sentences as HTML writes doses; its figure."""
    page, plot, out = tmp_path / "step.html", tmp_path / "step.svg", tmp_path / "step.json"
    result = run("recommend", with_format(tmp_path, ".1e"), XJ_DATA, "--design", design,
                 "--html", page, "--plot", plot, "--json", out)
    assert result.exit_code == 0, result.output
    assert "e+08" not in result.output
    printed = set(PLAIN_DOSE.findall(result.output))
    assert printed == {"1.0x10^8", "3.0x10^8", "6.0x10^8"}
    reason = json.loads(out.read_text())["reason"]
    assert "at 3.0x10^8 viable cells" in reason and reason in result.output
    html = page.read_text()
    assert "e+08" not in html and "x10^" not in html
    assert set(RICH_DOSE.findall(html)) == {rich_text(d) for d in printed}
    assert str(escape(rich_text(reason))) in html
    svg_text = "".join(ET.parse(plot).getroot().itertext())
    assert set(RICH_DOSE.findall(svg_text)) == {rich_text(d) for d in printed}
