"""Calibration of the BLRM on many scenarios (``bayesdose calibrate``): ``knobs`` (what is
searched), ``objective`` (mean measures, exact or simulated), ``search`` (the budgeted search
under the overdosing constraint), ``front`` (Pareto fronts and their figure), ``toml_edit``
(the config's text with the chosen values) and ``run`` (end to end, and the outputs).
"""
