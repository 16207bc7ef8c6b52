"""The note that the target interval and the EWOC threshold make the target dose hard to reach
(issue 17): its number against an independent integrator, and where it is shown."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from conftest import CONFIGS
from scipy.stats import binom

from bayesdose.cli import main
from bayesdose.designs.blrm.reachability import reachability_note, target_reachability
from bayesdose.inference.brute_force import BruteForcePosterior
from bayesdose.schema import Design, load_design

STANDARD = CONFIGS / "standard-5dose.toml"
STANDARD_NOTE = (
    "a dose whose true DLT rate equals the target 0.30 is barred by EWOC in 51% of trials after "
    "12 patients there (at 2 mg; target interval [0.20, 0.35), EWOC 0.25): the interval leaves "
    "little room above the target under this prior; consider a wider upper bound or a higher "
    "threshold (or check the prior at that dose)")


def variant(tmp_path: Path, name: str, **replace: tuple[str, str]) -> Path:
    """standard-5dose.toml with lines replaced (old, new)."""
    text = STANDARD.read_text()
    for old, new in replace.values():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def strict(tmp_path: Path) -> Path:
    """Upper bound 0.33, EWOC 0.20, 9 patients before the MTD: fires at the top dose."""
    return variant(tmp_path, "strict",
                   interval=("[0.20, 0.35]", "[0.20, 0.33]"),
                   ewoc=("max_overdose_probability = 0.25", "max_overdose_probability = 0.20"),
                   patients=("max_patients = 30 ", "max_patients = 30\nmtd_min_patients = 9 "))


def wide(tmp_path: Path) -> Path:
    return variant(tmp_path, "wide", interval=("[0.20, 0.35]", "[0.20, 0.45]"))


def brute_force_share(design: Design, level: int) -> float:
    """The same probability at one dose, by the brute-force integrator and scipy's binomial."""
    n, doses = design.stopping.mtd_min_patients, len(design.levels)
    upper = design.decision.target_interval[1]
    share = 0.0
    for dlt in range(n + 1):
        counts, dlts = [0] * doses, [0] * doses
        counts[level], dlts[level] = n, dlt
        posterior = BruteForcePosterior(design.dlt_model, design.prior, counts, dlts)
        p_over = 1 - posterior.prob_below(level, upper)
        if p_over >= design.decision.max_overdose_probability:
            share += binom.pmf(dlt, n, design.decision.target)
    return share


def test_standard_design_bars_the_target_dose_after_four_dlts_in_twelve() -> None:
    """Under the derived prior, with the default 12 patients before the MTD, 4 DLTs in 12 give
    P(over) >= 0.25 at every dose but the lowest (0.243 there) and 3 in 12 do not, so the
    share is P(X >= 4), X ~ Binomial(12, 0.30) = 0.507, from 2 mg on (the lowest such dose is
    named); at 1 mg it is P(X >= 5) = 0.276."""
    design = load_design(STANDARD)
    reach = target_reachability(design)
    assert (reach.level, reach.patients) == (1, 12)
    assert abs(reach.p_barred - binom.sf(3, 12, 0.30)) < 1e-12
    assert abs(reach.p_barred - 0.507484) < 1e-6
    assert abs(brute_force_share(design, 1) - reach.p_barred) < 1e-12
    assert abs(brute_force_share(design, 0) - binom.sf(4, 12, 0.30)) < 1e-12
    assert reachability_note(design) == STANDARD_NOTE


def test_a_stricter_variant_is_checked_against_brute_force(tmp_path: Path) -> None:
    design = load_design(strict(tmp_path))
    reach = target_reachability(design)
    assert (reach.level, reach.patients) == (4, 9)
    assert abs(reach.p_barred - 0.803997) < 1e-6
    assert abs(brute_force_share(design, 4) - reach.p_barred) < 1e-12


def test_shipped_configs_below_the_threshold_print_no_note() -> None:
    for name in ("xj-mk-002", "nbg-2008"):
        design = load_design(CONFIGS / f"{name}.toml")
        reach = target_reachability(design)
        assert abs(reach.p_barred - binom.sf(1, 6, 0.25)) < 1e-12  # 0.466: 2 DLTs in 6 bar
        assert reachability_note(design) is None


def test_validate_prints_the_note_and_not_for_a_wide_interval(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["validate", str(STANDARD)])
    assert shown.exit_code == 0 and f"note: {STANDARD_NOTE}\n" in shown.output
    stricter = runner.invoke(main, ["validate", str(strict(tmp_path))])
    assert stricter.exit_code == 0
    assert "barred by EWOC in 80% of trials after 9 patients there (at 16 mg; target " \
           "interval [0.20, 0.33), EWOC 0.2)" in stricter.output
    roomy = runner.invoke(main, ["validate", str(wide(tmp_path))])  # 0.276: no note
    assert roomy.exit_code == 0 and "note:" not in roomy.output
    assert abs(target_reachability(load_design(wide(tmp_path))).p_barred
               - binom.sf(4, 12, 0.30)) < 1e-12  # 5 DLTs in 12 bar


def test_recommend_keeps_the_note_in_the_json(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("patient_id,cohort,dose,dlt\nA,1,1,0\nB,1,1,0\nC,1,1,0\n")
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["recommend", str(STANDARD), str(data), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert f"note: {STANDARD_NOTE}" in result.output
    assert STANDARD_NOTE in json.loads(out.read_text())["notes"]
    quiet = CliRunner().invoke(main, ["recommend", str(wide(tmp_path)), str(data)])
    assert quiet.exit_code == 0 and "note:" not in quiet.output


def test_the_check_stops_at_what_a_trial_can_treat() -> None:
    """n is at most max_patients, and beyond 60 patients at a dose there is no check (the fuzzer's
    mtd_min_patients = 184231170745 tried to allocate 1.34 TiB)."""
    design = load_design(STANDARD)
    few = replace(design, stopping=replace(design.stopping, mtd_min_patients=9, max_patients=3))
    assert target_reachability(few).patients == 3
    huge = replace(design, stopping=replace(design.stopping, mtd_min_patients=184231170745))
    assert target_reachability(huge).patients == 30  # max_patients
    many = replace(design, stopping=replace(huge.stopping, max_patients=1000))
    assert reachability_note(many) is None
