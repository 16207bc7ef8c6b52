"""Benchmarks, run from the repository root as ``python -m benchmarks.NAME``.

- ``common``: the one harness (BLAS pinning, timing, subprocess environment, page stamp,
  tables, atomic writes); imported first by every script.
- Page generators, each rewriting its page under ``docs/``: ``engine``
  (engine-benchmarks.md), ``simulation`` (simulation-benchmarks.md), ``simulation_time``
  (simulation-time-benchmarks.md), ``oc`` (oc-benchmarks.md and its figures), ``borrowing``
  (borrowing-oc.md; its frozen MAP priors are in ``benchmarks/borrowing/``), ``priors``
  (prior-benchmarks.md: ``bayesdose map`` and ``recommend`` with MAP priors), ``speed`` (runs
  engine and simulation, then writes the index benchmarks.md).
- ``research``: studies behind a default or a quoted number (the prior calibration, the
  coherence count), not regenerated with the pages.

The input fuzzer is a test tool: ``tests/fuzz.py``.
"""
