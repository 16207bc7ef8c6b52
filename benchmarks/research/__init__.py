"""Research scripts: studies whose numbers went into the docs by hand or informed a default,
not pages regenerated with the benchmark suites.

- ``python -m benchmarks.research.calibration``: the calibration of the BLRM's default prior
  (writes ``configs/scenarios/calibration-5dose.toml`` and ``docs/calibration.md``).
- ``python -m benchmarks.research.coherence``: how often plain BLRM-EWOC would break coherence
  (printed; quoted in ``docs/reliability.md``).
"""
