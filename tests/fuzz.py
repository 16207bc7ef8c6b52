"""Fuzz the command line's inputs for a bounded time: ``python tests/fuzz.py --seconds 60``.

Random and malformed design configs and trial data files (wrong types, missing keys, extreme
numbers, NaN/inf, huge files, odd encodings, CSV with stray quotes, ragged rows, very long
fields, numbers with underscores, doses too close to tell apart, line breaks and terminal
escapes in names), scenario sets and ``--designs`` lists (a design named twice), and paths that
are not regular files (a FIFO never written, a symlink loop, a path through a file, a name over
255 bytes, ``/dev/zero``) go through the real CLI: ``bayesdose validate``, ``recommend --json``
and ``simulate --method exact`` in-process with click's CliRunner, and every 50th case in a
real subprocess. Each case must give a valid result (exit 0, a complete output, no output line
that starts with ``error:``) or a clear one-line ``error: ...`` with exit code 2 and no output
file: never a traceback, a hang (a timeout) or a partial file. Failures are saved as
regression cases under ``tests/fuzz_cases/<id>/`` (replayed by tests/test_fuzz_inputs.py,
which imports this module as ``fuzz``: pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bayesdose.cli import main

CORPUS = Path(__file__).resolve().parent / "fuzz_cases"
MAX_DATA_CHARS = 20_000_000
CASE_TIMEOUT = 30  # seconds: a case that takes longer is a hang

BASE_CONFIG: dict[str, dict[str, Any]] = {
    "trial": {"name": "Fuzz"},
    "doses": {"levels": [1, 2, 4, 8, 16], "unit": "mg", "reference": 4},
    "model": {"prior_mean": [-1.1, 0.0], "prior_sd": [2.0, 1.0], "prior_correlation": 0.0},
    "decision": {"target_interval": [0.2, 0.35], "max_overdose_probability": 0.25,
                 "max_increment": 1.0, "allow_skipping": False, "coherence": True,
                 "target": 0.3},
    "cohorts": {"size": 3, "start_dose": 1, "titration_until_level": 0},
    "stopping": {"max_patients": 30, "mtd_min_patients": 6, "mtd_min_p_target": 0.5,
                 "safety_min_patients": 3, "safety_probability": 0.8},
}
ODD_VALUES: list[Any] = [
    "x", "", "1", True, False, 0, -1, 1, 2**63 - 1, -(2**63), 10**9, 1e308, -1e308, 5e-324,
    math.nan, math.inf, -math.inf, 0.5, [], [1], [math.nan], ["a", "b"], [1e308, 1e308],
    [0, 0], [-1, 1], [1, 2, 3], {"a": 1}, [[1]], "é€\u202e", "\x00",
    "Trial\nerror: forged line", "\x1b[2J", "A\u2028B", [1, 1.0000005, 4, 8, 16],
    [3e8, 3.000001e8],
]
CLOSE_PANELS = [[1, 1.0000005, 4, 8, 16], [1, 2, 4, 8, 8.00001], [1, 1.0000021, 4, 8, 16]]
# Paths that are not regular files, for the config or the data (``Case.path_kind``).
PATH_KINDS = ("fifo", "symlink-loop", "through-file", "long-name", "device")
# --designs of a simulate case: valid lists (3+3 only, fast with --method exact) and bad ones.
DESIGN_LISTS = ["3+3", "3+3-deesc", "3+3,3+3-deesc", "3+3,3+3", "3+3-deesc, 3+3-deesc",
                "3+3,optimal", "3+3,x\ny", "", ","]
SCENARIOS = '[[scenario]]\nname = "S1"\np_true = [0.05, 0.15, 0.3, 0.45, 0.6]\n'


@dataclass
class Case:
    """One input: a command, a config and (optionally) a data file, as bytes; with
    ``path_kind`` the config or the data (``path_input``) is named by an odd path instead."""

    command: str  # "validate" | "recommend" | "simulate"
    config: bytes
    data: bytes | None  # the trial data CSV; for simulate, the scenario set (TOML)
    note: str
    path_kind: str = ""  # one of PATH_KINDS, or "" for the files as written
    path_input: str = ""  # "config" or "data": which input the odd path names
    designs: str = ""  # simulate: the --designs list
    expect: str = ""  # a corpus case's required outcome: "refused", "accepted" or "" (either)

    @property
    def ident(self) -> str:
        extra = f"{self.path_kind}:{self.path_input}:{self.designs}" if (
            self.path_kind or self.designs) else ""
        digest = hashlib.sha256(self.command.encode() + self.config + (self.data or b"")
                                + extra.encode())
        return digest.hexdigest()[:12]

    @property
    def data_name(self) -> str:
        return "scenarios.toml" if self.command == "simulate" else "data.csv"


# -- generating inputs --------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is JSON-compatible for these
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_text(config: dict[str, Any]) -> str:
    lines = []
    for section, values in config.items():
        if not isinstance(values, dict):
            lines.append(f"{section} = {toml_value(values)}")
            continue
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(v)}" for key, v in values.items())
    return "\n".join(lines) + "\n"


def random_config(rng: random.Random) -> tuple[dict[str, Any], str]:
    config = json.loads(json.dumps(BASE_CONFIG))
    notes = []
    if rng.random() < 0.03:  # doses the matching of data to levels cannot tell apart
        config["doses"]["levels"] = rng.choice(CLOSE_PANELS)
        notes.append(f"levels {config['doses']['levels']}")
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        section = rng.choice(list(config))
        if not isinstance(config[section], dict):
            continue
        kind = rng.random()
        if kind < 0.15 and config[section]:
            key = rng.choice(list(config[section]))
            del config[section][key]
            notes.append(f"drop {section}.{key}")
        elif kind < 0.2:
            del config[section]
            notes.append(f"drop [{section}]")
        elif kind < 0.25:
            config[section][rng.choice(["bogus", "Levels", "size "])] = 1
            notes.append(f"unknown key in [{section}]")
        elif kind < 0.3:
            config[section] = rng.choice(ODD_VALUES)
            notes.append(f"[{section}] not a table")
        elif config[section]:
            key = rng.choice(list(config[section]))
            config[section][key] = odd_value(rng)
            notes.append(f"{section}.{key} = {config[section][key]!r}"[:80])
    return config, "; ".join(notes) or "valid config"


def odd_value(rng: random.Random) -> Any:
    if rng.random() < 0.3:
        size = rng.choice([1, 2, 5, 50, 400])
        pool = [rng.uniform(-10, 10), rng.uniform(0, 1), 10 ** rng.uniform(-300, 300),
                rng.randint(-5, 10**6)]
        return sorted(rng.choice(pool) for _ in range(size))
    if rng.random() < 0.2:
        return rng.choice([rng.uniform(-1e6, 1e6), rng.randint(-10**12, 10**12),
                           10 ** rng.uniform(-300, 300)])
    return rng.choice(ODD_VALUES)


def encode(text: str, rng: random.Random) -> tuple[bytes, str]:
    choice = rng.random()
    if choice < 0.75:
        return text.encode(), "utf-8"
    encodings = ["utf-16", "utf-16-le", "latin-1", "utf-8-sig", "cp1252", "utf-32"]
    name = rng.choice(encodings)
    return text.replace("Fuzz", "Fuzz é").encode(name, errors="replace"), name


def corrupt(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Byte-level damage: NUL bytes, truncation, random bytes, a stray quote."""
    choice = rng.random()
    if choice < 0.25 and raw:
        i = rng.randrange(len(raw))
        return raw[:i] + b"\x00" + raw[i:], "NUL byte"
    if choice < 0.5 and raw:
        return raw[: rng.randrange(len(raw))], "truncated"
    if choice < 0.65:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))), "random bytes"
    if choice < 0.85 and raw:
        i = rng.randrange(len(raw))
        return raw[:i] + rng.choice([b'"', b"'", b"\r", b"\n", b"\xff", b"[", b"="]) + raw[i:], (
            "stray character")
    return b"", "empty"


