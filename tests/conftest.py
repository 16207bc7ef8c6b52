"""Shared fixtures: paths to the shipped configs, a small design built from a dict, and a real
browser (headless Chromium) for the HTML pages."""

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from bayesdose.schema import design_from_dict

# Property searches are random locally (to find new failures) and fixed in CI (so a landing is
# never decided by chance); a failure found either way goes into the tests as a case.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


@pytest.fixture
def five_doses():
    """A 5-dose design with every rule at a value the tests below reason about."""

    def make(**sections):
        raw = {
            "doses": {"levels": [1, 2, 4, 8, 16], "reference": 4},
            "model": {"prior_mean": [-1.1, 0.0], "prior_sd": [2.0, 1.0]},
            "stopping": {"max_patients": 30},
        }
        for name, values in sections.items():
            raw.setdefault(name, {}).update(values)
        return design_from_dict(raw, "test.toml")

    return make


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium driven by ChromeDriver (no network, a fresh profile)."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("chromium and chromedriver are not installed here (Debian packages "
                    "chromium, chromium-driver; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()
