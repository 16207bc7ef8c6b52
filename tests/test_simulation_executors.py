"""Where and how long simulations run: chunks only group trials, a Dask cluster gives the local
result, finished chunks are kept on disk, and a killed run resumes to exactly the uninterrupted
result."""

from __future__ import annotations

import io
import json
import math
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.schema import load_design
from bayesdose.simulation import study
from bayesdose.simulation.chunks import MANIFEST
from bayesdose.simulation.executors import DaskCluster
from bayesdose.simulation.metrics import Outcomes, operating_characteristics
from bayesdose.simulation.scenarios import load_scenarios

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "standard-5dose.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "standard-5dose.toml"


def simulate(*args: object):
    return CliRunner().invoke(main, ["simulate", *map(str, args)])


def assert_same_outputs(a: Path, b: Path) -> None:
    """Identical summary.json (it has no timing fields) and results.nc content."""
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    with (xr.open_dataset(a / "results.nc", engine="h5netcdf") as x,
          xr.open_dataset(b / "results.nc", engine="h5netcdf") as y):
        assert x.load().identical(y.load())


def chunk_files(out: Path) -> list[Path]:
    return sorted((out / "chunks").glob("chunk-*.npz"))


# -- chunks -----------------------------------------------------------------------------------


def test_chunks_only_group_trials(tmp_path: Path) -> None:
    design = load_design(CONFIG)
    scenarios = load_scenarios(SCENARIOS, 5)[:2]
    for size in (90, 7, 32):  # 90: all trials in one chunk
        out = tmp_path / str(size)
        result = study.run_study(design, scenarios, ["blrm", "3+3-deesc"], 90, 3, "simulate",
                                 out=out, chunk_size=size)
        (out / "summary.json").write_text(json.dumps(result.summary))
        if size != 90:
            assert_same_outputs(tmp_path / "90", out)
    assert len(chunk_files(tmp_path / "7")) == math.ceil(90 / 7)


def test_summary_from_tallies_equals_per_trial_computation(tmp_path: Path) -> None:
    """The summary, computed from each distinct final record and its count, is what the
    per-trial records in results.nc give (standard errors as numpy's ddof=1 sd / sqrt(T))."""
    design = load_design(CONFIG)
    scenarios = load_scenarios(SCENARIOS, 5)[:2]
    trials = 300
    summary = study.run_study(design, scenarios, ["blrm", "3+3"], trials, 6, "simulate",
                              out=tmp_path, chunk_size=70).summary
    weight = np.full(trials, 1 / trials)
    with xr.open_dataset(tmp_path / "results.nc", engine="h5netcdf") as ds:
        for scenario, entry in zip(scenarios, summary["scenarios"], strict=True):
            truth = study.truth_of(design, scenario)
            for name in ("blrm", "3+3"):
                rec = ds.sel(scenario=scenario.name, design=name)
                selected = rec["selected"].values.astype(int) - 1
                per_trial = operating_characteristics(
                    Outcomes(selected, weight, rec["n"].values, rec["dlt"].values,
                             rec["stop_reason"].values), truth, trials)
                assert_close(entry["designs"][name], per_trial)
                hit = selected == truth.mtd
                se = np.std(hit, ddof=1) / np.sqrt(trials)
                assert entry["designs"][name]["se"]["pcs"] == pytest.approx(se, rel=1e-12)
            bench = ds["optimal_selected"].sel(scenario=scenario.name).values.astype(int) - 1
            assert_close(entry["designs"]["optimal"],
                         operating_characteristics(Outcomes(bench, weight), truth, trials))


def assert_close(a: object, b: object) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            assert_close(a[key], b[key])
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_close(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)
    else:
        assert a == b


