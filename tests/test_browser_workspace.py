"""The workspace, as facilities staff use it: headless Chromium on the real app under uvicorn.

An editor signs in, starts a workspace for a new campus, uploads a floor plan whose layers are
named in French (the sample's Early Childhood Center, its layers renamed) and the site's parcel,
confirms the layers gridmap proposes, places the drawing by clicking three building corners on
the plan and then on the site map (real clicks at the screen positions of the corners' known
drawing and earth coordinates), imports, renumbers a room by clicking it on the draft map,
marks the main entrance and locks its door number, places a Knox box near it by clicking the
map, publishes and records a walk-through. Then an officer (another token) finds the room
under its new number on the map page and through the lookup API, and the door and the Knox
box through the lookup.

Every wait is on the page's state with a deadline, never a sleep. Set ``GRIDMAP_SCREENSHOT_DIR``
to keep the screenshots.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation
from tests.browser import (
    TILES_READY,
    chromium,
    need_browser,
    screenshot,
    serve,
    severe_console_errors,
    wait_for,
    wait_for_text,
)

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[1] / "data/samples/lincoln_ridge"
#: The sample's layer names and the French ones this test's drawing uses instead.
FRENCH = {"A-AREA": "LOCAUX", "A-AREA-IDEN": "NUMEROS_LOCAUX", "A-DOOR": "PORTES",
          "A-FLOR-OTLN": "FACADE", "A-WALL": "MURS", "A-ANNO-DIMS": "COTATIONS",
          "G-ANNO-TTLB": "CARTOUCHE"}
ROLES = {"rooms": "A-AREA", "labels": "A-AREA-IDEN", "doors": "A-DOOR", "outline": "A-FLOR-OTLN"}
CAMPUS_ID = "early-learning-center"
CAMPUS_NAME = "Early Learning Center"
BUILDING = "C"
OLD_NUMBER = "C-3"
#: The room whose label the test's drawing moves out of the building.
STRAY = "C-2"
#: A room whose name in the test's drawing is markup, and that name.
MARKED = "C-4"
MARKUP = '<img src="x" id="injected">Pre-K'
NEW_NUMBER = "C-103"
#: The number the test gives the main entrance's door (and locks).
DOOR_NUMBER = "9"


def french_drawing(path: Path, *, stray: str | None = None, markup: str | None = None) -> Path:
    """The sample's building C, first floor, with every layer renamed to French; with
    ``stray``, that room's label is moved out of the building (20 ft south of it): a room
    without a label and a label outside every room, for the report to show; with ``markup``,
    that room's name is HTML (which the page must show as text)."""
    from ezdxf.filemanagement import readfile

    doc = readfile(SAMPLE / "C_level1.dxf")
    for entity in doc.modelspace():
        text = entity.dxf.get("text", "") if entity.dxftype() in ("TEXT", "MTEXT") else ""
        number = text.split("\\P")[0]
        if stray is not None and number == stray:
            x, _, _ = entity.dxf.insert
            entity.dxf.insert = (x, -20.0, 0.0)
        if markup is not None and number == markup and "\\P" in text:
            entity.dxf.text = f"{number}\\P{MARKUP}"
    for old, new in FRENCH.items():
        if old in doc.layers and new not in doc.layers:
            doc.layers.new(new, dxfattribs={"color": doc.layers.get(old).dxf.color})
    spaces = [doc.modelspace(), *doc.blocks]
    for space in spaces:
        for entity in space:
            if entity.dxf.hasattr("layer") and entity.dxf.layer in FRENCH:
                entity.dxf.layer = FRENCH[entity.dxf.layer]
    for old in FRENCH:
        if old in doc.layers:
            doc.layers.remove(old)
    doc.saveas(path)
    return path


def corners() -> list[dict[str, Any]]:
    """Building C's control points as the sample's manifest gives them (drawing feet, lon/lat)."""
    manifest = tomllib.loads((SAMPLE / "campus.toml").read_text())
    (c,) = [b for b in manifest["buildings"] if b["id"] == BUILDING]
    points: list[dict[str, Any]] = c["control_points"]
    return points


@pytest.fixture
def running(settings: Settings, store: SqlCampusStore,
            district: Organisation) -> Iterator[tuple[str, str, str]]:
    editor, _ = create_token(store, "facilities editor", Role.EDITOR, org=district.id)
    officer, _ = create_token(store, "patrol officer", Role.OFFICER, org=district.id)
    app = create_app(settings, store)
    app.state.jobs.start()  # the test server runs without lifespan: start the import workers
    try:
        with serve(app) as base:
            yield base, editor, officer
    finally:
        app.state.jobs.stop()


