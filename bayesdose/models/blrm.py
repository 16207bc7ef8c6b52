"""The single-agent Bayesian logistic regression model (Neuenschwander, Branson & Gsponer 2008).

logit P(DLT | d) = log(alpha) + beta x_d, x_d = log(d / d_ref), beta = exp(log beta), with a
prior on theta = (log alpha, log beta) (``bayesdose.models.prior``). Log alpha enters the linear
predictor additively and beta > 0, so P(DLT | d) increases with dose and with log alpha: the
exact engine integrates interval probabilities along log alpha up to a threshold that does not
depend on the data (``bayesdose.inference.exact``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesdose.panel import DosePanel

PARAMETERS = ("log_alpha", "log_beta")


@dataclass(frozen=True)
class SingleAgentBlrm:
    """The BLRM on one drug's dose panel: its covariate x_d = log(d / d_ref) per dose."""

    x: tuple[float, ...]

    @classmethod
    def on(cls, panel: DosePanel) -> SingleAgentBlrm:
        return cls(panel.log_dose_ratio)

    @property
    def covariate(self) -> np.ndarray:
        return np.asarray(self.x, dtype=float)

    def linear_predictor(self, log_alpha: Any, beta: Any) -> Any:
        """logit P(DLT | d) = log alpha + beta x_d, doses on the last axis: ``log_alpha`` and
        ``beta`` broadcast against the covariate (NumPy arrays or PyTensor expressions)."""
        return log_alpha + beta * self.covariate
