"""Bayesian adaptive dose finding (BLRM with EWOC) for phase I trials.

The notebook API, with the command line's defaults (see ``bayesdose.api``)::

    import bayesdose

    design = bayesdose.load_design("configs/xj-mk-002.toml")
    rec = bayesdose.recommend(design, "configs/examples/xj-mk-002.csv")  # or a DataFrame
    boin = bayesdose.next_step(design, "configs/examples/xj-mk-002.csv", "boin")
    conflict = bayesdose.prior_conflict(design, "configs/examples/xj-mk-002.csv")
    platelets = bayesdose.endpoints("configs/xj-mk-002-efficacy.toml",
                                    "configs/examples/xj-mk-002-platelets.csv")
    study = bayesdose.simulate("configs/standard-5dose.toml",
                               "configs/scenarios/standard-5dose.toml", trials=2000)
    tuned = bayesdose.calibrate("configs/standard-5dose.toml", random=200, budget=50)

These names are imported on first use, so ``import bayesdose`` (done by the command line and
by every simulation worker process) loads no numerical library.
"""

__all__ = ["calibrate", "endpoints", "load_design", "map_prior", "next_step", "prior_conflict",
           "read_data", "recommend", "simulate"]


def __getattr__(name: str):
    if name in __all__:
        from bayesdose import api

        return getattr(api, name)
    raise AttributeError(f"module 'bayesdose' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