def patient_rows(rng: random.Random, doses: list[str]) -> list[list[str]]:
    rows, pid = [], 1
    for cohort in range(1, rng.randint(0, 8) + 1):
        dose = rng.choice(doses)
        for _ in range(rng.randint(1, 3)):
            rows.append([str(pid), str(cohort), dose, str(int(rng.random() < 0.25))])
            pid += 1
    return rows


def aggregated_rows(rng: random.Random, doses: list[str]) -> list[list[str]]:
    rows = []
    for dose in rng.sample(doses, rng.randint(0, len(doses))):
        n = rng.randint(0, 9)
        rows.append([dose, str(n), str(rng.randint(0, n))])
    return rows


ODD_CELLS = ["", " ", "nan", "NaN", "inf", "-inf", "1e400", "-1", "1.5", "0x10", "1_000",
             "2.0000001", "3e0", "١", "1e-400", "True", "\x00", '"', '""', "a,b", "9" * 400,
             "1_6", "0_1", '"a\nerror: forged line"', "\x1b[2J"]


def random_data(rng: random.Random) -> tuple[bytes, str]:
    doses = ["1", "2", "4", "8", "16", "4.0", "8e0", "16.000000001"]
    if rng.random() < 0.6:
        header = ["patient_id", "cohort", "dose", "dlt"]
        rows = patient_rows(rng, doses)
    else:
        header = ["dose", "n", "dlt"]
        rows = aggregated_rows(rng, doses)
    notes = []
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        kind = rng.random()
        if kind < 0.35 and rows and (row := rng.choice(rows)):
            row[rng.randrange(len(row))] = rng.choice(ODD_CELLS)
            notes.append("odd cell")
        elif kind < 0.45 and rows:
            row = rng.choice(rows)
            if row and rng.random() < 0.5:
                row.pop()
            else:
                row.append("extra")
            notes.append("ragged row")
        elif kind < 0.55:
            header = rng.choice([header[:-1], [*header, "x"], [h.upper() for h in header],
                                 [*header[:1], *header], [], ["", ""]])
            notes.append("odd header")
        elif kind < 0.62 and rows:
            rows = rows * rng.choice([1000, 20000])
            notes.append("huge file")
        elif kind < 0.68 and rows and (row := rng.choice(rows)):
            row[0] = "x" * rng.choice([10**4, 10**6])
            notes.append("very long field")
        elif kind < 0.75:
            rows.insert(0, [])
            notes.append("blank line")
        else:
            rng.shuffle(rows)
            notes.append("shuffled")
    while rows and sum(len(c) + 1 for row in rows for c in row) > MAX_DATA_CHARS:
        rows = rows[: len(rows) // 2]  # a huge file, but one the machine can hold
    text = "\n".join(",".join(row) for row in [header, *rows]) + rng.choice(["\n", "", "\r\n"])
    raw, encoding = encode(text, rng)
    if rng.random() < 0.15:
        raw, damage = corrupt(raw, rng)
        notes.append(damage)
    return raw, f"{encoding} data: " + ("; ".join(notes) or "valid")


def random_scenarios(rng: random.Random) -> tuple[bytes, str]:
    """A scenario set for the 5-dose panel: valid, or with an odd name or a BOM."""
    text, note = SCENARIOS, "valid scenarios"
    if rng.random() < 0.3:
        name = rng.choice(["S\nerror: forged line", "\x1b[2J", "", "S\u2029"])
        text, note = text.replace('"S1"', json.dumps(name)), f"scenario name {name!r}"
    raw, encoding = encode(text, rng)
    return raw, f"{encoding} {note}"


def random_case(rng: random.Random) -> Case:
    config, note = random_config(rng)
    raw, encoding = encode(toml_text(config), rng)
    if rng.random() < 0.1:
        raw, damage = corrupt(raw, rng)
        note += f"; {damage}"
    if rng.random() < 0.05:
        designs = rng.choice(DESIGN_LISTS)
        scenarios, scenario_note = random_scenarios(rng)
        return Case("simulate", raw, scenarios, f"{encoding} config: {note}; {scenario_note}; "
                    f"--designs {designs!r}", designs=designs)
    command = "validate" if rng.random() < 0.3 else "recommend"
    data, data_note = random_data(rng) if command == "recommend" or rng.random() < 0.5 else (
        None, "no data")
    case = Case(command, raw, data, f"{encoding} config: {note}; {data_note}")
    if rng.random() < 0.05:
        case.path_kind = rng.choice(PATH_KINDS)
        case.path_input = "data" if data is not None and rng.random() < 0.5 else "config"
        case.note += f"; the {case.path_input} at a {case.path_kind} path"
    return case


# -- running a case -----------------------------------------------------------------------------


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def odd_path(kind: str, folder: Path, name: str) -> Path:
    """A path of ``kind`` (PATH_KINDS) in ``folder`` that is not a readable regular file."""
    if kind == "fifo":  # never written: reading it would block forever
        os.mkfifo(folder / name)
        return folder / name
    if kind == "symlink-loop":
        (folder / f"{name}.a").symlink_to(folder / f"{name}.b")
        (folder / f"{name}.b").symlink_to(folder / f"{name}.a")
        return folder / f"{name}.a"
    if kind == "through-file":
        (folder / "README.md").write_text("a file, not a folder\n")
        return folder / "README.md" / name
    if kind == "long-name":
        return folder / ("x" * 300 + name)
    if kind == "device":
        return Path("/dev/zero")  # read without limit until memory is gone
    raise ValueError(kind)


def write_input(case: Case, folder: Path, role: str, name: str, content: bytes) -> Path:
    """The config or data file as written, or the case's odd path in its place."""
    if case.path_kind and case.path_input == role:
        return odd_path(case.path_kind, folder, name)
    (folder / name).write_bytes(content)
    return folder / name


def write_inputs(case: Case, folder: Path) -> list[str]:
    config = write_input(case, folder, "config", "config.toml", case.config)
    args = [case.command, str(config)]
    if case.command == "simulate":
        scenarios = write_input(case, folder, "data", case.data_name, case.data or b"")
        return [*args, "--scenarios", str(scenarios), "--designs", case.designs, "--method",
                "exact", "--out", str(folder / "sim"), "--quiet"]
    if case.data is not None:
        args.append(str(write_input(case, folder, "data", case.data_name, case.data)))
    if case.command == "recommend":
        args += ["--json", str(folder / "out.json"), "--record-dir", str(folder / "records")]
    return args


def judge(code: int, stderr: str, folder: Path, case: Case, stdout: str = "") -> str | None:
    """None when the outcome is acceptable, else what went wrong."""
    if "Traceback" in stderr:
        return "traceback: " + stderr.strip().splitlines()[-1][:200]
    if case.expect and (code == 0) != (case.expect == "accepted"):
        return f"{'accepted' if code == 0 else 'refused'}, expected {case.expect}: " + (
            stderr.strip()[-200:])
    if case.command == "simulate":
        return judge_simulate(code, stderr, folder, stdout)
    out = folder / "out.json"
    written = list((folder / "records").glob("*")) if (folder / "records").exists() else []
    records = [p for p in written if p.suffix == ".json"]  # beside them: the ledger
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]
    if leftovers or any(p.name.startswith(".tmp-") for p in written):
        return f"temporary files left behind: {leftovers}"
    if code == 0:
        if forged := forged_line(stdout + stderr):
            return forged
        if case.command == "recommend":
            try:
                json.loads(out.read_text())
            except (OSError, ValueError) as err:
                return f"exit 0 without a complete JSON output: {err}"
            if len(records) != 1:
                return f"exit 0 with {len(records)} records"
        return None
    if problem := refusal_problem(code, stderr):
        return problem
    if out.exists() or records:
        return "exit 2 but an output was written"
    return None


