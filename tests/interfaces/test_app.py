"""The interactive app, tested as a person would use it: a real server and headless Chromium."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from helpers import BASELINE, REPO_ROOT, needs_browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}: {process.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="module")
def app_server():
    """``migsim app`` on the baseline at a small sample, on a free port of 127.0.0.1."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", str(BASELINE), "--port", str(port),
                                "--agents", "20000"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        try:
            os.killpg(process.pid, 15)
        except ProcessLookupError:              # it already exited (the failure is reported above)
            pass
        process.wait(timeout=30)


def status_line(driver) -> str:
    """The app's line under the curves: 'month · encounters: N (so far N) · deaths: ... (persons)'."""
    text = driver.execute_script("return document.body ? document.body.innerText : ''") or ""
    return next((line for line in text.splitlines() if "encounters:" in line and "in transit" in line), "")


def wait_until(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"timed out waiting for {what}")


def click_button(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//button[normalize-space(.)='{label}']").click()


def step_months(driver, months: int) -> str:
    """Press Step ``months`` times, waiting for each month to show; returns the status line."""
    for _ in range(months):
        before = status_line(driver)
        click_button(driver, "Step")
        wait_until(lambda before=before: status_line(driver) != before and status_line(driver), what="the next month")
    return status_line(driver)


def encounters_so_far(line: str) -> float:
    """Encounters (persons) of the reported months so far, from the status line."""
    return float(re.search(r"encounters: [\d,]+ \(so far ([\d,]+)\)", line).group(1).replace(",", ""))


@pytest.mark.slow
@needs_browser
def test_app_listens_only_on_localhost(app_server):
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout if shutil.which("ss") else ""
    ours = [line for line in out.splitlines() if f":{app_server} " in line]
    if ours:
        assert all("127.0.0.1:" in line for line in ours), ours
    with pytest.raises(OSError):
        # the machine's other addresses do not answer
        other = socket.gethostbyname(socket.gethostname())
        if other.startswith("127."):
            raise OSError("no other address to try")
        socket.create_connection((other, app_server), timeout=2).close()


@pytest.mark.slow
@needs_browser
def test_page_shows_model_and_slider_changes_curves(app_server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"http://127.0.0.1:{app_server}/")
    wait_until(lambda: "migsim: baseline" in browser.page_source, 90, "the page title")
    wait_until(lambda: "warm-up" in status_line(browser), 60, "the status line")
    # the route network and the curves are drawn (matplotlib images), and the four lever sliders are there
    images = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "img.widget-image"), 30, "figures")
    assert len(images) >= 2
    for label in ("Extra aid", "Mexico containment", "US apprehension probability", "Appointments"):
        assert label in browser.page_source
    line = step_months(browser, 3)
    assert line.startswith("2023-03")
    before = encounters_so_far(line)
    assert before > 0
    curves_before = browser.find_elements(By.CSS_SELECTOR, "img.widget-image")[-1].screenshot_as_png

    # move the US apprehension slider to 0 (keyboard on its thumb), reset, and run the same months again
    thumbs = [t for t in browser.find_elements(By.CSS_SELECTOR, "[role='slider']")
              if t.get_attribute("aria-label") == "US apprehension probability"]
    assert len(thumbs) == 1
    browser.execute_script("arguments[0].focus();", thumbs[0])
    ActionChains(browser).send_keys(Keys.HOME).perform()
    wait_until(lambda: thumbs[0].get_attribute("aria-valuenow") == "0", 10, "the slider at 0")
    click_button(browser, "Reset")
    wait_until(lambda: "warm-up" in status_line(browser), 60, "a fresh model")
    line = step_months(browser, 3)
    assert line.startswith("2023-03")
    after = encounters_so_far(line)
    assert after < 0.5 * before          # no apprehensions: only appointments count as encounters
    curves_after = browser.find_elements(By.CSS_SELECTOR, "img.widget-image")[-1].screenshot_as_png
    assert curves_after != curves_before          # the curves are drawn from other numbers
    screenshot = os.environ.get("MIGSIM_APP_SCREENSHOT")
    browser.save_screenshot(screenshot or str(tmp_path / "app.png"))
