"""The HTML report in a real browser: it renders, loads its image, runs no planted script.

Needs headless Chromium and chromedriver (``scripts/install-test-packages.sh``) and selenium
(requirements-dev.txt). Without them the tests skip, except in CI (``CI`` set), where they fail so
that a missing browser cannot pass unnoticed.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest

from eventlift.report.html import build_report
from support.reports import EVIL_EVENT, EVIL_STORE, EVIL_VERDICT, run_folder

CHROMIUM = os.environ.get("EVENTLIFT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("EVENTLIFT_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL = "run scripts/install-test-packages.sh"


def _unavailable(message: str) -> NoReturn:
    """Fail in CI, where the browser is part of the environment; skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{message}; {INSTALL} in the CI image.", pytrace=False)
    pytest.skip(f"{message}; {INSTALL} to enable the browser tests.")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """A headless Chromium showing the report; the browser is checked before the run trains."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not (Path(binary).is_file() or shutil.which(binary)):
            _unavailable(f"{binary} is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -r requirements-dev.txt)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # needed as root, e.g. in containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    report = build_report(run_folder(tmp_path_factory))
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        browser.set_page_load_timeout(30)
        browser.get(report.resolve().as_uri())
        yield browser
    finally:
        browser.quit()


def test_page_renders_without_console_errors_or_network(driver):
    assert driver.title.startswith("eventlift report")
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    )
    assert resources == []  # nothing fetched: the image is a data URI


def test_every_image_loads(driver):
    sizes = driver.execute_script(
        "return Array.prototype.map.call(document.images, function (image) {"
        "  return [image.complete, image.naturalWidth, image.naturalHeight]; })"
    )
    assert len(sizes) == 1
    for complete, width, height in sizes:
        assert complete and width > 800 and height > 600


def test_planted_markup_did_not_run_and_reads_as_text(driver):
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is what raises
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert driver.execute_script("return document.scripts.length") == 1
    shown = driver.execute_script("return document.body.textContent")
    for planted in (EVIL_EVENT, EVIL_STORE, EVIL_VERDICT):
        assert planted in shown


def test_clicking_a_header_sorts_the_table(driver):
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.XPATH, "//h3[@id='no_funnel-event_type']/following::table[1]")
    headers = [th.text for th in table.find_elements(By.TAG_NAME, "th")]
    column = headers.index("lift") + 1
    lift_header = table.find_element(By.XPATH, f".//th[{column}]")

    def lifts() -> list[float]:
        cells = table.find_elements(By.XPATH, f".//tbody/tr/td[{column}]")
        return [float(cell.get_attribute("data-sort")) for cell in cells]

    lift_header.click()
    assert lift_header.get_attribute("aria-sort") == "ascending"
    assert lifts() == sorted(lifts()) and len(lifts()) > 2
    lift_header.click()
    assert lift_header.get_attribute("aria-sort") == "descending"
    assert lifts() == sorted(lifts(), reverse=True)


def test_screenshot_is_not_blank(driver):
    from PIL import Image

    driver.execute_script("window.scrollTo(0, 0)")
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    pixels = np.asarray(image, dtype=np.uint32)  # (H, W, 3)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]  # (H, W)
    assert len(np.unique(packed)) > 50  # text, borders and header shading, not one flat colour
    assert pixels.std() > 10