def refusal_problem(code: int, stderr: str) -> str | None:
    """None for exit code 2 with exactly one ``error: ...`` line, else what is wrong."""
    if code != 2:
        return f"exit code {code}: {stderr.strip()[-200:]}"
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    if len(lines) != 1 or not lines[0][len("error:"):].strip():
        return f"exit 2 without a one-line error: {stderr.strip()[-200:]!r}"
    return None


def forged_line(output: str) -> str | None:
    """A successful run printing a line that starts with ``error:`` (a name with a line
    break) has had its output forged."""
    if any(line.startswith("error:") for line in output.splitlines()):
        return f"exit 0 with an 'error:' line: {output.strip()[-200:]!r}"
    return None


def judge_simulate(code: int, stderr: str, folder: Path, stdout: str) -> str | None:
    """simulate: exit 0 with a complete summary.json, or a refusal without one."""
    summary = folder / "sim" / "summary.json"
    if code == 0:
        try:
            json.loads(summary.read_text())
        except (OSError, ValueError) as err:
            return f"exit 0 without a complete summary.json: {err}"
        return forged_line(stdout + stderr)
    if problem := refusal_problem(code, stderr):
        return problem
    return "exit 2 but summary.json was written" if summary.exists() else None


def run_in_process(case: Case, folder: Path) -> str | None:
    args = write_inputs(case, folder)
    try:
        with time_limit(CASE_TIMEOUT):
            result = CliRunner().invoke(main, args, catch_exceptions=True)
    except Hang as err:
        return f"hang: {err}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err = result.exception
        return f"traceback: {type(err).__name__}: {str(err)[:200]}"
    return judge(result.exit_code, result.stderr, folder, case, result.stdout)


