"""The XJ-MK-002 backfill comparison of docs/xj-mk-002-backfill.md: one table per scenario
from the summaries of two ``bayesdose simulate`` runs (the registered config, the backfill
config), so designs simulated under different configs sit side by side.

Run from the repository root, after the two simulate commands of the page::

    .venv/bin/python -m benchmarks.xj_backfill out/xj-registered out/xj-backfill

Every number is the summary's: with the scenarios' response rates every design records its
responses and the OBD it selects (the same utility on its own patients), backfill or not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DAYS_PER_MONTH = 365.25 / 12


def _row(label: str, oc: dict[str, Any]) -> str:
    """One design's row: P(select) per dose and none, pts > MTD, DLT rate, responses,
    P(OBD), patients per dose (escalation + backfill), months."""
    select = " / ".join(f"{p:.2f}" for p in [*oc["select"], oc["select_none"]])
    responses, p_obd = f"{oc['responses_mean']:.1f}", f"{oc['p_select_obd']:.2f}"
    if "patients_backfill" in oc:
        patients = " / ".join(f"{e:.1f} + {b:.1f}" for e, b in
                              zip(oc["patients_escalation"], oc["patients_backfill"],
                                  strict=True))
    else:
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
                    lines.append(_row(f"{run_label}: {name}", oc))
        lines.append("")
    return "\n".join(lines)


def main(folders: list[str]) -> None:
    runs = [(Path(f).name, json.loads((Path(f) / "summary.json").read_text()))
            for f in folders]
    print(tables(runs))


if __name__ == "__main__":
    main(sys.argv[1:])
