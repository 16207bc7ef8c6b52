"""The defaults every entry point shares: the command line, the notebook API and the report, so
the same call gives the same numbers whichever way it is made."""

ENGINES = ("exact", "mcmc", "both")  # recommend: the exact engine is the decision of record
DEFAULT_SEED = 1  # MCMC in recommend; every simulated patient in simulate and report
DEFAULT_DESIGNS = ("blrm", "3+3")  # compared by simulate
DEFAULT_TRIALS = 10000  # simulated trials per scenario
METHODS = ("auto", "exact", "simulate")  # exact: walk the tree of trial states
DEFAULT_METHOD = "auto"  # exact when the tree is small enough
PDF_ENGINES = ("auto", "weasyprint", "chromium")  # report: auto is WeasyPrint, else Chromium
RANDOM_METHODS = ("paoletti", "pseudo-uniform")  # --random: how random scenarios are drawn
DEFAULT_RANDOM_METHOD = "paoletti"
DEFAULT_AGAINST = "boin"  # calibrate: overdosing no worse than this design's
CALIBRATION_BUDGET = 50  # calibrate: settings computed
CALIBRATION_TRIALS = 2000  # calibrate: simulated trials per scenario when a tree is too large