def run_subprocess(case: Case, folder: Path) -> str | None:
    args = write_inputs(case, folder)
    command = [sys.executable, "-c", "from bayesdose.cli import main; main()", *args]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=CASE_TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        return "hang: the subprocess did not finish"
    return judge(proc.returncode, proc.stderr.decode(errors="replace"), folder, case,
                 proc.stdout.decode(errors="replace"))


def run_case(case: Case, subprocess_: bool = False) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        runner = run_subprocess if subprocess_ else run_in_process
        return runner(case, Path(tmp))


# -- the corpus ---------------------------------------------------------------------------------


CASE_OPTIONS = ("path_kind", "path_input", "designs", "expect")  # in case.json when given


def save_case(case: Case, problem: str, corpus: Path = CORPUS) -> Path:
    folder = corpus / case.ident
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_bytes(case.config)
    if case.data is not None:
        (folder / case.data_name).write_bytes(case.data)
    meta = {"command": case.command, "note": case.note, "found": problem}
    meta |= {key: getattr(case, key) for key in CASE_OPTIONS if getattr(case, key)}
    (folder / "case.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def load_case(folder: Path) -> Case:
    meta = json.loads((folder / "case.json").read_text())
    case = Case(meta["command"], (folder / "config.toml").read_bytes(), None, meta["note"],
                **{key: meta.get(key, "") for key in CASE_OPTIONS})
    data = folder / case.data_name
    case.data = data.read_bytes() if data.exists() else None
    return case


def fuzz(seconds: float, seed: int, max_cases: int | None = None, save: bool = True,
         subprocess_every: int = 50) -> tuple[int, list[tuple[Case, str]]]:
    """Run random cases until ``seconds`` pass (or ``max_cases``); return (tried, failures)."""
    rng = random.Random(seed)
    start, tried, failures = time.monotonic(), 0, []
    while time.monotonic() - start < seconds and (max_cases is None or tried < max_cases):
        case = random_case(rng)
        use_subprocess = subprocess_every > 0 and tried % subprocess_every == subprocess_every - 1
        problem = run_case(case, use_subprocess)
        tried += 1
        if problem is not None:
            failures.append((case, problem))
            if save:
                save_case(case, problem)
    return tried, failures


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--no-save", action="store_true", help="do not add to the corpus")
    args = parser.parse_args(argv)
    tried, failures = fuzz(args.seconds, args.seed, save=not args.no_save)
    for case, problem in failures:
        print(f"FAIL {case.ident}: {problem}\n    ({case.command}; {case.note})")
    print(f"seed {args.seed}: {tried} inputs tried, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main_())