def test_chunk_files_are_compact_and_described(tmp_path: Path) -> None:
    result = simulate(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3", "--trials", 50,
                      "--seed", 2, "--method", "simulate", "--workers", 1, "--chunk-size", 20,
                      "--out", tmp_path)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "chunks" / MANIFEST).read_text())
    assert manifest["trials"] == 50 and manifest["chunk_size"] == 20 and manifest["seed"] == 2
    assert manifest["designs"] == ["3+3"] and len(manifest["design_sha256"]) == 64
    assert [p.name for p in chunk_files(tmp_path)] == [
        "chunk-0000000000-0000000020.npz", "chunk-0000000020-0000000040.npz",
        "chunk-0000000040-0000000050.npz",
    ]
    with np.load(chunk_files(tmp_path)[-1]) as chunk:
        assert chunk["n_0_0"].dtype == np.int16 and chunk["n_0_0"].shape == (10, 5)
        assert chunk["stop_reason_0_0"].dtype == np.int8
        assert chunk["selected_0_0"].dtype == np.int16 and chunk["optimal_0"].dtype == np.int16


def test_progress_bar_goes_to_stderr_on_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    design = load_design(CONFIG)
    scenarios = load_scenarios(SCENARIOS, 5)[:1]
    study.run_study(design, scenarios, ["3+3"], 40, 1, "simulate", chunk_size=10, progress=True)
    assert "4/4" in terminal.getvalue() and "chunk" in terminal.getvalue()
    assert capsys.readouterr().out == ""
    terminal.truncate(0)
    study.run_study(design, scenarios, ["3+3"], 40, 1, "simulate", chunk_size=10)
    assert terminal.getvalue().strip("\x00") == ""


# -- resume -----------------------------------------------------------------------------------

RESUME_TRIALS, RESUME_CHUNK = 3000, 20  # 150 chunks of a fast design: time to kill the run


def resume_args(scenarios: Path, out: Path) -> list[object]:
    return [CONFIG, "--scenarios", scenarios, "--designs", "3+3,3+3-deesc", "--trials",
            RESUME_TRIALS, "--seed", 11, "--method", "simulate", "--workers", 1,
            "--chunk-size", RESUME_CHUNK, "--out", out]


@pytest.fixture(scope="module")
def two_scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenarios") / "two.toml"
    path.write_text('[[scenario]]\nname = "S1"\np_true = [0.05, 0.15, 0.30, 0.45, 0.60]\n'
                    '[[scenario]]\nname = "S3"\np_true = [0.12, 0.30, 0.45, 0.58, 0.70]\n')
    return path


