"""Reading an OpenStreetMap ``.osm`` XML file (plain, ``.gz`` or ``.bz2``) into the nodes, ways
and relations the indoor import uses, bounded: defusedxml (no DTD, no entity expansion),
streamed through expat's callbacks (no element objects), capped in size, nesting, members and
tags, checked against the import's time and memory, and holding only what indoor features use
(a district's streets and trees are passed over, their nodes kept as positions in arrays)."""

from __future__ import annotations

import bz2
import gzip
import io
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.parsers.expat import ExpatError, errors

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from gridmap.errors import IndoorFileError
from importers.findings import Finding, FindingKind
from importers.indoor import FindingLog
from importers.limits import ImportLimits, WorkBudget
from importers.osm_tags import is_area, is_point_feature

#: members one multipolygon relation may have
MAX_RELATION_MEMBERS = 10_000
#: tags one element may carry (the rest are ignored)
MAX_TAGS = 500
#: XML nesting an .osm file may have (it needs three: osm, way, nd)
MAX_XML_DEPTH = 8
#: expat's code for a document with no element
_NO_ELEMENTS = errors.codes[errors.XML_ERROR_NO_ELEMENTS]


@dataclass
class _Way:
    refs: tuple[int, ...]
    tags: dict[str, str]


@dataclass
class _Relation:
    members: tuple[tuple[str, int, str], ...]  # (type, ref, role)
    tags: dict[str, str]


@dataclass
class OsmData:
    """The file's elements: node positions, tagged nodes' tags, ways and relations by id."""
    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: dict[int, _Way] = field(default_factory=dict)
    relations: dict[int, _Relation] = field(default_factory=dict)


def _open_osm(path: Path, max_bytes: int) -> IO[bytes]:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IndoorFileError(f"{path.name}: cannot be read ({e.strerror})") from None
    if size > max_bytes:
        raise IndoorFileError(
            f"{path.name}: {size / 1e6:,.0f} MB is larger than an OpenStreetMap indoor file "
            f"may be ({max_bytes / 1e6:,.0f} MB); export only the campus's area")
    fh = path.open("rb")
    head = fh.read(64)
    fh.seek(0)
    if b"OSMHeader" in head:
        fh.close()
        raise IndoorFileError(
            f"{path.name}: is an OSM PBF file; gridmap reads .osm XML (JOSM: File > Save As "
            ".osm; osmium cat FILE.pbf -o FILE.osm)")
    if head.startswith(b"\x1f\x8b"):  # JOSM's .osm.gz
        return io.BufferedReader(_Capped(gzip.GzipFile(fileobj=fh), fh, path.name, max_bytes))
    if head.startswith(b"BZh"):  # JOSM's .osm.bz2
        return io.BufferedReader(_Capped(bz2.BZ2File(fh), fh, path.name, max_bytes))
    return fh


class _Capped(io.RawIOBase):
    """A compressed file's unpacked bytes, refused past ``max_bytes`` (a gzip bomb unpacks a
    thousand times its size) or when the compressed data is damaged."""

    def __init__(self, inner: gzip.GzipFile | bz2.BZ2File, raw: IO[bytes], name: str,
                 max_bytes: int) -> None:
        super().__init__()
        self.inner, self.raw, self.name_ = inner, raw, name
        self.max_bytes = max_bytes
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(min(len(buffer), 1 << 16))
        except (OSError, EOFError, ValueError) as e:
            raise IndoorFileError(f"{self.name_}: its compressed data is damaged ({e})"
                                  ) from None
        self.count += len(data)
        if self.count > self.max_bytes:
            raise IndoorFileError(
                f"{self.name_}: unpacks to more than {self.max_bytes / 1e6:,.0f} MB, more than "
                "an OpenStreetMap indoor file may be; export only the campus's area")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        self.raw.close()
        super().close()


#: OpenStreetMap ids are 64-bit integers; one this large or larger is no id
_ID_LIMIT = 2**63
#: bytes handed to the XML parser at a time (time and memory are checked between them)
_CHUNK = 1 << 18