def sign_in(drv: Any, base: str, path: str, token: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    drv.get(f"{base}{path}")
    wait_for(drv, "return location.pathname === '/login'")
    drv.find_element(By.ID, "token").send_keys(token + Keys.ENTER)
    wait_for(drv, f"return location.pathname === {path!r}")


def click_at(drv: Any, map_expr: str, latlng: list[float]) -> None:
    """A real click on the map ``map_expr`` names, at the screen position of ``latlng`` (the
    map scrolled into view first; the point must be on the map and nothing may cover it)."""
    from selenium.webdriver.common.action_chains import ActionChains

    drv.execute_script(f"{map_expr}.getContainer().scrollIntoView({{block: 'center'}})")
    where = drv.execute_script(f"""
        const map = {map_expr};
        const p = map.latLngToContainerPoint(arguments[0]);
        const box = map.getContainer().getBoundingClientRect();
        const x = Math.round(box.left + p.x), y = Math.round(box.top + p.y);
        const hit = document.elementFromPoint(x, y);
        return {{x: x, y: y, inside: p.x >= 0 && p.y >= 0 && p.x < box.width && p.y < box.height,
                 onMap: !!hit && map.getContainer().contains(hit)
                        && !hit.closest('.leaflet-popup, .leaflet-control'),
                 hit: hit ? hit.outerHTML.slice(0, 120) : null}};""", latlng)
    assert where["inside"] and where["onMap"], where
    actions = ActionChains(drv)
    pointer = actions.w3c_actions.pointer_action
    pointer.move_to_location(where["x"], where["y"])  # type: ignore[no-untyped-call]
    pointer.click()
    actions.perform()


def import_draft(drv: Any) -> None:
    """Press Import and wait for the report, or fail at once with what the page says."""
    from selenium.webdriver.common.by import By

    press(drv, drv.find_element(By.ID, "ws-import"))
    wait_for(drv, "return !!document.body.dataset.reportShown"
                  " || document.body.dataset.importFailed === 'true'"
                  " || !!document.getElementById('ws-import-error').textContent", timeout=180)
    error = drv.find_element(By.ID, "ws-import-error").text
    assert not error, error


def shown_on_map(drv: Any, finding: dict[str, Any], line: Any) -> None:
    """``finding`` is shown on the draft map: its place in the middle of the map at street
    zoom or closer, its popup naming it, its line in the list marked as the one shown."""
    at = ",".join(str(v) for v in finding["at"])
    wait_for(drv, f"return document.getElementById('ws-preview').dataset.highlight === {at!r}")
    where = drv.execute_script("""
        const map = window.workspace.preview(), at = arguments[0];
        const p = map.latLngToContainerPoint([at[1], at[0]]), size = map.getSize();
        return {dx: p.x / size.x - 0.5, dy: p.y / size.y - 0.5, zoom: map.getZoom()};""",
        finding["at"])
    assert abs(where["dx"]) < 0.25 and abs(where["dy"]) < 0.25 and where["zoom"] >= 19, where
    message = json.dumps(" ".join(finding["message"].split()))
    wait_for(drv, "return Array.from(document.querySelectorAll('#ws-preview .leaflet-popup'),"
                  " e => e.textContent.replace(/\\s+/g, ' '))"
                  f".some(text => text.includes({message}))")
    assert "ws-current" in line.get_attribute("class").split()


def press(drv: Any, element: Any) -> None:
    """Click an element once scrolled to the middle of the window (clear of the top bar)."""
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def test_editor_brings_in_a_french_drawing_and_an_officer_sees_the_fix(
    running: tuple[str, str, str], tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    need_browser()
    base, editor, officer = running
    dxf = french_drawing(tmp_path / "C_niveau1.dxf", stray=STRAY, markup=MARKED)
    parcel = SAMPLE / "parcel.geojson"
    points = corners()[:3]

    with chromium(tmp_path / "profile") as drv:
        drv.set_window_size(1440, 1000)
        sign_in(drv, base, "/workspace", editor)
        wait_for(drv, "return document.body.dataset.ready === 'true'")
        drv.find_element(By.ID, "ws-new-name").send_keys(CAMPUS_NAME)
        assert drv.find_element(By.ID, "ws-new-id").get_attribute("value") == CAMPUS_ID
        screenshot(drv, tmp_path, "workspace-0-home.png")
        drv.find_element(By.CSS_SELECTOR, "#ws-new button[type=submit]").click()
        wait_for(drv, "return location.pathname.startsWith('/workspace/')"
                      " && document.body.dataset.ready === 'true'")

        # 1. upload the drawing and the parcel through the file picker, each with its own bar
        drv.find_element(By.ID, "ws-file").send_keys(f"{dxf}\n{parcel}")
        wait_for(drv, "return document.body.dataset.uploads === '2'", timeout=60)
        states = drv.execute_script(
            "return Array.from(document.querySelectorAll('.ws-upload'), li => li.className)")
        assert len(states) == 2 and all("ws-upload-ok" in s for s in states), states

        # 2. the proposal names the French layers by what they hold
        wait_for(drv, "return !!document.querySelector('.ws-drawing[data-preview=drawn]')",
                 timeout=30)
        proposed = drv.execute_script("""
            const out = {};
            document.querySelectorAll('.ws-drawing select[data-role]').forEach(
                s => { out[s.dataset.role] = s.value; });
            return out;""")
        for role, layer in ROLES.items():
            assert proposed[role] == FRENCH[layer], (role, proposed)
        card = drv.find_element(By.CSS_SELECTOR, ".ws-drawing")
        assert card.find_element(By.CSS_SELECTOR, "[data-field=building_id]").get_attribute(
            "value") == BUILDING
        card.find_element(By.CSS_SELECTOR, "[data-field=building_name]").send_keys(
            "Early Childhood Center")
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
        screenshot(drv, tmp_path, "workspace-2-layers.png")
        card.find_element(By.CSS_SELECTOR, "[data-action=confirm]").click()
        wait_for(drv, "return document.querySelector('.ws-drawing').dataset.confirmed === 'true'")

        # 3. three corners: a click on the plan, then one on the site map, for each
        section = drv.find_element(By.ID, "step-georef")
        drv.execute_script("arguments[0].scrollIntoView({block: 'start'})", section)
        wait_for(drv, "return document.getElementById('ws-plan').dataset.ready === 'true'"
                      " && document.getElementById('ws-earth').dataset.ready === 'true'")
        lons = [p["lonlat"][0] for p in points]
        lats = [p["lonlat"][1] for p in points]
        drv.execute_script("window.workspace.geo.earth.setView(arguments[0], 20, {animate: false})",
                           [sum(lats) / len(lats), sum(lons) / len(lons)])
        for n, point in enumerate(points, start=1):
            x, y = point["cad"]
            click_at(drv, "window.workspace.geo.plan", [y, x])
            lon, lat = point["lonlat"]
            click_at(drv, "window.workspace.geo.earth", [lat, lon])
            wait_for(drv, f"return document.body.dataset.fitPairs === '{n}'"
                          f" && document.querySelectorAll('#ws-pairs tbody tr').length === {n}")
        residuals = drv.execute_script(
            "return Array.from(document.querySelectorAll('#ws-pairs td.ws-res'),"
            " td => Number(td.dataset.residual))")
        assert len(residuals) == 3 and max(residuals) < 0.5, residuals
        verdict = drv.find_element(By.CSS_SELECTOR, "#ws-advice [data-verdict]")
        assert verdict.get_attribute("data-verdict") == "accepts", verdict.text
        screenshot(drv, tmp_path, "workspace-3-georef.png")
        drv.find_element(By.ID, "ws-save-georef").click()
        wait_for(drv, "return !!document.body.dataset.georefSaved")

        # 4. import, with the job's progress, then the report
        import_draft(drv)
        from ezdxf.entities.lwpolyline import LWPolyline
        from ezdxf.filemanagement import readfile

        plan = readfile(dxf)
        outlines = [e for e in plan.modelspace().query("LWPOLYLINE")
                    if isinstance(e, LWPolyline) and e.dxf.layer == FRENCH["A-AREA"]
                    and e.closed]
        units = drv.execute_script(  # rooms with an outline (not a label kept on its own)
            "return window.workspace.state.features.features"
            ".filter(f => f.feature_type === 'unit' && !f.properties.approximate)"
            ".map(f => f.properties.number)")
        assert len(units) == len(outlines) and OLD_NUMBER in units, units
        # the stray label is kept as a room of its own, and the report says so; every finding
        # is listed, and one with a place is shown there on the map
        report = drv.execute_script("return window.workspace.state.report")
        label_only = drv.find_element(By.CSS_SELECTOR, "[data-count=label_only_rooms] strong")
        assert label_only.text == "1", report
        listed = drv.find_elements(By.CSS_SELECTOR, ".ws-finding")
        assert len(listed) == len(report["findings"]), report
        placed = [(i, f) for i, f in enumerate(report["findings"]) if f["at"]]
        assert drv.execute_script(  # each finding with a place is marked on the draft map
            "return document.querySelectorAll('#ws-preview path.ws-finding-mark').length"
        ) == len(placed), report
        for index, finding in placed[:1]:
            press(drv, listed[index])
            shown_on_map(drv, finding, listed[index])
        # a name that is markup in the drawing is shown as text, in the list and on the map
        marked = drv.find_element(By.CSS_SELECTOR, f"#ws-rooms tr[data-number='{MARKED}']")
        assert MARKUP in marked.text, marked.text
        drv.execute_script("""
            const f = window.workspace.state.features.features.find(
                f => f.feature_type === 'unit' && f.properties.number === arguments[0]);
            window.workspace.unitLayers()[f.id].openTooltip();""", MARKED)
        tip = wait_for_text(drv, "#ws-preview .leaflet-tooltip")
        assert MARKUP in tip, tip
        assert drv.execute_script("return document.getElementById('injected')") is None

        # the room left without its label: its finding (Enter on its line) opens that room for
        # a number
        index = next(i for i, f in placed if f["kind"] == "room_without_label")
        listed[index].send_keys(Keys.ENTER)
        shown_on_map(drv, report["findings"][index], listed[index])
        wait_for(drv, "return !!document.querySelector("
                      "\"#ws-rooms tr.ws-editing[data-number='']\")")
        # the stray label's mark on the map, clicked, shows its finding and marks its line
        stray = next(i for i, f in placed if f["kind"] == "label_outside_rooms")
        lon, lat = report["findings"][stray]["at"]
        drv.execute_script("window.workspace.preview().closePopup();"
                           "window.workspace.preview().setView(arguments[0], 20, {animate: false})",
                           [lat, lon])
        wait_for(drv, "return !document.querySelector('#ws-preview .leaflet-popup')")
        click_at(drv, "window.workspace.preview()", [lat, lon])
        shown_on_map(drv, report["findings"][stray], listed[stray])
        drv.execute_script("document.getElementById('step-import').scrollIntoView()")
        screenshot(drv, tmp_path, "workspace-4-report.png")

        # 5. close the finding's popup, click the room on the draft map, renumber it
        drv.execute_script("window.workspace.preview().closePopup()")
        wait_for(drv, "return !document.querySelector('#ws-preview .leaflet-popup')")  # faded
        unit_id, centre = drv.execute_script("""
            const f = window.workspace.state.features.features.find(
                f => f.feature_type === 'unit' && f.properties.number === arguments[0]);
            const c = L.geoJSON(f).getBounds().getCenter();
            return [f.id, [c.lat, c.lng]];""", OLD_NUMBER)
        drv.execute_script("window.workspace.preview().setView(arguments[0], 20, {animate: false})",
                           centre)
        click_at(drv, "window.workspace.preview()", centre)
        row = f"#ws-rooms tr[data-unit='{unit_id}']"
        wait_for(drv, f"return !!document.querySelector(\"{row}.ws-editing\")")
        number = drv.find_element(By.CSS_SELECTOR, f"{row} [data-field=number]")
        number.clear()
        number.send_keys(NEW_NUMBER)
        screenshot(drv, tmp_path, "workspace-5-fix.png")
        drv.find_element(By.CSS_SELECTOR, f"{row} [data-action=save-room]").click()
        wait_for(drv, f"return document.body.dataset.edits === '1' && !!document.querySelector("
                      f"\"#ws-rooms tr[data-number='{NEW_NUMBER}']\")", timeout=60)

        # ... mark the main entrance, and place a Knox box by clicking the map near that door
        press(drv, drv.find_element(By.CSS_SELECTOR, ".ws-tabs [data-tab=doors]"))
        door = drv.find_element(By.CSS_SELECTOR, "#ws-doors tbody tr")
        door_id = door.get_attribute("data-opening")
        press(drv, door.find_element(By.CSS_SELECTOR, "[data-action=main-entrance]"))
        wait_for(drv, "return document.body.dataset.edits === '2'", timeout=60)
        main = "return window.workspace.state.features.features.find(f => f.id === arguments[0])"
        assert drv.execute_script(main + ".properties.main_entrance", door_id)
        lon, lat = drv.execute_script(main + ".geometry.coordinates", door_id)
        # ... give that door the number painted on it, locked against renumbering
        door = drv.find_element(By.CSS_SELECTOR, f"#ws-doors tr[data-opening='{door_id}']")
        number = door.find_element(By.CSS_SELECTOR, "[data-field=door-number]")
        number.clear()
        number.send_keys(DOOR_NUMBER)
        assert door.find_element(By.CSS_SELECTOR, "input[type=checkbox]").is_selected()
        press(drv, drv.find_element(By.ID, "ws-save-doors"))
        wait_for(drv, "return document.body.dataset.edits === '3'", timeout=60)
        assert drv.execute_script(main + ".properties.number", door_id) == DOOR_NUMBER
        press(drv, drv.find_element(By.CSS_SELECTOR, ".ws-tabs [data-tab=points]"))
        Select(drv.find_element(By.ID, "ws-place-kind")).select_by_value("knox_box")
        drv.find_element(By.ID, "ws-place-name").send_keys("Main entrance")
        press(drv, drv.find_element(By.ID, "ws-place"))
        click_at(drv, "window.workspace.preview()", [lat - 0.00003, lon])
        wait_for(drv, "return document.body.dataset.edits === '4'", timeout=60)
        placed = drv.find_element(By.ID, "ws-points").text
        assert "Knox box: Main entrance" in placed, placed
        drv.execute_script("document.getElementById('ws-preview').scrollIntoView({block: 'start'})")
        screenshot(drv, tmp_path, "workspace-5-points.png")

        # 6. publish the draft, then record the walk-through
        wait_for(drv, "return !document.getElementById('ws-publish').hidden"
                      " && !document.getElementById('ws-publish-btn').disabled")
        assert NEW_NUMBER in drv.find_element(By.ID, "ws-diff").text
        # a change in the list, clicked, is framed on the changes map
        (change,) = [b for b in drv.find_elements(By.CSS_SELECTOR, "#ws-diff .ws-diff-item")
                     if NEW_NUMBER in b.text]
        press(drv, change)
        wait_for(drv, "return document.getElementById('ws-diffmap').dataset.shown === "
                      f"{change.get_attribute('data-change')!r}")
        assert drv.execute_script("""
            const f = window.workspace.state.features.features.find(
                f => f.feature_type === 'unit' && f.properties.number === arguments[0]);
            return L.geoJSON(f).getBounds().contains(window.workspace.diffMap().getCenter());""",
            NEW_NUMBER)
        drv.find_element(By.ID, "ws-publish-btn").click()
        wait_for(drv, "return !!document.body.dataset.published", timeout=60)
        for box in drv.find_elements(By.CSS_SELECTOR, "#ws-v-items input")[:3]:
            box.click()
        drv.find_element(By.ID, "ws-v-org").send_keys("District facilities")
        drv.find_element(By.CSS_SELECTOR, "#ws-verify button[type=submit]").click()
        wait_for(drv, "return document.body.dataset.verified === 'true'")
        drv.execute_script("document.getElementById('step-publish').scrollIntoView()")
        screenshot(drv, tmp_path, "workspace-6-published.png")
        errors = severe_console_errors(drv)
        assert not errors, errors
        ws_path = drv.execute_script("return location.pathname")
        drv.get(f"{base}/workspace")  # the list leads back to it
        wait_for(drv, "return document.body.dataset.ready === 'true'")
        link = drv.find_element(By.CSS_SELECTOR, f"#ws-list a[href='{ws_path}']")
        assert link.text == CAMPUS_NAME

    # an officer: the lookup API and the map page both know the room by its new number
    answer = httpx.get(f"{base}/campuses/{CAMPUS_ID}/lookup", params={"q": NEW_NUMBER},
                       headers={"Authorization": f"Bearer {officer}"}).json()
    assert answer["status"] == "found", answer
    assert answer["candidates"][0]["unit_number"] == NEW_NUMBER
    knox = httpx.get(f"{base}/campuses/{CAMPUS_ID}/lookup", params={"q": "knox box"},
                     headers={"Authorization": f"Bearer {officer}"}).json()
    assert knox["status"] == "found" and "Main entrance" in str(knox["candidates"][0]), knox
    door_answer = httpx.get(f"{base}/campuses/{CAMPUS_ID}/lookup",
                            params={"q": f"door {DOOR_NUMBER}"},
                            headers={"Authorization": f"Bearer {officer}"}).json()
    assert door_answer["status"] == "found", door_answer
    with chromium(tmp_path / "officer") as drv:
        sign_in(drv, base, f"/campuses/{CAMPUS_ID}/map", officer)
        wait_for(drv, "return !!(window.gridmap && window.L)")
        wait_for(drv, TILES_READY)
        drv.execute_script("window.gridmap.search(arguments[0])", NEW_NUMBER)
        wait_for(drv, "return document.querySelectorAll('#gm-list li').length > 0")
        first = drv.find_element(By.CSS_SELECTOR, "#gm-list li").text
        assert NEW_NUMBER in first, first
        screenshot(drv, tmp_path, "workspace-7-officer.png")


#: A DWG's first bytes (AutoCAD 2018): what the upload refuses, with how to convert it.
DWG = b"AC1032" + bytes(250)
#: How far (degrees of latitude, about 5.6 m) the third pair's site click is put off.
OFF_LAT = 0.00005


def drop_files(drv: Any, files: dict[str, bytes]) -> None:
    """Drop files on the upload area as a drag from the desktop does (a ``drop`` event whose
    DataTransfer holds them)."""
    import base64

    drv.execute_script("""
        const box = document.getElementById('ws-drop');
        const data = new DataTransfer();
        for (const [name, b64] of Object.entries(arguments[0])) {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            data.items.add(new File([bytes], name));
        }
        for (const type of ['dragover', 'drop']) {
            box.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true,
                                                   cancelable: true}));
        }
        """, {name: base64.b64encode(data).decode() for name, data in files.items()})


def test_dropped_files_each_answered_and_a_bad_pair_named(
    running: tuple[str, str, str], tmp_path: Path,
) -> None:
    """Files dropped together are uploaded one by one: a DWG is refused in its own row with the
    server's advice, the DXF beside it is read. Of four corners, the one clicked 5 m off on the
    site map is named by the advice and marked in the list; its true position typed in, the
    points agree; after deleting two pairs, two are left, and two allow no affine fit."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    need_browser()
    base, editor, _ = running
    headers = {"Authorization": f"Bearer {editor}"}
    made = httpx.post(f"{base}/workspaces", json={"campus_id": "drop-test"}, headers=headers)
    assert made.status_code == 201, made.text
    ws = made.json()["id"]
    refusal = httpx.post(f"{base}/workspaces/{ws}/files", files={"file": ("plan.dwg", DWG)},
                         headers=headers)
    assert refusal.status_code == 400
    advice = refusal.json()["error"]["message"]
    dxf = french_drawing(tmp_path / "C_niveau1.dxf")
    points = corners()

    with chromium(tmp_path / "profile") as drv:
        drv.set_window_size(1440, 1000)
        sign_in(drv, base, f"/workspace/{ws}", editor)
        wait_for(drv, "return document.body.dataset.ready === 'true'")
        drop_files(drv, {"plan.dwg": DWG, dxf.name: dxf.read_bytes(),
                         "parcel.geojson": (SAMPLE / "parcel.geojson").read_bytes()})
        wait_for(drv, "return document.body.dataset.uploads === '3'", timeout=60)
        rows = {row.get_attribute("data-name"): row
                for row in drv.find_elements(By.CSS_SELECTOR, ".ws-upload")}
        assert "ws-upload-failed" in rows["plan.dwg"].get_attribute("class")
        assert rows["plan.dwg"].find_element(By.CSS_SELECTOR, ".ws-error").text == advice
        assert "ws-upload-ok" in rows[dxf.name].get_attribute("class")
        drv.execute_script("document.getElementById('step-upload').scrollIntoView()")
        screenshot(drv, tmp_path, "workspace-1-upload.png")

        wait_for(drv, "return document.getElementById('ws-plan').dataset.ready === 'true'"
                      " && document.getElementById('ws-earth').dataset.ready === 'true'")
        lons = [p["lonlat"][0] for p in points]
        lats = [p["lonlat"][1] for p in points]
        drv.execute_script("window.workspace.geo.earth.setView(arguments[0], 20, {animate: false})",
                           [sum(lats) / len(lats), sum(lons) / len(lons)])
        for n, point in enumerate(points, start=1):
            x, y = point["cad"]
            click_at(drv, "window.workspace.geo.plan", [y, x])
            lon, lat = point["lonlat"]
            click_at(drv, "window.workspace.geo.earth", [lat + (OFF_LAT if n == 3 else 0), lon])
            wait_for(drv, f"return document.body.dataset.fitPairs === '{n}'")
        fit = drv.execute_script("return window.workspace.state.geo.fit")
        without = [p["leave_one_out_m"] for p in fit["points"]]
        assert without.index(max(without)) == 2 and fit["outlier"] == "Point 3", fit
        outlier = drv.find_element(By.CSS_SELECTOR, "#ws-pairs tr.ws-outlier")
        assert outlier.get_attribute("data-pair") == "2"
        sentences = [li.text for li in drv.find_elements(By.CSS_SELECTOR, "#ws-advice li")]
        assert sentences[:len(fit["advice"])] == fit["advice"], sentences
        assert any("Point 3" in s for s in fit["advice"]), fit["advice"]
        verdict = drv.find_element(By.CSS_SELECTOR, "#ws-advice [data-verdict]")
        assert verdict.get_attribute("data-verdict") == "refuses", verdict.text
        assert not drv.find_element(
            By.CSS_SELECTOR, "input[name=ws-transform][value=affine]").get_attribute("disabled")
        screenshot(drv, tmp_path, "workspace-3-advice.png")

        # the bad point's true position typed in (as read from a GPS): it agrees again
        lon, lat = points[2]["lonlat"]
        typed = drv.find_element(By.CSS_SELECTOR, "#ws-pairs tr[data-pair='2'] [data-coord=lonlat]")
        typed.send_keys(Keys.CONTROL, "a")
        typed.send_keys(f"{lon}, {lat}" + Keys.ENTER)
        wait_for(drv, "return window.workspace.state.geo.fit.outlier === null"
                      " && !!document.querySelector(\"#ws-advice [data-verdict='accepts']\")")
        assert max(p["residual_m"] for p in drv.execute_script(
            "return window.workspace.state.geo.fit.points")) < 0.5

        for left in (3, 2):
            drv.find_element(By.CSS_SELECTOR, "#ws-pairs tr[data-pair='2'] button").click()
            wait_for(drv, f"return document.body.dataset.fitPairs === '{left}'"
                          f" && document.querySelectorAll('#ws-pairs tbody tr').length === {left}")
        assert drv.find_element(
            By.CSS_SELECTOR, "input[name=ws-transform][value=affine]").get_attribute("disabled")
        errors = [e for e in severe_console_errors(drv) if "/files " not in e["message"]
                  and "status of 400" not in e["message"]]  # the DWG's refusal itself
        assert not errors, errors


def test_workspace_pages_are_for_the_districts_editors(
    running: tuple[str, str, str], store: SqlCampusStore,
) -> None:
    """Officers are refused the page (403); another district's workspace is unknown (404),
    as the workspace API answers; the home page links editors, not officers, to it."""
    from api.store_identity import OrgKind, identity

    base, editor, officer = running
    other = identity(store).create_org("Other district", OrgKind.DISTRICT)
    stranger, _ = create_token(store, "other editor", Role.EDITOR, org=other.id)
    ws = httpx.post(f"{base}/workspaces", json={"campus_id": "pages-test"},
                    headers={"Authorization": f"Bearer {editor}"}).json()["id"]

    def get(path: str, token: str) -> httpx.Response:
        return httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})

    assert get("/workspace", editor).status_code == 200
    page = get(f"/workspace/{ws}", editor)
    assert page.status_code == 200
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "private, no-store"
    assert get("/workspace", officer).status_code == 403
    assert get(f"/workspace/{ws}", officer).status_code == 403
    assert get(f"/workspace/{ws}", stranger).status_code == 404
    assert get(f"/workspaces/{ws}", stranger).status_code == 404  # the API agrees
    assert get("/workspace/ws_0123456789", editor).status_code == 404
    assert 'href="/workspace"' in get("/", editor).text
    assert 'href="/workspace"' not in get("/", officer).text


def test_a_drawing_with_its_own_placement_needs_no_clicks(
    running: tuple[str, str, str], tmp_path: Path,
) -> None:
    """A drawing carrying a GEODATA object (the georeference its CAD program stored) says so
    on its card, and the georeferencing step offers it: one press and the drawing is placed by
    it, saved with the workspace."""
    from selenium.webdriver.common.by import By

    from tests.test_geodata import _geodata_for_building_c

    need_browser()
    base, editor, _ = running
    headers = {"Authorization": f"Bearer {editor}"}
    ws = httpx.post(f"{base}/workspaces", json={"campus_id": "geodata-test"},
                    headers=headers).json()["id"]
    dxf = french_drawing(tmp_path / "C_niveau1.dxf")
    _geodata_for_building_c(dxf)
    with chromium(tmp_path / "profile") as drv:
        sign_in(drv, base, f"/workspace/{ws}", editor)
        wait_for(drv, "return document.body.dataset.ready === 'true'")
        drv.find_element(By.ID, "ws-file").send_keys(str(dxf))
        wait_for(drv, "return document.body.dataset.uploads === '1'"
                      " && !!document.querySelector('.ws-drawing')", timeout=60)
        assert "GEODATA" in drv.find_element(By.CSS_SELECTOR, ".ws-drawing header").text
        button = drv.find_element(By.ID, "ws-geodata")
        assert button.is_displayed()
        press(drv, button)
        wait_for(drv, "return document.getElementById('ws-georef-status').textContent"
                      ".includes('GEODATA')")
    (drawing,) = httpx.get(f"{base}/workspaces/{ws}", headers=headers).json()["drawings"]
    assert drawing["has_geodata"] and drawing["settings"]["use_geodata"] is True
    assert drawing["settings"]["control_points"] == []
    assert drawing["settings"]["building_id"] == BUILDING  # saved by the page, from the name


def similarity_of(pairs: list[dict[str, Any]]) -> tuple[float, float]:
    """The turn (degrees, counter-clockwise) and scale (metres a drawing unit) that carry the
    first two pairs' plan points onto their site points (east and north metres about their
    middle, the sphere's local scale)."""
    import math

    (x0, y0), (x1, y1) = pairs[0]["cad"], pairs[1]["cad"]
    (lon0, lat0), (lon1, lat1) = pairs[0]["lonlat"], pairs[1]["lonlat"]
    radius = 6371008.8
    north = math.radians(lat1 - lat0) * radius
    east = math.radians(lon1 - lon0) * radius * math.cos(math.radians((lat0 + lat1) / 2))
    turn = math.degrees(math.atan2(north, east) - math.atan2(y1 - y0, x1 - x0))
    return (turn + 180) % 360 - 180, math.hypot(east, north) / math.hypot(x1 - x0, y1 - y0)


def test_the_plan_dragged_turned_and_scaled_into_place(
    running: tuple[str, str, str], tmp_path: Path,
) -> None:
    """Without clicking pairs: the plan is put on the site map at its drawn size, dragged by
    the mouse (every site point moves by the drag), then its second corner dragged to turn and
    scale it; the two corner pairs record the placement and are saved."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    need_browser()
    base, editor, _ = running
    headers = {"Authorization": f"Bearer {editor}"}
    ws = httpx.post(f"{base}/workspaces", json={"campus_id": "drag-test"},
                    headers=headers).json()["id"]
    dxf = french_drawing(tmp_path / "C_niveau1.dxf")
    with chromium(tmp_path / "profile") as drv:
        drv.set_window_size(1440, 1000)
        sign_in(drv, base, f"/workspace/{ws}", editor)
        wait_for(drv, "return document.body.dataset.ready === 'true'")
        drv.find_element(By.ID, "ws-file").send_keys(f"{dxf}\n{SAMPLE / 'parcel.geojson'}")
        wait_for(drv, "return document.body.dataset.uploads === '2'", timeout=60)
        wait_for(drv, "return document.getElementById('ws-plan').dataset.ready === 'true'"
                      " && document.getElementById('ws-earth').dataset.ready === 'true'")
        seq = drv.execute_script("return Number(document.body.dataset.fitSeq || 0)")
        press(drv, drv.find_element(By.ID, "ws-drag-place"))
        wait_for(drv, f"return Number(document.body.dataset.fitSeq) > {seq}"
                      " && document.body.dataset.fitPairs === '2'")
        pairs = "return window.workspace.state.local[window.workspace.state.geo.drawing].pairs"
        before = drv.execute_script(pairs)
        size = drv.execute_script("""
            const p = arguments[0];
            const a = L.latLng(p[0].lonlat[1], p[0].lonlat[0]);
            const b = L.latLng(p[1].lonlat[1], p[1].lonlat[0]);
            return a.distanceTo(b);""", before)
        # laid down at its drawn size: the facade's corners, in feet, as far apart on the map
        from ezdxf.filemanagement import readfile

        outline = f"LWPOLYLINE[layer=='{FRENCH['A-FLOR-OTLN']}']"
        (facade,) = readfile(dxf).modelspace().query(outline)
        corners_ft = [(x, y) for x, y, *_ in facade.get_points()]  # type: ignore[attr-defined]
        xs, ys = zip(*corners_ft, strict=True)
        assert [p["cad"] for p in before] == [[min(xs), min(ys)], [max(xs), max(ys)]]
        diagonal_m = 0.3048 * ((max(xs) - min(xs)) ** 2 + (max(ys) - min(ys)) ** 2) ** 0.5
        assert abs(size - diagonal_m) < 0.05, (size, diagonal_m)

        path = drv.find_element(By.CSS_SELECTOR, "#ws-earth path.ws-overlay-path")
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", path)
        start = drv.execute_script("""
            const map = window.workspace.geo.earth, p = arguments[0];
            const c = map.latLngToContainerPoint(
                [(p[0].lonlat[1] + p[1].lonlat[1]) / 2, (p[0].lonlat[0] + p[1].lonlat[0]) / 2]);
            const box = map.getContainer().getBoundingClientRect();
            return [Math.round(box.left + c.x), Math.round(box.top + c.y)];""", before)
        seq = drv.execute_script("return Number(document.body.dataset.fitSeq)")
        actions = ActionChains(drv)
        pointer = actions.w3c_actions.pointer_action
        pointer.move_to_location(*start)  # type: ignore[no-untyped-call]
        pointer.pointer_down()  # type: ignore[no-untyped-call]
        for step in range(1, 9):
            pointer.move_to_location(  # type: ignore[no-untyped-call]
                start[0] + 10 * step, start[1] + 5 * step)
        pointer.pointer_up()  # type: ignore[no-untyped-call]
        actions.perform()
        wait_for(drv, f"return Number(document.body.dataset.fitSeq) > {seq}")  # refitted, redrawn
        after = drv.execute_script(pairs)
        shift = drv.execute_script("""
            const map = window.workspace.geo.earth, a = arguments[0], b = arguments[1];
            const p = map.latLngToContainerPoint([a[1], a[0]]);
            const q = map.latLngToContainerPoint([b[1], b[0]]);
            return [q.x - p.x, q.y - p.y];""", before[0]["lonlat"], after[0]["lonlat"])
        assert abs(shift[0] - 80) < 2 and abs(shift[1] - 40) < 2, shift
        assert [p["cad"] for p in after] == [p["cad"] for p in before]

        # the second corner's marker on the site map, dragged: the plan turns about the first
        marker = drv.find_elements(By.CSS_SELECTOR, "#ws-earth .ws-pin")[1]
        turn_before = drv.execute_script("return window.workspace.state.geo.fit.rotation_deg")
        ActionChains(drv).drag_and_drop_by_offset(marker, -30, -40).perform()
        wait_for(drv, "return window.workspace.state.geo.fit.rotation_deg !== arguments[0]"
                      .replace("arguments[0]", repr(turn_before)))
        # the fit follows the drag: two pairs fix a similarity, so its turn and scale are the
        # turn and length ratio of the site points' line against the plan points' line
        turned = drv.execute_script(pairs)
        fit = drv.execute_script("return window.workspace.state.geo.fit")
        rotation, scale = similarity_of(turned)
        assert abs(rotation) > 1 and abs(scale / 0.3048 - 1) > 0.01, (rotation, scale)
        assert fit["rotation_deg"] == pytest.approx(rotation, abs=0.05), (fit, rotation)
        assert fit["scale"] == pytest.approx(scale, rel=0.002), (fit, scale)
        press(drv, drv.find_element(By.ID, "ws-save-georef"))
        wait_for(drv, "return !!document.body.dataset.georefSaved")
        saved_pairs = drv.execute_script(pairs)
    (drawing,) = httpx.get(f"{base}/workspaces/{ws}", headers=headers).json()["drawings"]
    stored = [v for p in drawing["settings"]["control_points"] for v in p["lonlat"]]
    assert stored == pytest.approx([v for p in saved_pairs for v in p["lonlat"]])


def test_two_floors_in_a_zip_placed_once(
    running: tuple[str, str, str], tmp_path: Path,
) -> None:
    """Both floors of the sample's building A, uploaded as one zip: two drawings, named by their
    file names as building A's first and second floor. The first is placed by clicking three
    corners, the second takes its points (one frame for the building), and the import has both
    floors, each with its rooms on the draft's map."""
    import zipfile

    from ezdxf.filemanagement import readfile
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    need_browser()
    base, editor, _ = running
    headers = {"Authorization": f"Bearer {editor}"}
    ws = httpx.post(f"{base}/workspaces", json={"campus_id": "two-floors"},
                    headers=headers).json()["id"]
    bundle = tmp_path / "building_a.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for name in ("A_level1.dxf", "A_level2.dxf"):
            z.write(SAMPLE / name, name)
    manifest = tomllib.loads((SAMPLE / "campus.toml").read_text())
    (a,) = [b for b in manifest["buildings"] if b["id"] == "A"]
    points = a["control_points"][:3]
    upstairs = {e.dxf.text for e in readfile(SAMPLE / "A_level2.dxf").modelspace().query("TEXT")
                if e.dxf.layer == "A-AREA-IDEN" and e.dxf.text.isdigit()}
    assert upstairs

    with chromium(tmp_path / "profile") as drv:
        drv.set_window_size(1440, 1000)
        sign_in(drv, base, f"/workspace/{ws}", editor)
        wait_for(drv, "return document.body.dataset.ready === 'true'")
        drv.find_element(By.ID, "ws-file").send_keys(f"{bundle}\n{SAMPLE / 'parcel.geojson'}")
        wait_for(drv, "return document.body.dataset.uploads === '2'"
                      " && document.querySelectorAll('.ws-drawing').length === 2", timeout=90)
        cards = drv.find_elements(By.CSS_SELECTOR, ".ws-drawing")
        floors = {c.find_element(By.CSS_SELECTOR, "h3").text: c.find_element(
                  By.CSS_SELECTOR, "[data-field=level_ordinal]").get_attribute("value")
                  for c in cards}
        assert floors == {"A_level1.dxf": "0", "A_level2.dxf": "1"}, floors
        for card in cards:
            press(drv, card.find_element(By.CSS_SELECTOR, "[data-action=confirm]"))
        wait_for(drv, "return Array.from(document.querySelectorAll('.ws-drawing'))"
                      ".every(c => c.dataset.confirmed === 'true')")

        ids = {c.find_element(By.CSS_SELECTOR, "h3").text: c.get_attribute("data-drawing")
               for c in cards}
        Select(drv.find_element(By.ID, "ws-geo-drawing")).select_by_value(ids["A_level1.dxf"])
        wait_for(drv, "return document.getElementById('ws-plan').dataset.drawing === "
                      f"{ids['A_level1.dxf']!r}"
                      " && document.getElementById('ws-earth').dataset.ready === 'true'")
        lons = [p["lonlat"][0] for p in points]
        lats = [p["lonlat"][1] for p in points]
        drv.execute_script("window.workspace.geo.earth.setView(arguments[0], 19, {animate: false})",
                           [(min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2])
        for n, point in enumerate(points, start=1):
            x, y = point["cad"]
            click_at(drv, "window.workspace.geo.plan", [y, x])
            lon, lat = point["lonlat"]
            click_at(drv, "window.workspace.geo.earth", [lat, lon])
            wait_for(drv, f"return document.body.dataset.fitPairs === '{n}'")
        press(drv, drv.find_element(By.ID, "ws-save-georef"))
        wait_for(drv, f"return document.body.dataset.georefSaved === {ids['A_level1.dxf']!r}")

        Select(drv.find_element(By.ID, "ws-geo-drawing")).select_by_value(ids["A_level2.dxf"])
        wait_for(drv, "return !document.getElementById('ws-copy').hidden")
        press(drv, drv.find_element(By.ID, "ws-copy-pairs"))
        wait_for(drv, "return document.body.dataset.fitPairs === '3'")
        press(drv, drv.find_element(By.ID, "ws-save-georef"))
        wait_for(drv, f"return document.body.dataset.georefSaved === {ids['A_level2.dxf']!r}")

        import_draft(drv)
        assert drv.find_element(By.CSS_SELECTOR, "[data-count=levels] strong").text == "2"
        buttons = drv.find_elements(By.CSS_SELECTOR, "#ws-levels button")
        assert len(buttons) == 2
        press(drv, drv.find_element(By.CSS_SELECTOR, "#ws-levels button[data-ordinal='1']"))
        drawn = drv.execute_script(
            "return window.workspace.state.features.features.filter(f => f.feature_type === "
            "'unit' && f.properties.ordinal === window.workspace.state.ordinal)"
            ".map(f => f.properties.number)")
        assert upstairs <= set(drawn), (upstairs, drawn)
        shown = drv.execute_script("return Array.from(document.querySelectorAll("
                                   "'#ws-preview .ws-room-no'), e => e.textContent)")
        assert set(shown) == {n for n in drawn if n}


#: A phone's screen (an iPhone 12-15 in CSS pixels): every step must fit its width.
PHONE = (390, 844)

FITS_THE_SCREEN = """
return document.documentElement.scrollWidth <= window.innerWidth
    && window.innerWidth === arguments[0];
"""
#: Shown elements wider than the screen outside a box that scrolls them (what to fix when the
#: page does not fit).
TOO_WIDE = """
return Array.from(document.querySelectorAll('body *')).filter(e => {
  if (e.offsetParent === null || e.getBoundingClientRect().right <= arguments[0] + 1) {
    return false;
  }
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') { return false; }
  }
  return true;
}).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className);
"""


def fits_a_phone(drv: Any, tmp_path: Path, name: str) -> None:
    """The page is no wider than the phone's screen (nothing to scroll sideways), kept as a
    screenshot ``name``."""
    screenshot(drv, tmp_path, name)
    assert drv.execute_script(FITS_THE_SCREEN, PHONE[0]), drv.execute_script(TOO_WIDE, PHONE[0])


def in_view(drv: Any, element: Any) -> bool:
    """Whether ``element`` is wholly on the screen, below the top bar."""
    return bool(drv.execute_script("""
        const r = arguments[0].getBoundingClientRect();
        return r.top >= 48 && r.left >= 0 && r.bottom <= window.innerHeight
            && r.right <= window.innerWidth;""", element))


def test_every_step_on_a_phone_and_by_keyboard(
    running: tuple[str, str, str], tmp_path: Path,
) -> None:
    """The whole workflow on a 390 x 844 phone screen (mobile emulation): upload, confirm
    the layers, place the drawing by tapping three corners on the plan and the site map,
    import, show a finding (the map below the list comes into view on it), mark the main
    entrance, place an AED, edit a room, and publish; no step is wider than the screen. The
    fixing tabs follow the arrow keys, the main entrance is set with Enter, an AED placed at
    the map's cross without a pointer, and a room's edit saved with Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    need_browser()
    base, editor, _ = running
    headers = {"Authorization": f"Bearer {editor}"}
    ws = httpx.post(f"{base}/workspaces", json={"campus_id": "phone-test"},
                    headers=headers).json()["id"]
    # named as drawings come from an architect: long, without a space to break at
    dxf = french_drawing(tmp_path / "C_LINCOLN_RIDGE_K12_EARLY_CHILDHOOD_CENTER_NIVEAU1_"
                                    "BON_POUR_EXECUTION_REV3.dxf", stray=STRAY)
    points = corners()[:3]
    with chromium(tmp_path / "profile") as drv:
        drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
        sign_in(drv, base, f"/workspace/{ws}", editor)
        wait_for(drv, "return document.body.dataset.ready === 'true'")
        fits_a_phone(drv, tmp_path, "phone-0-empty.png")
        drv.find_element(By.ID, "ws-file").send_keys(f"{dxf}\n{SAMPLE / 'parcel.geojson'}")
        wait_for(drv, "return document.body.dataset.uploads === '2'", timeout=60)
        wait_for(drv, "return !!document.querySelector('.ws-drawing[data-preview=drawn]')",
                 timeout=30)
        drv.execute_script("document.getElementById('ws-files').scrollIntoView()")
        fits_a_phone(drv, tmp_path, "phone-1-upload.png")
        card = drv.find_element(By.CSS_SELECTOR, ".ws-drawing")
        drv.execute_script("arguments[0].scrollIntoView()", card)
        fits_a_phone(drv, tmp_path, "phone-2-layers.png")
        press(drv, card.find_element(By.CSS_SELECTOR, "[data-action=confirm]"))
        wait_for(drv, "return document.querySelector('.ws-drawing').dataset.confirmed === 'true'")

        wait_for(drv, "return document.getElementById('ws-plan').dataset.ready === 'true'"
                      " && document.getElementById('ws-earth').dataset.ready === 'true'")
        lons = [p["lonlat"][0] for p in points]
        lats = [p["lonlat"][1] for p in points]
        drv.execute_script("window.workspace.geo.earth.setView(arguments[0], 19, {animate: false})",
                           [sum(lats) / len(lats), sum(lons) / len(lons)])
        for n, point in enumerate(points[:2], start=1):
            x, y = point["cad"]
            click_at(drv, "window.workspace.geo.plan", [y, x])
            lon, lat = point["lonlat"]
            click_at(drv, "window.workspace.geo.earth", [lat, lon])
            wait_for(drv, f"return document.body.dataset.fitPairs === '{n}'")
        # the third pair without tapping: each map moved until its cross is on the corner (as
        # its arrow keys would), then Point at the cross, with Enter
        x, y = points[2]["cad"]
        lon, lat = points[2]["lonlat"]
        drv.execute_script("window.workspace.geo.plan.panTo(arguments[0], {animate: false})",
                           [y, x])
        drv.find_element(By.ID, "ws-plan-cross").send_keys(Keys.ENTER)
        drv.execute_script("window.workspace.geo.earth.panTo(arguments[0], {animate: false})",
                           [lat, lon])
        drv.find_element(By.ID, "ws-earth-cross").send_keys(Keys.ENTER)
        wait_for(drv, "return document.body.dataset.fitPairs === '3'")
        # each pair's distance off is on the screen, not in a column scrolled out of it, and
        # the pair pointed at the crosses agrees with the tapped ones
        for cell in drv.find_elements(By.CSS_SELECTOR, "#ws-pairs td.ws-res"):
            drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
            assert in_view(drv, cell), cell.text
            assert float(cell.get_attribute("data-residual")) < 0.5, cell.text
        fits_a_phone(drv, tmp_path, "phone-3-georef.png")
        press(drv, drv.find_element(By.ID, "ws-save-georef"))
        wait_for(drv, "return !!document.body.dataset.georefSaved")

        import_draft(drv)
        fits_a_phone(drv, tmp_path, "phone-4-report.png")
        report = drv.execute_script("return window.workspace.state.report")
        stray = next(i for i, f in enumerate(report["findings"])
                     if f["kind"] == "label_outside_rooms" and f["at"])
        line = drv.find_element(By.CSS_SELECTOR, f".ws-finding[data-finding='{stray}']")
        press(drv, line)
        shown_on_map(drv, report["findings"][stray], line)
        preview = drv.find_element(By.ID, "ws-preview")
        wait_for(drv, "const r = arguments[0].getBoundingClientRect();"
                      " return r.top >= 48 && r.top < window.innerHeight / 2;"
                      .replace("arguments[0]", "document.getElementById('ws-preview')"))
        assert preview.is_displayed()
        fits_a_phone(drv, tmp_path, "phone-4-finding.png")

        # fix: the tabs by the arrow keys, then a room edited on the phone, saved with Enter
        rooms_tab = drv.find_element(By.ID, "ws-tab-rooms")
        press(drv, rooms_tab)
        rooms_tab.send_keys(Keys.ARROW_RIGHT)
        wait_for(drv, "return document.activeElement.id === 'ws-tab-doors'"
                      " && !document.getElementById('ws-panel-doors').hidden"
                      " && document.getElementById('ws-panel-rooms').hidden")
        fits_a_phone(drv, tmp_path, "phone-5-doors.png")
        # the first door made the main entrance with Enter on its button (not a radio, whose
        # arrow keys would make each door passed the main entrance)
        make_main = drv.find_element(By.CSS_SELECTOR, "#ws-doors [data-action=main-entrance]")
        door_id = make_main.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-opening")
        make_main.send_keys(Keys.ENTER)
        wait_for(drv, "return document.body.dataset.edits === '1'", timeout=60)
        assert drv.execute_script(
            "return window.workspace.state.features.features.find(f => f.id === arguments[0])"
            ".properties.main_entrance", door_id)
        # an AED placed without a pointer: the map moved so its cross is on the spot, then
        # Place at the cross
        drv.find_element(By.ID, "ws-tab-doors").send_keys(Keys.ARROW_RIGHT)
        wait_for(drv, "return document.activeElement.id === 'ws-tab-points'"
                      " && !document.getElementById('ws-panel-points').hidden")
        Select(drv.find_element(By.ID, "ws-place-kind")).select_by_value("aed")
        drv.find_element(By.ID, "ws-place").send_keys(Keys.ENTER)
        centre = drv.find_element(By.ID, "ws-place-centre")
        wait_for(drv, "return !document.getElementById('ws-place-centre').hidden")
        spot = drv.execute_script("""
            const map = window.workspace.preview();
            const f = window.workspace.state.features.features.find(
                f => f.feature_type === 'unit' && f.properties.number === arguments[0]);
            const c = L.geoJSON(f).getBounds().getCenter();
            map.setView(c, 20, {animate: false});
            return [c.lng, c.lat];""", OLD_NUMBER)
        drv.execute_script("document.getElementById('ws-preview').scrollIntoView({block: 'end'})")
        fits_a_phone(drv, tmp_path, "phone-5-placing.png")
        centre.send_keys(Keys.ENTER)
        wait_for(drv, "return document.body.dataset.edits === '2'", timeout=60)
        aed = drv.execute_script(
            "return window.workspace.state.features.features.find(f => f.feature_type === "
            "'amenity' && f.properties.kind === 'aed')")
        # where the cross was (to the map's pixel, under 30 cm at this zoom)
        assert aed["geometry"]["coordinates"] == pytest.approx(spot, abs=3e-6), (aed, spot)
        assert aed["properties"]["ordinal"] == 0 and centre.get_attribute("hidden")
        drv.find_element(By.ID, "ws-tab-points").send_keys(Keys.HOME)
        wait_for(drv, "return document.activeElement.id === 'ws-tab-rooms'"
                      " && !document.getElementById('ws-panel-rooms').hidden")
        row = drv.find_element(By.CSS_SELECTOR, f"#ws-rooms tr[data-number='{OLD_NUMBER}']")
        press(drv, row.find_element(By.CSS_SELECTOR, "[data-action=edit-room]"))
        editing = f"#ws-rooms tr.ws-editing[data-number='{OLD_NUMBER}']"
        wait_for(drv, f"return !!document.querySelector(\"{editing}\")")
        for field in drv.find_elements(By.CSS_SELECTOR, f"{editing} input"):
            drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
            assert in_view(drv, field), field.get_attribute("data-field")
        fits_a_phone(drv, tmp_path, "phone-5-fix.png")
        number = drv.find_element(By.CSS_SELECTOR, f"{editing} [data-field=number]")
        number.clear()
        number.send_keys(NEW_NUMBER + Keys.ENTER)
        wait_for(drv, f"return document.body.dataset.edits === '3' && !!document.querySelector("
                      f"\"#ws-rooms tr[data-number='{NEW_NUMBER}']\")", timeout=60)

        publish = drv.find_element(By.ID, "ws-publish-btn")
        wait_for(drv, "return !document.getElementById('ws-publish-btn').disabled")
        press(drv, publish)
        wait_for(drv, "return !!document.body.dataset.published", timeout=60)
        drv.execute_script("document.getElementById('ws-verify').scrollIntoView()")
        fits_a_phone(drv, tmp_path, "phone-6-published.png")
        errors = severe_console_errors(drv)
        assert not errors, errors