@pytest.fixture(scope="module")
def uninterrupted(two_scenarios: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    result = simulate(*resume_args(two_scenarios, out))
    assert result.exit_code == 0, result.output
    return out


def kill_after(args: list[object], out: Path, files: int) -> None:
    """Start ``bayesdose simulate`` in a subprocess and SIGKILL it once ``files`` chunk files
    exist."""
    command = [sys.executable, "-c", "from bayesdose.cli import main; main()", "simulate",
               *map(str, args)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while len(chunk_files(out)) < files:
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it was killed: {proc.communicate()[1]!r}")
            assert time.monotonic() < deadline, "no chunk files appeared"
            time.sleep(0.002)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("kill_at", [1, 40])
def test_resume_after_sigkill_gives_the_uninterrupted_result(
    kill_at: int, two_scenarios: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    args = resume_args(two_scenarios, tmp_path)
    kill_after(args, tmp_path, kill_at)
    written = len(chunk_files(tmp_path))
    assert kill_at <= written < RESUME_TRIALS // RESUME_CHUNK
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "results.nc").exists()
    result = simulate(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert_same_outputs(uninterrupted, tmp_path)


def test_damaged_chunks_are_named_discarded_and_recomputed(
    two_scenarios: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    """A truncated, an empty and an altered chunk file, and the temporary files of writes cut
    short (14-20 MB each in a real run): --resume names each damaged chunk on one line, and
    computes it again; nothing stale is left."""
    shutil.copytree(uninterrupted / "chunks", tmp_path / "chunks")
    truncated, empty, altered = chunk_files(tmp_path)[3:6]
    truncated.write_bytes(truncated.read_bytes()[:-50])
    empty.write_bytes(b"")
    content = bytearray(altered.read_bytes())
    content[len(content) // 2] ^= 0xFF
    altered.write_bytes(bytes(content))
    stale = [tmp_path / ".tmp-summary.part", tmp_path / "chunks" / ".tmp-chunk.part"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    result = simulate(*resume_args(two_scenarios, tmp_path), "--resume")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3, result.stderr
    for path, words in ((truncated, "not a readable chunk"), (empty, "empty file"),
                        (altered, "")):
        assert any(path.name in line and words in line for line in warnings), warnings
    assert_same_outputs(uninterrupted, tmp_path)
    assert not any(path.exists() for path in stale)


def test_a_fresh_run_removes_stale_temporary_files(tmp_path: Path) -> None:
    stale = tmp_path / ".tmp-results.part"
    stale.write_bytes(b"\0" * 1000)
    result = simulate(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3", "--method", "exact",
                      "--out", tmp_path)
    assert result.exit_code == 0 and not stale.exists(), result.output


def numpy_loading(pid: int) -> bool:
    """Whether the process has begun to load NumPy: the command line has set its Ctrl-C handler
    by then (``interrupt.defer`` runs before any numerical import), so a SIGINT now is one a user
    sends while the program loads, not one that beats the interpreter's own start-up (a fixed
    delay could, on a loaded machine). Linux: the process's memory maps."""
    try:
        return "numpy" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def interrupt_at(args: list[object], out: Path, when: str) -> subprocess.CompletedProcess:
    """Start ``bayesdose simulate`` and send it SIGINT (Ctrl-C): while it starts up, after a
    few chunks, or while the summary is written (every chunk file is there)."""
    command = [sys.executable, "-m", "bayesdose.cli", "simulate", *map(str, args)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    start = time.monotonic()
    total = RESUME_TRIALS // RESUME_CHUNK
    target = {"start": 0, "chunks": 5, "summary": total}[when]
    while proc.poll() is None and time.monotonic() - start < 120:
        if when == "start" and numpy_loading(proc.pid):
            break
        if when != "start" and len(chunk_files(out)) >= target:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(command, proc.returncode, "", stderr)


@pytest.mark.parametrize("when", ["start", "chunks", "summary", "summary"])
def test_ctrl_c_stops_cleanly_and_the_run_resumes(
    when: str, two_scenarios: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    args = resume_args(two_scenarios, tmp_path)
    done = interrupt_at(args, tmp_path, when)
    assert done.returncode == 130, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted:"), done.stderr
    if when != "start":
        assert "run again with --resume" in lines[0]
    assert not (tmp_path / "summary.json").exists() and not list(tmp_path.glob(".tmp-*"))
    result = simulate(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert_same_outputs(uninterrupted, tmp_path)


def test_resume_checks_the_manifest(two_scenarios: Path, tmp_path: Path) -> None:
    args = [CONFIG, "--scenarios", two_scenarios, "--designs", "3+3", "--trials", 60,
            "--method", "simulate", "--workers", 1, "--chunk-size", 20, "--out", tmp_path]
    assert simulate(*args).exit_code == 0
    first = (tmp_path / "summary.json").read_bytes()
    (tmp_path / "summary.json").unlink()
    again = simulate(*args, "--resume")  # nothing left to compute: the same result
    assert again.exit_code == 0 and (tmp_path / "summary.json").read_bytes() == first
    args[args.index("--trials") + 1] = 80
    differs = simulate(*args, "--resume")
    assert differs.exit_code == 2 and "Traceback" not in differs.output
    assert "trials (60 there, 80 now)" in differs.output and "without --resume" in differs.output
    other = simulate(*args[:-1], tmp_path / "new", "--seed", 5, "--resume")  # nothing to resume
    assert other.exit_code == 0, other.output


def test_resume_reads_a_manifest_written_before_the_rename(two_scenarios: Path,
                                                           tmp_path: Path) -> None:
    """design_sha256 was called config_sha256: a run begun by an older bayesdose resumes."""
    args = [CONFIG, "--scenarios", two_scenarios, "--designs", "3+3", "--trials", 60,
            "--method", "simulate", "--workers", 1, "--chunk-size", 20, "--out", tmp_path]
    assert simulate(*args).exit_code == 0
    first = json.loads((tmp_path / "summary.json").read_text())
    path = tmp_path / "chunks" / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["config_sha256"] = manifest.pop("design_sha256")
    path.write_text(json.dumps(manifest))
    chunk_files(tmp_path)[-1].unlink()
    again = simulate(*args, "--resume")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "summary.json").read_text()) == first
    manifest["config_sha256"] = "0" * 64  # another design: refused, named as the design config
    path.write_text(json.dumps(manifest))
    refused = simulate(*args, "--resume")
    assert refused.exit_code == 2 and "differs from the one in the folder in the design " \
        "config" in refused.output


# -- Dask -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes that would use two BLAS threads each (Dask's nanny would set one:
    the cluster of a user who changed that setting), so pinning is ours to do."""
    import dask
    import distributed

    two = {"OMP_NUM_THREADS": 2, "MKL_NUM_THREADS": 2, "OPENBLAS_NUM_THREADS": 2}
    with (dask.config.set({"distributed.nanny.pre-spawn-environ": two}),
          distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as local_cluster):
        yield local_cluster


def test_dask_cluster_gives_the_local_result(cluster, two_scenarios: Path,
                                             tmp_path: Path) -> None:
    common = [CONFIG, "--scenarios", two_scenarios, "--designs", "blrm,3+3", "--trials", 120,
              "--seed", 8, "--method", "simulate", "--chunk-size", 30]
    local = simulate(*common, "--workers", 1, "--out", tmp_path / "local")
    assert local.exit_code == 0, local.output
    dask = simulate(*common, "--scheduler", cluster.scheduler_address, "--out", tmp_path / "dask")
    assert dask.exit_code == 0, dask.output
    assert_same_outputs(tmp_path / "local", tmp_path / "dask")


def blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((lib["num_threads"] for lib in threadpool_info()), default=1)


def test_dask_workers_use_one_blas_thread(cluster) -> None:
    executor = DaskCluster(cluster.scheduler_address)
    try:
        assert list(executor.imap_unordered(blas_threads, [()] * 4)) == [1] * 4
    finally:
        executor.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workers", 2, "--scheduler", "tcp://127.0.0.1:8786"], "not both"),
        (["--scheduler", f"tcp://127.0.0.1:{free_port()}"], "cannot reach the scheduler"),
        (["--scheduler", "no-port-here"], "cannot reach the scheduler"),
    ],
)
def test_scheduler_errors_exit_2(options: list[object], message: str, tmp_path: Path) -> None:
    start = time.monotonic()
    result = simulate(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3", "--trials", 10,
                      "--method", "simulate", "--out", tmp_path, *options)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert time.monotonic() - start < 10


def test_a_worker_imports_only_what_its_designs_need() -> None:
    """A worker process (pinned as the pool's initializer pins it) runs a chunk of BLRM,
    TITE-BLRM and 3+3 trials without SciPy, xarray or pandas (over a second per worker), until
    a design that needs SciPy (CRM, BOIN) is made."""
    code = ("import sys; from bayesdose.schema import load_design; "
            "from bayesdose.simulation import study; "
            "from bayesdose.simulation.executors import pin_worker_threads; "
            "from bayesdose.simulation.scenarios import Scenario; pin_worker_threads(); "
            f"design = load_design({str(CONFIGS / 'xj-mk-002.toml')!r}); "
            "scenario = Scenario('S', (0.05, 0.25, 0.45)); "
            "records = study.run_chunk(design, [scenario], ['tite-blrm', 'blrm', '3+3'], 1, 0, "
            "50, True)[2]; assert records['n_0_0'].sum() > 0; "
            "heavy = ('scipy', 'xarray', 'pandas', 'dask', 'pymc'); "
            "print(sorted(set(heavy) & set(sys.modules))); "
            "study.state_space(design, 'boin'); print(sorted(set(heavy) & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split("\n")[:2] == ["[]", "['scipy']"], proc.stderr



def test_simulating_processes_keep_freed_memory(monkeypatch) -> None:
    """glibc (these machines) takes the top pad (bayesdose.memory); elsewhere nothing is set."""
    from bayesdose import memory

    assert memory.keep_freed_memory() is True
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.keep_freed_memory() is False
