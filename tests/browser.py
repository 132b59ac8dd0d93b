"""Shared pieces of the headless-Chromium tests: a uvicorn server, a driver, pixel helpers.

Chromium starts with the flags this network needs (no background networking) and a fresh
profile per test. Tests skip with a reason when Chromium, chromedriver or the npm assets are
missing on a laptop; with ``GRIDMAP_REQUIRE_SERVICES=1`` (set by CI) they fail instead.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from tiles.webmap import VendorAssetsMissing, vendor_dir

CHROMIUM = os.environ.get("GRIDMAP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GRIDMAP_CHROMEDRIVER", "/usr/bin/chromedriver")
WINDOW = (1200, 900)

Pixels = NDArray[np.int16]

TILES_READY = """
const imgs = Array.from(document.querySelectorAll('img.leaflet-tile'));
const anim = document.querySelector('.leaflet-zoom-anim');
const pending = document.querySelectorAll('.leaflet-tile-container img:not(.leaflet-tile-loaded)');
return imgs.length > 0 && !anim && pending.length === 0
  && imgs.every(i => i.complete && i.naturalWidth > 0);
"""


def need_browser() -> Path:
    """Skip (or, in CI, fail) unless Chromium, chromedriver and the npm assets are present."""
    chromium = shutil.which(CHROMIUM) or shutil.which("chromium")
    driver = shutil.which(CHROMEDRIVER) or shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium and chromedriver are not installed "
                    "(Debian: apt-get install chromium chromium-driver)")
    try:
        return vendor_dir()
    except VendorAssetsMissing as err:
        pytest.skip(str(err))


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium(profile_dir: Path) -> Iterator[Any]:
    """A headless Chromium driven by selenium, with a fresh profile in ``profile_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which(CHROMIUM) or shutil.which("chromium") or CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-quic", "--no-first-run", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--user-data-dir={profile_dir}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which(CHROMEDRIVER) or shutil.which("chromedriver")
                      or CHROMEDRIVER)
    drv = webdriver.Chrome(options=opts, service=service)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def wait_for(drv: Any, script: str, timeout: float = 20.0) -> None:
    """Wait until ``script`` returns a truthy value in the page (a DOM condition, not a delay)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(drv, timeout, poll_frequency=0.05).until(
            lambda d: d.execute_script(script))
    except TimeoutException:
        raise AssertionError(f"timed out waiting for: {script.strip()[:80]}") from None


def wait_for_text(drv: Any, css: str, timeout: float = 20.0) -> str:
    """The visible text of the first element matching ``css``, once it has any.

    Selenium reports no text for an element that is still transparent, as a Leaflet popup is at
    the start of its fade-in, so reading ``.text`` as soon as the element exists can give ''.
    """
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def visible_text(d: Any) -> str | bool:
        try:
            text: str = d.find_element(By.CSS_SELECTOR, css).text
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return text if text.strip() else False

    try:
        found = WebDriverWait(drv, timeout, poll_frequency=0.05).until(visible_text)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for text in {css}") from None
    return str(found)


#: Every tile and popup has finished fading in (Leaflet animates their opacity from 0 to 1).
FADES_DONE = """
return Array.from(document.querySelectorAll('img.leaflet-tile, .leaflet-popup'))
  .every(e => getComputedStyle(e).opacity === '1');
"""


def screenshot(drv: Any, tmp_path: Path, name: str) -> Pixels:
    """A screenshot as RGB pixels, once fades are done; kept in ``GRIDMAP_SCREENSHOT_DIR``."""
    wait_for(drv, FADES_DONE)
    png = drv.get_screenshot_as_png()
    (tmp_path / name).write_bytes(png)
    keep = os.environ.get("GRIDMAP_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / name).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def near(px: Pixels, colour: tuple[int, ...], tol: int) -> NDArray[np.bool_]:
    mask: NDArray[np.bool_] = (
        np.abs(px - np.array(colour[:3], dtype=np.int16)).max(axis=-1) <= tol)
    return mask


def line_positions(mask: NDArray[np.bool_], axis: int, min_len: int) -> list[int]:
    """Centres of runs of columns (axis=0) or rows (axis=1) holding >= min_len mask pixels."""
    counts = mask.sum(axis=axis)
    idx = np.flatnonzero(counts >= min_len)
    groups: list[list[int]] = []
    for i in idx.tolist():
        if groups and i - groups[-1][-1] <= 2:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [round(sum(g) / len(g)) for g in groups]


def severe_console_errors(drv: Any) -> list[Any]:
    return [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
