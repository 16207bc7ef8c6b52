"""Reports for people: the design report (``bayesdose report``) and the pictures and one-page
report of a single decision (``bayesdose recommend --plot/--html``).

Figures are drawn with matplotlib (Agg, no display), pages with jinja2 templates (autoescaped)
and the PDF with WeasyPrint (headless Chromium when WeasyPrint cannot run). Nothing here but
the text helpers (``text``) is imported by the command line until one of those outputs is
asked for.
"""
