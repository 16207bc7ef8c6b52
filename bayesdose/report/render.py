"""Pages from templates, and PDFs from pages.

HTML comes from the jinja2 templates in ``templates/`` with autoescaping on, so every string
from a user's file is shown as text. The PDF is rendered by WeasyPrint, or by headless
Chromium's print-to-PDF when WeasyPrint cannot run (it needs the system's Pango libraries).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bayesdose.doseformat import rich_text
from bayesdose.errors import InputError
from bayesdose.record import atomic_write

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-pdf-header-footer",
)


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` (autoescaped; an undefined name is an error)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bayesdose.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["rich_doses"] = rich_text  # "3x10^8" in a sentence written as plain text: 3×10⁸
    return env.get_template(template).render(**context)


def write(path: Path, content: str | bytes, what: str) -> None:
    """Write an output atomically; a failure names the file."""
    try:
        atomic_write(path, content)
    except OSError as err:
        raise InputError(str(path), None, f"cannot write the {what}: {err.strerror}") from None


def pdf_bytes(html: str, engine: str = "auto") -> bytes:
    """The page as a PDF, by WeasyPrint (``auto`` falls back to Chromium when WeasyPrint
    cannot be imported, e.g. without Pango)."""
    if engine in ("auto", "weasyprint"):
        try:
            import weasyprint
        except (ImportError, OSError) as err:
            if engine == "weasyprint":
                raise InputError("--pdf-engine weasyprint", None,
                                 f"WeasyPrint cannot run here: {err}") from None
        else:
            return weasyprint.HTML(string=html).write_pdf()
    return chromium_pdf(html)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which(
        "google-chrome")


def chromium_pdf(html: str, timeout: float = 120.0) -> bytes:
    """Print the page to PDF with headless Chromium (a fresh profile, no network)."""
    browser = chromium_path()
    if browser is None:
        raise InputError("PDF", None, "neither WeasyPrint nor Chromium is available to render "
                         "the PDF (pip install weasyprint, or install chromium)")
    with tempfile.TemporaryDirectory(prefix="bayesdose-pdf-") as folder:
        page, pdf = Path(folder) / "page.html", Path(folder) / "page.pdf"
        page.write_text(html, encoding="utf-8")
        command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={folder}/profile",
                   f"--print-to-pdf={pdf}", page.as_uri()]
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if not pdf.exists() or pdf.stat().st_size == 0:
            problem = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise InputError("PDF", None, f"Chromium could not print the PDF: {problem[0]}")
        return pdf.read_bytes()
