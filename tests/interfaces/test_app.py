"""The interactive app, tested as a person would use it: a real server and headless Chromium."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import BASELINE, REPO_ROOT, figure_text_problems, needs_browser, tick_texts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}: {process.log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """``migsim app`` on the baseline at a small sample, on a free port of 127.0.0.1; its log in ``server.log``."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", str(BASELINE), "--port", str(port),
                                    "--agents", "20000"], cwd=REPO_ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
    process.log = log
    try:
        wait_for_port(port, process)
        yield port, process
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
    app_server, _ = app_server
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


def page_text(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''") or ""


def network_requests(driver) -> list[tuple[str, int | None]]:
    """(URL, HTTP status or None) of every request the page made since the last call (Chrome's performance log)."""
    import json

    sent, status = [], {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent.append((params["requestId"], params["request"]["url"]))
        elif message["method"] == "Network.responseReceived":
            status[params["requestId"]] = params["response"]["status"]
    return [(url, status.get(request)) for request, url in sent]


@pytest.mark.slow
@needs_browser
def test_page_shows_model_and_slider_changes_curves(app_server, browser, tmp_path):
    from urllib.parse import urlsplit

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    port, server = app_server
    browser.get_log("performance")                                   # start the request log here
    browser.get(f"http://127.0.0.1:{port}/")
    wait_until(lambda: browser.title == "migsim: baseline", 90, "the page title")
    wait_until(lambda: "warm-up" in status_line(browser), 60, "the status line")
    # the route network and the curves are drawn (matplotlib images), and the four lever sliders show their values
    images = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "img.widget-image"), 30, "figures")
    assert len(images) >= 2
    text = page_text(browser)
    for label in ("Extra aid per origin: 0 million USD/year", "Mexico containment: ", "Appointments: ",
                  "US apprehension probability: 0."):
        assert label in text, label
    assert re.search(r"Mexico containment: [\d,]+ persons/month", text)
    assert "Page 0" not in text and "PAGE 0" not in text and "Time:" not in text
    assert "the first reported month is 2023-01" in text
    line = step_months(browser, 3)
    assert line.startswith("2023-03")
    assert "Month 2023-03 (3 of 36 reported months)" in page_text(browser)
    before = encounters_so_far(line)
    assert before > 0
    curves_before = browser.find_elements(By.CSS_SELECTOR, "img.widget-image")[-1].screenshot_as_png

    # move the US apprehension slider to 0 (keyboard on its thumb): its label shows the value; reset, run again
    thumbs = browser.find_elements(By.XPATH, "//*[starts-with(normalize-space(text()), 'US apprehension "
                                   "probability:')]/following::*[@role='slider'][1]")
    assert len(thumbs) == 1
    browser.execute_script("arguments[0].focus();", thumbs[0])
    ActionChains(browser).send_keys(Keys.HOME).perform()
    wait_until(lambda: "US apprehension probability: 0.00" in page_text(browser), 10, "the slider at 0")
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

    # nothing was asked of any other host, nothing failed to load, and the server fetched nothing (no CDN)
    requests = network_requests(browser)
    assert any(url.startswith(f"http://127.0.0.1:{port}/") for url, _ in requests)
    elsewhere = [url for url, _ in requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                 and urlsplit(url).hostname != "127.0.0.1"]
    assert elsewhere == []
    assert [(url, code) for url, code in requests if code is not None and code >= 400] == []
    assert not [url for url, _ in requests if "katex" in url or "mermaid" in url]
    log = server.log.read_text()
    assert "katex" not in log.lower() and "cdn.jsdelivr" not in log and "Traceback" not in log, log


# ---------------------------------------------------------------- the page's figures, without a browser

@pytest.fixture(scope="module")
def app_model():
    """The app's model of the baseline at a small sample, three months after the warm-up."""
    from sim.app import AppModel

    model = AppModel(str(BASELINE), agents=3000)
    for _ in range(3):
        model.step()
    return model


def test_network_is_drawn_on_the_places_coordinates_with_labels_apart(app_model):
    from matplotlib.transforms import Bbox

    from sim.app import INSET, network_figure
    from sim.core.network import load_route_graph, node_positions

    where = node_positions()
    assert set(where) == set(load_route_graph().node_ids)          # every shipped node has a place on the map
    assert all(-120 < p.lon < -30 and -60 < p.lat < 40 and p.place for p in where.values())
    fig = network_figure(app_model)
    drawn = {tuple(np.round(c.get_offsets()[0], 6)) for c in fig.axes[0].collections}
    assert {(round(p.lon, 6), round(p.lat, 6)) for p in where.values()} <= drawn
    labels = fig.node_labels
    texts = [label.get_text().split("\n")[0] for label in labels]
    assert sorted(texts) == sorted(n.replace("_TRANSIT", " (transit)").replace("_", " ") for n in where)
    renderer = fig.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in labels]
    overlaps = [(texts[i], texts[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                if boxes[i].overlaps(boxes[j])]
    assert overlaps == []                                   # PAN DARIEN and COL NECOCLI among them
    # a label covers no node's circle but, at most, its own (checked on the axes it is drawn in)
    for label, box, text in zip(labels, boxes, texts):
        ax = label.axes
        for collection in ax.collections:
            x, y = ax.transData.transform(collection.get_offsets()[0])
            radius = np.sqrt(collection.get_sizes()[0]) / 2 * fig.dpi / 72
            circle = Bbox([[x - radius, y - radius], [x + radius, y + radius]])
            own = np.allclose(label.xy, collection.get_offsets()[0])
            assert own or not box.shrunk(0.9, 0.9).overlaps(circle.shrunk(0.8, 0.8)), text
    # Central America is magnified in an inset that holds its nodes' labels
    west, east, south, north = INSET
    inset_labels = [t for t, label in zip(texts, labels) if label.axes is not fig.axes[0]]
    assert {"SLV", "HND (transit)", "NIC (transit)", "GTM"} <= set(inset_labels)
    assert all(west <= where[n].lon <= east and south <= where[n].lat <= north for n in where
               if n.replace("_TRANSIT", " (transit)").replace("_", " ") in inset_labels)
    assert figure_text_problems(fig) == []


def test_curves_by_month_with_thousands_and_the_latest_value(app_model):
    from sim.app import curves_figure, month_text, status_text

    fig = curves_figure(app_model)
    assert figure_text_problems(fig) == []
    months = tick_texts(fig.axes[-1].xaxis)
    assert months[0] == "2023-01" and all(re.fullmatch(r"\d{4}-\d{2}", m) for m in months) and len(months) <= 7
    encounters = app_model.monthly_persons("encounters")
    assert len(encounters) == 3
    written = [t.get_text() for t in fig.axes[0].texts]
    assert written == [f"{encounters[-1]:,.0f}"]                     # the latest value at the end of the curve
    big = [t for ax in fig.axes for t in tick_texts(ax.yaxis) if float(t.replace(",", "")) >= 1000]
    assert big and all("," in t for t in big)
    assert month_text(app_model) == "Month 2023-03 (3 of 36 reported months)"
    assert status_text(app_model).startswith(f"2023-03 · encounters: {encounters[-1]:,.0f} (so far ")
