"""The XJ-MK-002 backfill comparison of docs/xj-mk-002-backfill.md: one table per scenario
from the summaries of two ``bayesdose simulate`` runs (the registered config, the backfill
config), so designs simulated under different configs sit side by side.

Run from the repository root, after the two simulate commands of the page::

    .venv/bin/python -m benchmarks.xj_backfill out/xj-registered out/xj-backfill

Every number is the summary's, except two for a design without backfill, which selects no
OBD and records no response: its responses are the expected number, the sum over doses of its
mean patients times the true response rate (exact in expectation: a patient's response is
drawn independently of the DLT, so the simulation would only add noise), and its "P(OBD)" is
the probability that its MTD is the true OBD (no dose when there is none), the dose it would
take forward. Both are marked with an asterisk.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DAYS_PER_MONTH = 365.25 / 12


def _row(label: str, oc: dict[str, Any], entry: dict[str, Any]) -> str:
    """One design's row: P(select) per dose and none, pts > MTD, DLT rate, responses,
    P(OBD), patients per dose (escalation + backfill), months."""
    select = " / ".join(f"{p:.2f}" for p in [*oc["select"], oc["select_none"]])
    if "patients_backfill" in oc:
        responses, p_obd = f"{oc['responses_mean']:.1f}", f"{oc['p_select_obd']:.2f}"
        patients = " / ".join(f"{e:.1f} + {b:.1f}" for e, b in
                              zip(oc["patients_escalation"], oc["patients_backfill"],
                                  strict=True))
    else:
        expected = sum(n * q for n, q in zip(oc["patients"], entry["p_response"], strict=True))
        obd = entry["true_obd"]
        chosen = oc["select_none"] if obd is None else oc["select"][obd - 1]
        responses, p_obd = f"{expected:.1f}*", f"{chosen:.2f}*"
        patients = " / ".join(f"{n:.1f}" for n in oc["patients"])
    months = oc["duration"]["mean"] / DAYS_PER_MONTH
    return (f"| {label} | {select} | {oc['p_above_mtd']:.2f} | {oc['dlt_rate']:.2f} | "
            f"{responses} | {p_obd} | {patients} | {oc['n_mean']:.1f} | {months:.1f} |")


def tables(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """Markdown: per scenario, every design of every run (label: run label and design)."""
    lines = []
    first = runs[0][1]
    for i, entry in enumerate(first["scenarios"]):
        obd = entry["true_obd"]
        lines += [f"**{entry['name']}**: true P(DLT) {entry['p_true']}, P(response) "
                  f"{entry['p_response']}; true MTD level {entry['true_mtd'] or 'none'}, "
                  f"true OBD level {obd or 'none'}", "",
                  "| design | P(select) per dose / none | pts > MTD | DLT rate | responses | "
                  "P(OBD) | patients per dose (escalation + backfill) | N | months |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for run_label, summary in runs:
            scenario = summary["scenarios"][i]
            assert scenario["name"] == entry["name"], "the runs' scenarios differ"
            for name, oc in scenario["designs"].items():
                if name != "optimal":
                    lines.append(_row(f"{run_label}: {name}", oc, scenario))
        lines.append("")
    return "\n".join(lines)


def main(folders: list[str]) -> None:
    runs = [(Path(f).name, json.loads((Path(f) / "summary.json").read_text()))
            for f in folders]
    print(tables(runs))


if __name__ == "__main__":
    main(sys.argv[1:])
