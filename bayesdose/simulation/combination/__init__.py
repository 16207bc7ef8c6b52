"""Simulation of two-drug combination trials: matrix scenarios (``scenarios``), the study
runner in lockstep with common random numbers (``study``) and its operating characteristics
per pair and overall (``metrics``)."""
