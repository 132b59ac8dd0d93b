"""One cartographic style, one renderer: Mapnik maps of a campus for tiles, paper and packages.

:func:`campus_map` builds a :class:`mapnik.Map` of one level (or the campus overview) for a
:class:`MapView`; :func:`render_png` and :func:`render_pdf` draw it. The look comes from
:mod:`tiles.style` and nowhere else, so a raster tile, a printed sheet and the legend agree.

How the labels behave (Mapnik places every label and symbol with collision detection, in the
order of the layers below, so what comes first wins a contested spot):

1. room numbers (with room numbers and names laid out as one block centred on the point lookup
   answers with, the number on top, wherever number and name fit the room);
2. building letters and names: in the footprint up to z17 (placed first there), above the north
   wall and below the south wall from z18, outside the plan (a building's letter and name show
   at every zoom);
3. exterior doors, a red disc with the painted number;
4. safety symbols (AED, trauma kit, Knox box, shutoffs, fire alarm panel, stairs, ...): drawn on
   their point when that is free, else moved beside it (at most two symbol widths away),
   never over a room number;
5. room names, under their numbers (a name gives way to a symbol or a door; a number does not);
6. grid edge letters and numbers, grounds names, and the cell label in each cell's corner.

A room's label is drawn only where it fits inside the room (computed here, per zoom, from the
room's shape around the point lookup answers with).

Paper (``purpose="print"``) loses no label a reader needs. Room labels are laid out here before
Mapnik draws (:func:`print_room_labels`): every room's number at its normal size where it fits
its room, else smaller (down to ``style.PRINT_MIN_NUMBER_PT`` on paper), else moved inside its
room, and only when nothing fits listed for the sheet's "numbers not shown" note; then names,
whole, under their numbers wherever they fit (smaller allowed), never over a number or on a
symbol's spot. The printed campus overview writes every exterior door's number and each
building's letter (in it) and name (beside it) at any zoom; its doors and symbols move beside
their point rather than hide each other. On paper no symbol is placed across the sheet's edge.
Tiles are drawn exactly as before. Everything is projected once per campus
and spatial reference (:class:`CampusFeatures`) into in-memory GeoJSON datasources, so a tile
costs one Mapnik render.

Mapnik is imported inside the functions that draw, never when this module is imported.
The pieces: :mod:`tiles.map_view` (what is drawn, zoom and text arithmetic, importing
Mapnik), :mod:`tiles.map_features` (the campus projected), :mod:`tiles.paper_labels` (room
labels laid out for paper) and :mod:`tiles.mapnik_style` (the style as Mapnik XML).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapely.geometry import Point

from gridmap.model import Campus
from tiles import style
from tiles.map_features import (
    LEVEL_LAYERS,
    ROOM_LABEL_LAYERS,
    CampusFeatures,
    MapFeature,
    feature_collection,
    features_for,
)
from tiles.map_view import (
    BUFFER_PX,
    MapView,
    ground_resolution,
    mapnik_module,
    style_zoom,
    zoom_for_resolution,
)
from tiles.mapnik_style import style_xml
from tiles.paper_labels import (
    PaperLabel,
    PaperRoomLabels,
    building_name_features,
    inline_datasource,
    paper_collection,
    paper_room_labels,
    print_room_labels,
)

if TYPE_CHECKING:
    import mapnik


__all__ = ["CampusFeatures", "MapView", "PaperLabel", "PaperRoomLabels", "campus_map",
           "features_for", "ground_resolution",
           "mapnik_module", "print_room_labels", "render_features_png", "render_pdf",
           "render_png",
           "zoom_for_resolution"]



# --- building and drawing maps -------------------------------------------------------------------


def _layers_for(view: MapView, names: Sequence[str]) -> list[str]:
    """The layers ``view`` draws, in drawing (and label priority) order."""
    z = view.zoom
    names = list(names)
    if (style_zoom(z) < style.MIN_ZOOM_BUILDING_SIDES and "building_labels" in names
            and "room_numbers" in names):
        # zoomed out, a building's letter and name come first: they must show at every zoom
        names.remove("building_labels")
        names.insert(names.index("room_numbers"), "building_labels")
    numbered_doors = view.purpose == "print" and view.ordinal is None
    if (style_zoom(z) < style.MIN_ZOOM_DOOR_NUMBERS and not numbered_doors
            and "amenities" in names and "doors" in names):
        # an unnumbered door dot gives way to a Knox box or a shutoff beside it (a printed
        # overview numbers its doors: there the door keeps its spot and the symbol moves)
        names.remove("amenities")
        names.insert(names.index("doors"), "amenities")
    out: list[str] = []
    for name in names:
        if name in ("grid_lines",) and not view.grid:
            continue
        if name in ("grid_edge_labels", "cell_labels") and not (view.grid and view.grid_labels):
            continue
        if view.ordinal is None and name in ("rooms", "room_numbers", "room_names",
                                             "footprints_other",
                                             "building_outlines"):
            continue
        if name == "cell_labels" and round(z) < style.MIN_ZOOM_CELL_LABELS:
            continue
        if name == "grounds_labels" and round(z) < style.MIN_ZOOM_GROUNDS_LABELS:
            continue
        out.append(name)
    return out


def _build_map(features: CampusFeatures, view: MapView,
               layer_names: Sequence[str] = LEVEL_LAYERS) -> mapnik.Map:
    mapnik = mapnik_module()
    m = mapnik.Map(view.width, view.height, features.srs)
    overview = view.ordinal is None
    mapnik.load_map_from_string(m, style_xml(style_zoom(view.zoom), overview, view.purpose))
    m.srs = features.srs
    m.buffer_size = round(BUFFER_PX * view.scale_factor) if view.purpose == "tile" else 0
    if view.imagery is not None:
        layer = mapnik.Layer("imagery", "epsg:3857")
        layer.datasource = mapnik.Datasource(type="gdal", file=str(view.imagery))
        layer.styles.append("imagery")
        m.layers.append(layer)
    if view.zoom < style.MIN_ZOOM_PLAN:
        dot = mapnik.Datasource(type="geojson", inline=feature_collection(
            [MapFeature(Point(features.centre), {})]))
        layer = mapnik.Layer("campus_dot", features.srs)
        layer.datasource = dot
        layer.styles.append("campus_dot")
        m.layers.append(layer)
        return m
    sides = style_zoom(view.zoom) >= style.MIN_ZOOM_BUILDING_SIDES and not overview
    paper = view.purpose == "print"
    names = _layers_for(view, layer_names)
    if paper and overview and "building_labels" in names:
        names.insert(names.index("building_labels") + 1, "building_names")
    paper_labels = (paper_room_labels(features, view)
                    if paper and ROOM_LABEL_LAYERS & set(names) else None)
    for name in names:
        source = ("building_sides" if name == "building_labels" and sides
                  else "room_labels" if name in ROOM_LABEL_LAYERS else name)
        style_name = name
        if name == "building_names":
            ds = inline_datasource(building_name_features(features, view))
        elif paper_labels is not None and name in ROOM_LABEL_LAYERS:
            ds = inline_datasource(paper_collection(
                paper_labels.numbers if name == "room_numbers" else paper_labels.names))
            style_name = f"paper_{name}"
        else:
            ds = features.datasource(source, view.ordinal)
        if ds is None:
            continue
        layer = mapnik.Layer(name, features.srs)
        layer.datasource = ds
        hide = name in ROOM_LABEL_LAYERS and not view.room_labels
        layer.styles.append(f"{style_name}_hidden" if hide else style_name)
        m.layers.append(layer)
    return m


def campus_map(campus: Campus, view: MapView) -> mapnik.Map:
    """A new Mapnik map of ``view``, zoomed to its box (the caller may add layers)."""
    mapnik = mapnik_module()
    m = _build_map(features_for(campus, view.srs), view)
    m.zoom_to_box(mapnik.Box2d(*view.bbox))
    return m


_maps = threading.local()
_MAPS_PER_THREAD = 24


def _cached_map(features: CampusFeatures, view: MapView,
                layer_names: Sequence[str]) -> mapnik.Map:
    """A map of this shape for this thread (Mapnik maps are not shared between threads)."""
    cache: OrderedDict[tuple[Any, ...], tuple[CampusFeatures, mapnik.Map]] | None = getattr(
        _maps, "cache", None)
    if cache is None:
        cache = _maps.cache = OrderedDict()
    key = (id(features), view.ordinal, style_zoom(view.zoom), view.zoom < style.MIN_ZOOM_PLAN,
           round(view.zoom) >= style.MIN_ZOOM_CELL_LABELS,
           round(view.zoom) >= style.MIN_ZOOM_GROUNDS_LABELS, view.imagery, view.purpose,
           view.grid, view.grid_labels, view.room_labels, view.width, view.height,
           tuple(layer_names))
    hit = cache.get(key)
    if hit is not None and hit[0] is features:
        cache.move_to_end(key)
        return hit[1]
    m = _build_map(features, view, layer_names)
    cache[key] = (features, m)
    while len(cache) > _MAPS_PER_THREAD:
        cache.popitem(last=False)
    return m


def render_features_png(features: CampusFeatures, view: MapView,
                        layer_names: Sequence[str] = LEVEL_LAYERS) -> bytes:
    """PNG bytes of ``view`` drawn from already projected ``features``."""
    mapnik = mapnik_module()
    m = _cached_map(features, view, layer_names)
    m.zoom_to_box(mapnik.Box2d(*view.bbox))
    image = mapnik.Image(view.width, view.height)
    mapnik.render(m, image, view.scale_factor)
    png: bytes = image.to_string("png32:z=1")
    return png


def render_png(campus: Campus, view: MapView) -> bytes:
    """PNG bytes of ``view`` of ``campus`` (transparent where nothing is drawn)."""
    return render_features_png(features_for(campus, view.srs), view)


def render_pdf(campus: Campus, view: MapView) -> bytes:
    """A one-page vector PDF of ``view``, ``width`` x ``height`` points, text kept as text."""
    import tempfile

    mapnik = mapnik_module()
    m = campus_map(campus, view)
    with tempfile.TemporaryDirectory(prefix="gridmap-pdf-") as tmp:
        path = Path(tmp) / "map.pdf"
        mapnik.render_to_file(m, str(path), "pdf", view.scale_factor)
        return path.read_bytes()