class _Nodes:
    """Positions of the nodes no feature is read from, compactly (24 bytes a node, not the
    150 a dict entry with a tuple costs): an extract of a district is mostly street and
    house nodes, and only the few that indoor features use are looked up, once, at the end."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.lons = array("d")
        self.lats = array("d")
        self.ascending = True  # as osmium, JOSM and the API write them: by id

    def add(self, nid: int, lon: float, lat: float) -> None:
        if self.ascending and self.ids and nid <= self.ids[-1]:
            self.ascending = False
        self.ids.append(nid)
        self.lons.append(lon)
        self.lats.append(lat)

    def resolve(self, wanted: set[int], into: dict[int, tuple[float, float]]) -> None:
        """Put the positions of the ``wanted`` node ids held here into ``into``."""
        ids = self.ids
        if self.ascending:
            n = len(ids)
            for nid in wanted:
                k = bisect_left(ids, nid)
                if k < n and ids[k] == nid:
                    into[nid] = (self.lons[k], self.lats[k])
            return
        at: dict[int, int] = {}
        for k, nid in enumerate(ids):
            if nid in wanted:
                at.setdefault(nid, k)  # the first position given, as a full file has one
        for nid, k in at.items():
            into[nid] = (self.lons[k], self.lats[k])


@dataclass
class _Reading:
    """What the callbacks of :func:`_callbacks` gather from one file."""

    data: OsmData = field(default_factory=OsmData)
    spare: _Nodes = field(default_factory=_Nodes)
    #: node lists of ways whose tags are not read (a multipolygon may use them)
    member_ways: dict[int, array[int]] = field(default_factory=dict)
    bad_nodes: int = 0
    root_seen: bool = False

    def result(self) -> OsmData:
        """The data, with the member ways the multipolygons read use and the positions of the
        nodes the ways read use."""
        data = self.data
        for rel in data.relations.values():
            for mtype, mref, _ in rel.members:
                if mtype == "way" and mref not in data.ways and mref in self.member_ways:
                    data.ways[mref] = _Way(tuple(self.member_ways[mref]), {})
        self.member_ways.clear()
        wanted = {r for way in data.ways.values() for r in way.refs if r not in data.nodes}
        self.spare.resolve(wanted, data.nodes)
        return data


_Start = Callable[[str, dict[str, str]], None]
_End = Callable[[str], None]


def _callbacks(name: str, limits: ImportLimits, reading: _Reading) -> tuple[_Start, _End]:
    """expat's start and end callbacks, reading the file into ``reading``.

    Kept: nodes tagged as a door, an AED or another indoor point (with their tags); every
    way's node list (a multipolygon's member ways are mostly untagged); the tags of ways and
    relations that are buildings, spaces, levels or the venue; every node's position,
    compactly, until the nodes those ways need are known. They are closures over local
    state, not methods: they run once per element of a file of millions.
    """
    data, spare, member_ways = reading.data, reading.spare, reading.member_ways
    spare_ids, spare_lons, spare_lats = spare.ids, spare.lons, spare.lats
    max_points = limits.max_outline_points
    max_children = 2 * (max_points + MAX_RELATION_MEMBERS + MAX_TAGS)
    budget = limits.entity_budget
    depth = 0
    children = 0  # elements inside the current top-level one
    kept = 0  # elements held (counted against the entity budget)
    # the top-level element being read: "node", "way", "relation", or "" when it is not read
    kind = ""
    oid = 0
    lon = lat = 0.0
    tags: dict[str, str] = {}
    refs: list[int] = []
    members: list[tuple[str, int, str]] = []
    inline: list[tuple[float, float]] | None = None  # the member's Overpass geometry
    inline_ways: dict[int, list[tuple[float, float]]] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth, children, inline, kind, oid, lon, lat, tags, refs, members
        depth += 1
        if depth == 3:
            children += 1
            if children > max_children:
                raise IndoorFileError(
                    f"{name}: one element holds more than {max_children:,} others; no usable "
                    "OpenStreetMap way or relation is that large")
            if not kind:
                return
            if tag == "nd":
                if kind == "way" and len(refs) <= max_points:  # past it, the way is refused
                    try:
                        ref = int(attrs["ref"])
                    except (KeyError, ValueError):
                        ref = 0  # a node id that cannot exist: reported as missing
                    if not -_ID_LIMIT < ref < _ID_LIMIT:
                        ref = 0  # past any OSM id (they are 64-bit)
                    refs.append(ref)
                    if "lat" in attrs and (at := _position(attrs)) is not None:
                        # Overpass "out geom" writes the position on the nd, not as a node
                        spare.add(ref, *at)
            elif tag == "tag":
                k, v = attrs.get("k"), attrs.get("v")
                if k is not None and v is not None and len(tags) < MAX_TAGS:
                    tags[k.strip()] = v.strip()
            elif tag == "member" and kind == "relation":
                inline = None
                if len(members) <= MAX_RELATION_MEMBERS:
                    try:
                        member = (attrs.get("type", ""), int(attrs["ref"]), attrs.get("role", ""))
                    except (KeyError, ValueError):
                        return
                    members.append(member)
                    if member[0] == "way":
                        inline = []
        elif depth == 2:  # a node, way or relation begins
            kind = ""
            if tag not in ("node", "way", "relation") or attrs.get("action") == "delete" \
                    or attrs.get("visible") == "false":
                return
            try:
                oid = int(attrs["id"])
                if not -_ID_LIMIT < oid < _ID_LIMIT:
                    raise ValueError(oid)  # past any OSM id (they are 64-bit)
            except (KeyError, ValueError):
                reading.bad_nodes += tag == "node"
                return
            tags = {}
            if tag == "node":
                at = _position(attrs)
                if at is None:
                    reading.bad_nodes += 1
                    return
                lon, lat = at
            elif tag == "way":
                refs = []
            else:
                members = []
            kind = tag
        elif depth > 3:
            children += 1
            if children > max_children:
                raise IndoorFileError(
                    f"{name}: one element holds more than {max_children:,} others; no usable "
                    "OpenStreetMap way or relation is that large")
            if depth > MAX_XML_DEPTH:
                raise IndoorFileError(
                    f"{name}: its XML is nested {MAX_XML_DEPTH} elements deep; an "
                    "OpenStreetMap file nests three (osm, way, nd)")
            if depth == 4 and tag == "nd" and inline is not None:
                at = _position(attrs)
                if at is None or len(inline) > max_points:
                    inline = None  # unusable: the way is not made from it
                else:
                    inline.append(at)
        elif not reading.root_seen:
            reading.root_seen = True
            if tag != "osm":
                raise IndoorFileError(
                    f"{name}: is not an OpenStreetMap file (its XML root element is "
                    f"<{tag[:40]}>, not <osm>)")

    def end(tag: str) -> None:
        nonlocal depth, children, kind, inline
        depth -= 1
        if depth == 1:  # a node, way or relation ends
            children = 0
            if kind == "node":
                if tags and is_point_feature(tags):
                    data.nodes[oid] = (lon, lat)
                    data.node_tags[oid] = tags
                    count()
                else:  # spare.add, written out: most of a file's elements are such nodes
                    if spare_ids and oid <= spare_ids[-1]:
                        spare.ascending = False
                    spare_ids.append(oid)
                    spare_lons.append(lon)
                    spare_lats.append(lat)
            elif kind == "way":
                if tags and is_area(tags):
                    data.ways[oid] = _Way(tuple(refs), tags)
                    count()
                elif refs:  # a multipolygon may name it: its node list, compactly
                    member_ways[oid] = array("q", refs)
            elif kind == "relation":
                if tags.get("type") == "multipolygon" and is_area(tags):
                    data.relations[oid] = _Relation(tuple(members), tags)
                    count()
                    for wid, points in inline_ways.items():
                        if wid not in data.ways and wid not in member_ways:
                            _inline_way(data, wid, points)
                inline_ways.clear()
            kind = ""
        elif depth == 2 and tag == "member":
            if inline is not None and len(inline) >= 2 and members:
                inline_ways.setdefault(members[-1][1], inline)
            inline = None

    def count() -> None:
        nonlocal kept
        kept += 1
        if kept > budget:
            raise IndoorFileError(
                f"{name}: holds more than {budget:,} OpenStreetMap elements that are indoor "
                "features, buildings or their outlines (the import's entity budget); export "
                "only the campus's area")

    return start, end


def _inline_way(data: OsmData, wid: int, points: list[tuple[float, float]]) -> None:
    """A member way that Overpass wrote inside its relation (``<member><nd lat lon/>``), when
    the file does not hold the way itself."""
    refs: list[int] = []
    for at in points:
        ref = _INLINE_IDS - len(data.nodes)
        data.nodes[ref] = at
        refs.append(ref)
    if points[0] == points[-1]:
        refs[-1] = refs[0]
    data.ways[wid] = _Way(tuple(refs), {})


def _position(attrs: dict[str, str]) -> tuple[float, float] | None:
    """An element's ``lon``/``lat`` attributes, if they are a place on the earth."""
    try:
        lon, lat = float(attrs.get("lon", "")), float(attrs.get("lat", ""))
    except ValueError:
        return None
    # NaN fails every comparison, infinity the range
    if -180 <= lon <= 180 and -90 <= lat <= 90:
        return lon, lat
    return None


