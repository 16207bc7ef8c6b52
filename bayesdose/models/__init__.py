"""Models of P(DLT | dose) and priors on their parameters (see ``docs/architecture.md``)."""
