"""The workspace page: facilities staff bring in their own floor plans in the browser.

``GET /workspace`` lists the organisation's workspaces and starts a new one; ``GET
/workspace/{ws}`` is one workspace, in six steps (upload, understand the drawing, georeference
by clicking, import and its report, fix in place, publish). The page is a shell: its scripts
(``tiles/static/workspace_*.js``: a small core, then one file per step, see :data:`SCRIPTS`) do
every step through the workspace API (:mod:`api.routes_workspace`) and the existing publishing
routes, so the page and a script calling the API see the same answers and the same refusals.

Like the map page, everything the page loads comes from this server (Leaflet from npm, our
own script and style sheet), under the same Content-Security-Policy; no inline script. The
page is for those who may change a district's campuses (editors and admins of a district).

``GET /campuses/{id}/revisions/{n}/features.geojson`` gives the page every part of one
revision, a draft included (editors only), with each part's level ordinal: the import
report's preview map draws and edits it.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import (
    CAMPUS_ID_PATTERN,
    MAX_CAMPUS_ID,
    MAX_REVISION,
    AppContext,
    Ctx,
    check_campus_id,
)
from gridmap.errors import NotFound
from gridmap.model import AmenityKind, Campus

router = APIRouter(dependencies=[Depends(current_principal)])

GEOJSON = "application/geo+json"
NO_STORE = {"Cache-Control": "private, no-store"}
#: A workspace id as the workspace API makes them (letters, digits, ``_`` and ``-``).
WORKSPACE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"

WorkspaceId = Annotated[str, PathParam(max_length=100, pattern=WORKSPACE_ID_PATTERN)]
CampusId = Annotated[str, PathParam(max_length=MAX_CAMPUS_ID, pattern=CAMPUS_ID_PATTERN)]
RevisionNumber = Annotated[int, PathParam(ge=1, le=MAX_REVISION)]

#: The page's own scripts, in the order it loads them (plain scripts, no bundler): the core
#: makes the namespace the others share (``window.workspace``) and starts the page once all
#: are read; the list page needs only the list, a workspace's page one file per step.
CORE_SCRIPT = "workspace_core.js"
HOME_SCRIPTS = (CORE_SCRIPT, "workspace_home.js")
SCRIPTS = (CORE_SCRIPT, "workspace_upload.js", "workspace_layers.js", "workspace_georef.js",
           "workspace_import.js", "workspace_fix.js", "workspace_publish.js")
STYLE = "workspace.css"

#: The points an editor places by clicking, in the order the page offers them.
PLACEABLE = (AmenityKind.KNOX_BOX, AmenityKind.AED, AmenityKind.GAS_SHUTOFF,
             AmenityKind.WATER_SHUTOFF, AmenityKind.ELECTRIC_SHUTOFF,
             AmenityKind.FIRE_ALARM_PANEL, AmenityKind.RALLY_POINT, AmenityKind.STAGING_AREA,
             AmenityKind.TRAUMA_KIT, AmenityKind.FIRST_AID, AmenityKind.HAZARD)

#: What a walk-through checks, offered as the verification form's checklist.
CHECKLIST = (
    "Room numbers match the signs on the doors",
    "Room names are the ones staff use",
    "Exterior door numbers match the numbers on the doors",
    "The main entrance is marked",
    "Knox box location checked",
    "AED locations checked",
    "Gas, water and electric shutoffs checked",
    "Rally point and staging area checked",
)


@lru_cache(maxsize=1)
def _env() -> Environment:
    from tiles.webmap import TEMPLATE_DIR

    return Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                       autoescape=select_autoescape(["html"], default=True),
                       trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=64)
def _content_version(name: str, mtime_ns: int, size: int) -> str:
    """The first 12 hex digits of the file's SHA-256 (its time and size key the cache)."""
    from tiles.webmap import STATIC_DIR

    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def asset_url(static_base: str, name: str) -> str:
    """The URL of one of our static files with its content's hash as ``?v=``: the files are
    cached an hour, and the page's files must change together (a new core with an old step
    file would break the page)."""
    from tiles.webmap import STATIC_DIR

    stat = (STATIC_DIR / name).stat()
    version = _content_version(name, stat.st_mtime_ns, stat.st_size)
    return f"{static_base}/gridmap/{name}?v={version}"