#: ids given to the positions of a relation member written inline (Overpass "out geom")
_INLINE_IDS = -(10**15)


def _defused_expat() -> tuple[Any, Any]:
    """An expat parser that refuses DTDs, entity declarations and external references:
    defusedxml's own handlers, installed by its parser (kept alive with it). The element
    callbacks are set by the caller, not ElementTree's: no tree is built."""
    defused = DefusedXMLParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    expat = defused.parser
    expat.DefaultHandlerExpand = None
    expat.CharacterDataHandler = None
    expat.CommentHandler = None
    expat.ProcessingInstructionHandler = None
    expat.StartNamespaceDeclHandler = None
    expat.EndNamespaceDeclHandler = None
    expat.ordered_attributes = False
    return defused, expat


def read_osm(path: Path, limits: ImportLimits, log: FindingLog, budget: WorkBudget,
             max_bytes: int) -> OsmData:
    """The file's indoor features, buildings and the ways and node positions they use; a file
    over ``max_bytes`` (packed or unpacked) is refused.

    One pass of expat (through defusedxml) with plain callbacks: no element objects are built
    for the file's nodes, ways and tags, and nodes no feature uses are held in arrays."""
    reading = _Reading()
    defused, expat = _defused_expat()
    expat.StartElementHandler, expat.EndElementHandler = _callbacks(path.name, limits, reading)
    try:
        with _open_osm(path, max_bytes) as fh:
            while chunk := fh.read(_CHUNK):
                expat.Parse(chunk, False)
                budget.check(path.name)
            expat.Parse(b"", True)
    except DefusedXmlException as e:
        raise IndoorFileError(
            f"{path.name}: refused: the XML declares a DTD or entities ({type(e).__name__}); "
            "an OpenStreetMap file never needs them, and entity expansion is a known attack "
            "(billion laughs)") from None
    except ExpatError as e:
        if not reading.root_seen and e.code == _NO_ELEMENTS:
            raise IndoorFileError(f"{path.name}: is empty") from None
        raise IndoorFileError(
            f"{path.name}: is not well-formed XML (line {e.lineno}, column {e.offset}): "
            f"{str(e).split(':')[0]}") from None
    except LookupError as e:  # <?xml encoding="..."?> names an encoding Python lacks
        raise IndoorFileError(
            f"{path.name}: its XML declaration names an encoding that cannot be read ({e}); "
            "save it as UTF-8") from None
    finally:
        del defused
    if reading.bad_nodes:
        log.add(Finding(FindingKind.OTHER,
                        f"{reading.bad_nodes} node(s) have no usable id or lat/lon; ignored",
                        source=path.name, action="ignored"))
    return reading.result()


# --- geometry ----------------------------------------------------------------------------------
