"""Shared fixtures: the repository root, shipped scenarios, small scenarios, YAML writers, the browser.

Helper functions and classes live in ``helpers.py``.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import sim

from helpers import BASELINE, CHROMEDRIVER, CHROMIUM, REPO_ROOT, Stepper, small


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def baseline_path() -> Path:
    return BASELINE


@pytest.fixture(scope="session")
def baseline() -> sim.Scenario:
    """The shipped baseline scenario, as written (full size: shrink with ``with_overrides``)."""
    return sim.load_scenario(BASELINE)


@pytest.fixture
def make_scenario():
    """Factory of small scenarios: ``make_scenario(months=4, policies={...})``."""
    return small


@pytest.fixture
def write_yaml(tmp_path):
    """Write dedented YAML text to ``tmp_path/name`` and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def stepper():
    return Stepper


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven by Selenium (Debian's chromium and chromedriver; nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1500,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})        # every request, for network_requests
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test made (``Result.plot()`` and the like return them open) are closed after it: the tests
    turn warnings into errors, and matplotlib warns when more than 20 figures are open in one process."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
