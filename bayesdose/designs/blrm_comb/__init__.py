"""The combination BLRM with EWOC on a grid of dose pairs: its decision rules (``rules``), as
pure functions of posterior tables; the model is ``bayesdose.models.combination`` and its
posterior ``bayesdose.inference.combination``."""
