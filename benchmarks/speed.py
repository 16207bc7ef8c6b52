"""Speed and scale: run the engine and simulation benchmark suites; writes ``docs/benchmarks.md``.

Run from the repository root::

    .venv/bin/python -m benchmarks.speed               # both suites (~8 min), then the index
    .venv/bin/python -m benchmarks.speed --quick       # the suites' quick runs, then the index
    .venv/bin/python -m benchmarks.speed --index-only  # only the index, from the pages

The suites are ``benchmarks.engine`` (``docs/engine-benchmarks.md``: ``recommend`` time per
engine, the exact engine's batched throughput and its error against grid size) and
``benchmarks.simulation`` (``docs/simulation-benchmarks.md``: trials per second per design
against trials, doses and sample size, exact operating characteristics, peak memory). Each runs
as its own process with BLAS pinned to one thread (``OPENBLAS_NUM_THREADS=1`` and friends, set
before numpy is imported). ``docs/benchmarks.md`` is the index: the key numbers of those two
pages and of ``docs/oc-benchmarks.md`` (``python -m benchmarks.oc``), copied from the generated
pages, with links to them.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import ROOT, machine_text, subprocess_env, versions_text, write_atomically

DOCS = ROOT / "docs"
INDEX = DOCS / "benchmarks.md"
SUITES = {"engine": "engine-benchmarks.md", "simulation": "simulation-benchmarks.md"}

PAGE_PACKAGES = ("bayesdose", "numpy", "scipy", "pymc")  # versions stamped on the page


# (what, command, page) of every suite, for the index's table.
SUITE_ROWS = [
    ("operating characteristics of every design against the optimal benchmark",
     "python -m benchmarks.oc", "oc-benchmarks.md"),
    ("`recommend` time per engine, exact engine throughput and accuracy",
     "python -m benchmarks.engine", "engine-benchmarks.md"),
    ("simulation speed per design, scaling, exact OCs, memory",
     "python -m benchmarks.simulation", "simulation-benchmarks.md"),
    ("all speed suites, then this index", "python -m benchmarks.speed", None),
]
SUITE_TABLE = "\n".join(
    ["| suite | command | page |", "|---|---|---|"]
    + [f"| {what} | `{command}` | " + (f"[{page}]({page})" if page else "this page") + " |"
       for what, command, page in SUITE_ROWS]
)


def run_suite(name: str, quick: bool) -> float:
    """Run ``python -m benchmarks.NAME`` with BLAS pinned to one thread; its wall time."""
    env = subprocess_env()
    command = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if quick else [])]
    print("+", " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


# -- reading the generated pages ------------------------------------------------------------


def read_page(name: str) -> str | None:
    path = DOCS / name
    return path.read_text(encoding="utf-8") if path.exists() else None


def section(text: str, heading: str) -> str | None:
    """The body under the first heading that starts with ``heading`` (e.g. ``"## Summary"``),
    up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(heading):
            body = []
            for rest in lines[i + 1 :]:
                match = re.match(r"^(#+) ", rest)
                if match and len(match.group(1)) <= level:
                    break
                body.append(rest)
            return "\n".join(body).strip()
    return None


def paragraph(text: str, start: str) -> str | None:
    """The first line (a generated paragraph is one line) that starts with ``start``."""
    return next((line for line in text.splitlines() if line.startswith(start)), None)


def stamp_of(text: str) -> str:
    date = paragraph(text, "- Date:")
    return date.removeprefix("- Date:").strip() if date else "date not found"


def missing(page: str, what: str) -> str:
    return f"*{what} not found in `docs/{page}`: regenerate the page.*"


def engine_part(text: str | None) -> str:
    page = SUITES["engine"]
    if text is None:
        return missing(page, "The page")
    parts = [f"[Engine benchmarks]({page}) ({stamp_of(text)}), "
             "from `python -m benchmarks.engine`:", ""]
    for start in ("The exact engine answers in", "At the default grid the worst error"):
        found = paragraph(text, start)
        parts += [f"- {found}" if found else f"- {missing(page, repr(start))}"]
    return "\n".join(parts)


def simulation_part(text: str | None) -> str:
    page = SUITES["simulation"]
    if text is None:
        return missing(page, "The page")
    summary = section(text, "## Summary")
    exact = section(text, "## 6. Exact operating characteristics")
    parts = [f"[Simulation benchmarks]({page}) ({stamp_of(text)}), "
             "from `python -m benchmarks.simulation`:", "",
             summary or missing(page, "The summary")]
    if exact:
        first = next((p for p in exact.split("\n\n") if p and not p.startswith("|")), None)
        if first:
            parts += ["", f"Exact operating characteristics: {first}"]
    return "\n".join(parts)


def oc_part(text: str | None) -> str:
    page = "oc-benchmarks.md"
    if text is None:
        return missing(page, "The page")
    summary = section(text, "## Summary")
    if summary is None:
        return missing(page, "The summary")
    keep = [p for p in summary.split("\n\n") if p.startswith(("Mean over", "|", "BLRM-EWOC"))]
    return "\n\n".join([f"[Operating characteristics]({page}) ({stamp_of(text)}), "
                        "from `python -m benchmarks.oc`:", *keep])


def render(ran: dict[str, float]) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    if ran:
        runs = "; ".join(f"`benchmarks.{k}` re-run now ({v / 60:.1f} min)" for k, v in ran.items())
    else:
        runs = "the suites were not re-run: their pages are as last generated (dates below)"
    return f"""# Benchmarks

<!-- Generated by `python -m benchmarks.speed`; do not edit by hand. -->

How fast and how accurate bayesdose is, and how its designs compare. Each suite is one
command and writes its own page; this index gathers their key numbers.

{SUITE_TABLE}

Every suite pins BLAS to one thread per process (`OPENBLAS_NUM_THREADS=1` and the other thread
variables, set before numpy is imported), so its numbers describe one core per worker.

- Index written {date} (UTC); {runs}.
- Machine: {machine_text()}.
- Python {platform.python_version()}; {versions_text(PAGE_PACKAGES)}.

## Operating characteristics

{oc_part(read_page("oc-benchmarks.md"))}

## The inference engines

{engine_part(read_page(SUITES["engine"]))}

## Simulation speed

{simulation_part(read_page(SUITES["simulation"]))}
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the suites' quick runs")
    parser.add_argument("--index-only", action="store_true",
                        help="do not run the suites; only write the index from their pages")
    parser.add_argument("--suites", default=",".join(SUITES),
                        help="comma-separated subset of: " + ", ".join(SUITES))
    parser.add_argument("--out", type=Path, default=INDEX)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.suites.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; expected one of {sorted(SUITES)}")
    ran = {} if args.index_only else {name: run_suite(name, args.quick) for name in names}
    write_atomically(args.out, render(ran))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
