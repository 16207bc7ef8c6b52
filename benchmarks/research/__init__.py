"""Research scripts: studies whose numbers went into the docs by hand or informed a default,
not pages regenerated with the benchmark suites.

- ``python -m benchmarks.research.calibration``: the default BLRM-EWOC (derived prior and MTD
  declaration) checked on panels it was not tuned on (writes the top of ``docs/calibration.md``).
- ``python -m benchmarks.research.coherence``: how often plain BLRM-EWOC would break coherence
  (printed; quoted in ``docs/reliability.md``).
"""
