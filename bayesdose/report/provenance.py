"""Section 6 of the design report: what it takes to reproduce it."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bayesdose import record
from bayesdose.input_files import read_input
from bayesdose.record import sha256_hex

REPORT_PACKAGES = ("bayesdose", "numpy", "scipy", "xarray", "matplotlib", "jinja2",
                   "weasyprint")


@dataclass(frozen=True)
class InputFile:
    role: str
    path: str
    sha256: str


def input_file(role: str, path: Path) -> InputFile:
    return InputFile(role, str(path), sha256_hex(read_input(path)))


def package_versions() -> list[tuple[str, str]]:
    """Python and the packages that computed, drew and rendered the report."""
    return [("python", platform.python_version()),
            *record.package_versions(REPORT_PACKAGES).items()]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def generator() -> str:
    """``bayesdose <version>``, as the pages name their maker."""
    return f"bayesdose {version('bayesdose')}"
