"""End to end, as a newcomer meets it: the sample campus imported through the CLI path into a
fresh store, the real app under uvicorn, a sign-in with a token in headless Chromium, the map
page with its tiles, and a dispatcher's search for room 214 answered by the real lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from api import cli
from api.app import create_app
from api.auth import create_token
from api.cli import import_manifest
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation
from tests.browser import (
    TILES_READY,
    chromium,
    line_positions,
    near,
    need_browser,
    screenshot,
    serve,
    severe_console_errors,
    wait_for,
)
from tiles import style

SAMPLE = Path(__file__).resolve().parents[1] / "data/samples/lincoln_ridge/campus.toml"
CAMPUS = "lincoln-ridge"


@pytest.fixture
def running(settings: Settings, store: SqlCampusStore,
            district: Organisation) -> Iterator[tuple[str, str]]:
    info, _ = import_manifest(store, SAMPLE, publish=True)  # for the only district
    assert info is not None
    token, _ = create_token(store, "e2e dispatcher", Role.DISPATCHER, org=district.id)
    with serve(create_app(settings, store)) as base:
        yield base, token


def test_lookup_room_214_over_http_with_the_token(running: tuple[str, str]) -> None:
    base, token = running
    url = f"{base}/campuses/{CAMPUS}/lookup"
    assert httpx.get(url, params={"q": "room 214"}).status_code == 401
    answer = httpx.get(url, params={"q": "room 214"},
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert answer["status"] == "found"
    best = answer["candidates"][0]
    assert (best["building_name"], best["level_name"], best["unit_number"]) == (
        "Main Building", "2nd Floor", "214")
    cell = httpx.get(f"{base}/campuses/{CAMPUS}/cells/{best['primary_cell']}",
                     headers={"Authorization": f"Bearer {token}"}).json()
    units = {u["number"] for lv in cell["levels"] if lv["ordinal"] == 1 for u in lv["units"]}
    assert "214" in units


def test_cli_lookup_against_the_server_with_the_printed_token(
    running: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    base, token = running
    assert cli.main(["lookup", CAMPUS, "rm 214", "--url", base, "--token", token]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "found: 1 match"
    assert "Main Building" in out[1] and "2nd Floor" in out[1] and "Room 214" in out[1]
    assert cli.main(["lookup", CAMPUS, "rm 214", "--url", base, "--token", "gm_wrong"]) == 2
    assert "401" in capsys.readouterr().err


def test_sign_in_then_map_shows_grid_and_labels_and_finds_room_214(
    running: tuple[str, str], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    need_browser()
    base, token = running
    with chromium(tmp_path / "profile") as drv:
        # without a session the map sends the browser to the sign-in form
        drv.get(f"{base}/campuses/{CAMPUS}/map")
        wait_for(drv, "return location.pathname === '/login'")
        drv.find_element(By.ID, "token").send_keys(token + Keys.ENTER)
        wait_for(drv, f"return location.pathname === '/campuses/{CAMPUS}/map'")
        wait_for(drv, "return !!(window.gridmap && window.L)")
        wait_for(drv, TILES_READY)
        shot = screenshot(drv, tmp_path, "e2e-map.png")

        # the grid: long straight lines in the grid colour, evenly spaced
        mask = near(shot, style.GRID_COLOUR, 45)
        cols = line_positions(mask, axis=0, min_len=300)
        rows = line_positions(mask, axis=1, min_len=300)
        assert len(cols) >= 5, f"vertical grid lines at {cols}"
        assert len(rows) >= 5, f"horizontal grid lines at {rows}"
        assert np.ptp(np.diff(cols)) <= 3

        # room labels: dark text pixels surrounded by room fill, in every building drawn
        fill = near(shot, style.ROOM_FILL, 12) | near(shot, style.HALLWAY_FILL, 12)
        dark = shot.max(axis=-1) < 90
        padded = np.pad(fill, 3)
        fill_nearby = np.zeros_like(fill)
        for dy in (-3, 0, 3):
            for dx in (-3, 0, 3):
                fill_nearby |= padded[3 + dy:3 + dy + fill.shape[0], 3 + dx:3 + dx + fill.shape[1]]
        text_in_rooms = dark & fill_nearby
        assert text_in_rooms.sum() > 200, f"only {text_in_rooms.sum()} label pixels in rooms"

        box = drv.find_element(By.ID, "gm-q")
        box.send_keys("room 214" + Keys.ENTER)
        wait_for(drv, "return document.querySelectorAll('#gm-list li').length > 0")
        text = drv.find_element(By.CSS_SELECTOR, "#gm-list li").text
        assert "Room 214 Science Lab" in text
        wait_for(drv, "return window.gridmap.level() === 1")
        wait_for(drv, TILES_READY)
        screenshot(drv, tmp_path, "e2e-214.png")
        errors: list[Any] = severe_console_errors(drv)
        assert not errors, errors
