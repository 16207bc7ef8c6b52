"""Chunk files of a simulated study: written as chunks finish, so a killed run can resume.

``OUT/chunks/`` holds ``manifest.json`` (what the run is: hashes of the design and the
scenarios, design names, trials, seed, chunk size) and one ``.npz`` per finished
chunk of trials, each written atomically (temporary file, then rename): a file that exists is
complete. Per-trial records are stored in compact integer types. A resumed run checks that the
manifest matches the run asked for and computes only the chunks without a file; since a trial's
numbers depend on the seed and its index alone, the result is the uninterrupted run's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
import zipfile
import zlib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.designs.registry import TIME_AWARE, is_backfill
from bayesdose.errors import InputError
from bayesdose.record import atomic_write, remove_temporaries
from bayesdose.schema import (
    BackfillSection,
    Design,
    EfficacySection,
    HierarchySection,
    OptimisationSection,
)
from bayesdose.simulation.scenarios import Scenario

if TYPE_CHECKING:
    from bayesdose.simulation.combination.scenarios import MatrixScenario

MANIFEST = "manifest.json"
FORMAT = 1

# Per-trial record fields and their stored types (selected: 0-based dose, -1 for none).
RECORD_TYPES = {"selected": np.int16, "n": np.int16, "dlt": np.int16, "stop_reason": np.int8}
# Every design's fields besides when the scenarios give response rates (``efficacy``): its
# responses per dose and the OBD it selects (``optimisation.estimated_obd_rows``; -1 none).
EFFICACY_RECORD_TYPES = {"response": np.int16, "obd": np.int16}
# A backfill design's fields besides (``backfilloc``; its ``pending_treated``: backfill patients).
BACKFILL_RECORD_TYPES = {"n_backfill": np.int16, "late": np.int16}
OPTIMAL_TYPE = np.int16


def record_key(field: str, scenario: int, design: int) -> str:
    """Name of a design's per-trial field in a chunk file (indices into the manifest's lists)."""
    return f"{field}_{scenario}_{design}"


def optimal_key(scenario: int) -> str:
    return f"optimal_{scenario}"


def _sha256(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _version() -> str:
    try:
        return version("bayesdose")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


# [model] keys added after the first chunk format, with their defaults ([[sensitivity]], added
# too, is hashed only when given; its tables leave out the keys added after it).
LATER_SENSITIVITY_KEYS: dict[str, Any] = {"elicitation": (), "robust_weight": 0.0,
                                          "hierarchy": dataclasses.asdict(HierarchySection())}
LATER_SECTIONS = {"efficacy": EfficacySection, "backfill": BackfillSection,
                  "optimisation": OptimisationSection}
LATER_MODEL_KEYS: dict[str, Any] = {"prior": "normal", "components": (),
                                    **LATER_SENSITIVITY_KEYS}


def design_sha256(design: Design) -> str:
    """The hash of a design's settings, without its file name: the same config read from
    another folder resumes the same run, and a report can check a reused summary.json."""
    config = dataclasses.asdict(design)
    config.pop("source", None)
    if design.is_combination:
        for doses in config["drug_doses"]:
            del doses["format"]
        for key in ("doses", "drug_models", "interaction"):
            config.pop(key)
        return _sha256(config)  # its model's priors are not simulated yet
    for key in ("drugs", "drug_doses", "drug_models", "interaction"):  # two drugs' keys:
        config.pop(key)  # older single-agent runs match
    if config["designs"].get("waterfall") == dataclasses.asdict(type(design.designs.waterfall)()):
        del config["designs"]["waterfall"]  # a two-drug design's settings, likewise
    del config["doses"]["format"]  # how doses are written changes no simulated trial
    for key, default in LATER_MODEL_KEYS.items():  # hashed only when set: older runs match
        if config["model"][key] == default:
            del config["model"][key]
    for alternative in config["sensitivity"]:
        for key, default in LATER_SENSITIVITY_KEYS.items():
            if alternative[key] == default:
                del alternative[key]
    if not config["sensitivity"]:
        del config["sensitivity"]
    for section, cls in LATER_SECTIONS.items():  # hashed only when set: older runs match
        if config[section] == dataclasses.asdict(cls()):
            del config[section]
    if config["historical"]["data"] is None:
        del config["historical"]
    else:  # the trials themselves, not only the file's name
        config["historical"] = dataclasses.asdict(design.historical_trials)
        config["historical"].pop("source")
    config["prior"] = design.prior.as_dict()  # the prior used (derived or given)
    if config["simulation"]["accrual"] is None:  # its default was 'fixed': older runs match
        config["simulation"]["accrual"] = "fixed"
    return _sha256(config)


def make_manifest(design: Design, scenarios: list[Scenario], names: list[str], trials: int,
                  seed: int, chunk_size: int, timed: bool = False) -> dict[str, Any]:
    """What identifies a simulated run (``timed``: simulated in time; ``efficacy``, only when
    the scenarios give response rates, so that a run written before every design's responses
    were recorded is not resumed)."""
    return {
        "format": FORMAT,
        "bayesdose": _version(),
        "design_sha256": design_sha256(design),
        "scenarios_sha256": _sha256([_scenario_key(s) for s in scenarios]),
        "scenarios": [s.name for s in scenarios],
        "designs": list(names),
        "trials": trials,
        "seed": seed,
        "chunk_size": chunk_size,
        "time": timed,
        **({"efficacy": True} if has_efficacy(scenarios) else {}),
    }


def has_efficacy(scenarios: list[Scenario] | list[MatrixScenario]) -> bool:
    """Whether every design's responses and OBD are recorded: every scenario gives response
    rates (``p_response``)."""
    return bool(scenarios) and all(getattr(s, "p_response", None) is not None
                                   for s in scenarios)


def _scenario_key(scenario: Scenario | MatrixScenario) -> list:
    """What a scenario's hash covers (its response rates only when it has them: a run
    without them resumes as before)."""
    key = [scenario.name, list(scenario.p_true)]
    response = getattr(scenario, "p_response", None)  # a two-drug scenario has none
    return key if response is None else [*key, list(response)]


_HASHED = {"design_sha256": "the design config", "scenarios_sha256": "the scenario set"}
OLD_KEYS = {"config_sha256": "design_sha256"}  # renamed: manifests written before still resume


def _difference(key: str, then: Any, now: Any) -> str:
    return _HASHED.get(key) or f"{key} ({then!r} there, {now!r} now)"


def chunk_ranges(trials: int, size: int) -> list[tuple[int, int]]:
    """Trial ranges [first, stop): chunks only group trials."""
    return [(first, min(first + size, trials)) for first in range(0, trials, size)]


class ChunkStore:
    """The chunk files of one run in ``folder`` (``OUT/chunks``)."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.ranges = chunk_ranges(manifest["trials"], manifest["chunk_size"])

    def path(self, first: int, stop: int) -> Path:
        return self.folder / f"chunk-{first:010d}-{stop:010d}.npz"

    def start(self, resume: bool) -> None:
        """Open the folder for this run: keep the finished chunks of a matching earlier run
        (``resume``), else start empty. A mismatching manifest on resume is an InputError."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            remove_temporaries(self.folder)  # writes cut short by a kill
            manifest_path = self.folder / MANIFEST
            if resume and manifest_path.exists():
                self._check(manifest_path)
                self._discard_damaged()
                return
            manifest_path.unlink(missing_ok=True)  # first, so old chunks never pass as new
            for old in self.folder.glob("chunk-*.npz"):
                old.unlink()
            atomic_write(manifest_path, json.dumps(self.manifest, indent=2) + "\n")
        except OSError as err:
            raise InputError(str(self.folder), None, f"cannot write chunks: {err}") from None

    def _check(self, manifest_path: Path) -> None:
        try:
            earlier = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as err:
            raise InputError(str(manifest_path), None, f"unreadable manifest: {err}") from None
        if not isinstance(earlier, dict):
            raise InputError(str(manifest_path), None, "unreadable manifest: not a JSON object")
        for old, new in OLD_KEYS.items():
            if old in earlier and new not in earlier:
                earlier[new] = earlier.pop(old)
        if "time" not in earlier:  # written before: in time iff a time-aware design ran
            earlier["time"] = any(n in TIME_AWARE for n in earlier.get("designs", []))
        differ = [key for key in self.manifest if earlier.get(key) != self.manifest[key]]
        if differ:
            what = ", ".join(_difference(k, earlier.get(k), self.manifest[k]) for k in differ)
            raise InputError(
                str(manifest_path), None,
                f"--resume: this run differs from the one in the folder in {what}; "
                "run without --resume to start over",
            )

    def _discard_damaged(self) -> None:
        """Delete every chunk file that is not a complete chunk of this run (cut short,
        altered, empty), naming it on one line: it is computed again."""
        for first, stop in self.ranges:
            path = self.path(first, stop)
            problem = path.exists() and chunk_problem(path, self.expected_keys(), stop - first)
            if problem:
                print(f"warning: {path}: {problem}; discarded, it is computed again",
                      file=sys.stderr)
                path.unlink()

    def expected_keys(self) -> set[str]:
        """The arrays every chunk file of this run holds (timed runs hold more)."""
        pairs = [(s, d) for s in range(len(self.manifest["scenarios"]))
                 for d in range(len(self.manifest["designs"]))]
        designs = self.manifest["designs"]
        efficacy = EFFICACY_RECORD_TYPES if self.manifest.get("efficacy") else {}
        return {f"{record_key(field, s, d)}.npy" for s, d in pairs
                for field in [*RECORD_TYPES, *efficacy,
                              *(BACKFILL_RECORD_TYPES if is_backfill(designs[d]) else ())]
                } | {f"{optimal_key(s)}.npy" for s in range(len(self.manifest["scenarios"]))}

    def missing(self) -> list[tuple[int, int]]:
        """Chunks without a file, in trial order."""
        return [(a, b) for a, b in self.ranges if not self.path(a, b).exists()]

    def save(self, first: int, stop: int, arrays: dict[str, np.ndarray]) -> None:
        """Write a finished chunk: an .npz (``np.savez``) not compressed. The chunks are a
        run's working copy for --resume (``results.nc`` is the compressed one): deflating them
        at level 1 took 35-45 ms per 200,000 trials of a design in a scenario, about a sixth
        of a 3+3 run, to store 5 MB in 1 (25 bytes a trial in 5)."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        # not flushed to disk: a chunk a crash leaves damaged fails ``chunk_problem`` and is
        # computed again on --resume (8 flushes cost 66 ms of a 200,000-trial run)
        atomic_write(self.path(first, stop), buffer.getvalue(), durable=False)

    def read(self, ranges: list[tuple[int, int]]) -> Iterator[tuple[int, int,
                                                                   dict[str, np.ndarray]]]:
        """The arrays of the chunks ``ranges``, one chunk in memory at a time."""
        for first, stop in ranges:
            with np.load(self.path(first, stop)) as chunk:
                yield first, stop, dict(chunk)


def chunk_problem(path: Path, keys: set[str], trials: int) -> str | None:
    """What is wrong with a chunk file (None if nothing): not a zip archive, a member whose
    checksum fails, an array missing, or the wrong number of trials."""
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # reads every member, checks its CRC
            if damaged is not None:
                return f"{damaged} fails its checksum"
            absent = keys - set(archive.namelist())
            if absent:
                return f"{len(absent)} arrays missing, e.g. {min(absent)}"
            with archive.open(min(keys)) as member:
                fmt = np.lib.format
                read_header = (fmt.read_array_header_1_0 if fmt.read_magic(member) == (1, 0)
                               else fmt.read_array_header_2_0)
                shape = read_header(member)[0]
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        return f"not a readable chunk ({err})"
    if shape[:1] != (trials,):
        return f"{shape[0] if shape else 0} trials where {trials} belong"
    return None