def _json_for_script(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def page_config(workspace_id: str | None, *, user: str, imagery: dict[str, str] | None,
                site_photo: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the page's script needs: the workspace, who is signed in, the imagery under its
    maps (the campus's orthophoto, else the server's provider; an XYZ template with ``{r}``),
    the photo uploaded to the workspace (``workspace_imagery``: its tiles, bounds and name, see
    :func:`api.workspace_imagery.workspace_imagery_layer`), the points offered for placing and
    the walk-through checklist."""
    from tiles.webmap import MAX_MAP_ZOOM, MAX_NATIVE_ZOOM

    return {
        "workspace": workspace_id,
        "user": user,
        "imagery": imagery,
        "workspace_imagery": site_photo,
        "placeable": [{"kind": k.value, "label": k.display_name} for k in PLACEABLE],
        "checklist": list(CHECKLIST),
        "zoom": {"max": MAX_MAP_ZOOM, "max_native": MAX_NATIVE_ZOOM},
    }


def workspace_page(workspace_id: str | None, *, user: str,
                   imagery: dict[str, str] | None = None,
                   site_photo: dict[str, Any] | None = None) -> tuple[str, str]:
    """The page's HTML and its Content-Security-Policy header."""
    from tiles.webmap import map_csp

    static_base = "/static"
    html = _env().get_template("workspace.html").render(
        workspace_id=workspace_id, user=user, static_base=static_base,
        style=asset_url(static_base, STYLE),
        scripts=[asset_url(static_base, name)
                 for name in (SCRIPTS if workspace_id else HOME_SCRIPTS)],
        config_json=_json_for_script(page_config(workspace_id, user=user, imagery=imagery,
                                                 site_photo=site_photo)),
        csp=map_csp(imagery=imagery))
    return html, map_csp(imagery=imagery) + "; frame-ancestors 'none'"


def _provider(request: Request) -> dict[str, str] | None:
    settings = request.app.state.ctx.settings
    if not settings.imagery_url:
        return None
    return {"url": settings.imagery_url, "attribution": settings.imagery_attribution or ""}


def _workspace_imagery(request: Request, ctx: AppContext, principal: Principal,
                       ws_id: str) -> tuple[dict[str, str] | None, dict[str, Any] | None]:
    """The imagery under the workspace's maps: its campus's own orthophoto (or the server's
    provider) once the campus is stored and the caller's district owns it, and the photo
    uploaded to the workspace; 404 for a workspace that does not exist or is another
    district's, as the workspace API answers."""
    from api.imagery import imagery_layer
    from api.store_identity import identity
    from api.store_workspace import WorkspaceNotFound, workspaces

    ws = workspaces(ctx.store).find(ws_id)
    owner = None if ws is None else identity(ctx.store).campus_owner(ws.campus_id)
    if ws is None or (owner or ws.org_id) != principal.org_id:
        ctx.refused(request, principal, 404, "/workspace/{ws_id}",
                    f"{principal.actor} may not see workspace {ws_id}")
        raise WorkspaceNotFound(f"{principal.actor} may not see workspace {ws_id}",
                                user_message=f"unknown workspace {ws_id!r}")
    from api.workspace_imagery import workspace_imagery_layer

    photo = workspace_imagery_layer(ws)
    return (imagery_layer(ctx, ws.campus_id) if owner else _provider(request)), photo


@router.get("/workspace", response_class=HTMLResponse,
            summary="The workspace page: your organisation's workspaces, and a new one")
def workspace_list_page(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> HTMLResponse:
    ctx.authorize(request, principal, Action.EDIT, None)
    html, csp = workspace_page(None, user=principal.name, imagery=_provider(request))
    ctx.audit(request, principal, "workspace_page", None, "list")
    return HTMLResponse(html, headers={**NO_STORE, "Content-Security-Policy": csp})


@router.get("/workspace/{ws_id}", response_class=HTMLResponse,
            summary="The workspace page of one workspace: upload, layers, georeference, "
                    "import, fix, publish")
def workspace_one_page(ws_id: WorkspaceId, request: Request, ctx: Ctx,
                       principal: CurrentPrincipal) -> HTMLResponse:
    ctx.authorize(request, principal, Action.EDIT, None)
    imagery, photo = _workspace_imagery(request, ctx, principal, ws_id)
    html, csp = workspace_page(ws_id, user=principal.name, imagery=imagery, site_photo=photo)
    ctx.audit(request, principal, "workspace_page", None, ws_id)
    return HTMLResponse(html, headers={**NO_STORE, "Content-Security-Policy": csp})


def revision_features(campus: Campus) -> dict[str, Any]:
    """Every part of a campus revision as one GeoJSON FeatureCollection (lon/lat), each with
    ``feature_type`` and, for parts on a level, ``ordinal`` and ``level_name``; the campus's
    levels as a list."""
    from gridmap.serialize import CampusPart, feature_to_dict

    levels = {lv.id: lv for lv in campus.levels}
    features: list[dict[str, Any]] = []
    parts: list[CampusPart] = [*campus.buildings, *campus.units, *campus.openings,
                               *campus.amenities, *campus.grounds]
    for part in parts:
        feature = dict(feature_to_dict(part))
        props = dict(feature.get("properties") or {})
        level = levels.get(str(props.get("level_id") or ""))
        if level is not None:
            props["ordinal"] = level.ordinal
            props["level_name"] = level.name
        feature["properties"] = props
        features.append(feature)
    return {
        "type": "FeatureCollection",
        "campus": campus.id,
        "levels": [{"id": lv.id, "building_id": lv.building_id, "ordinal": lv.ordinal,
                    "name": lv.name, "short_name": lv.short_name}
                   for lv in sorted(campus.levels, key=lambda lv: (lv.ordinal, lv.building_id))],
        "features": features,
    }


@router.get("/campuses/{campus_id}/revisions/{number}/features.geojson",
            summary="Every part of a revision (a draft too) as GeoJSON, for the workspace's "
                    "report map (editors)")
def revision_features_geojson(campus_id: CampusId, number: RevisionNumber, request: Request,
                              ctx: Ctx, principal: CurrentPrincipal) -> JSONResponse:
    from api.store_publish import publishing

    check_campus_id(campus_id)
    ctx.authorize(request, principal, Action.EDIT, campus_id)
    if publishing(ctx.store).state(campus_id).revision(number) is None:
        raise NotFound(f"campus {campus_id} has no revision {number}",
                       user_message=f"campus {campus_id!r} has no revision {number}")
    body = revision_features(ctx.store.campus(campus_id, number))
    ctx.audit(request, principal, "revision_features", campus_id, f"revision {number}")
    return JSONResponse(body, media_type=GEOJSON, headers=NO_STORE)
