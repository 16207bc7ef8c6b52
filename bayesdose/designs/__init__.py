"""Every design's home: one package per design, the shared interface and the modifiers.

- ``base``: trial states, actions and stop codes (the interface every design answers);
- ``registry``: each design once (name, label, colour, package, how it runs);
- ``titration``: accelerated titration, the single-patient rule every design applies and the
  one-level-per-patient override CRM and BOIN call; ``waiting``: wraps any design to decide
  only on complete follow-up in a simulation with time;
- ``blrm``, ``three_plus_three``, ``crm``, ``boin``: one package per design, each with its
  ``describe`` (words for a report), its simulated design and, where it has settings, its
  config section (``config``).
"""
