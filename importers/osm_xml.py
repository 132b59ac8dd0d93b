"""Reading an OpenStreetMap ``.osm`` XML file (plain, ``.gz`` or ``.bz2``) into its nodes, ways
and relations, bounded: defusedxml (no DTD, no entity expansion), streamed element by element,
capped in size, nesting, members and tags, and checked against the import's time and memory."""

from __future__ import annotations

import bz2
import gzip
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from gridmap.errors import IndoorFileError
from importers.findings import Finding, FindingKind
from importers.indoor import FindingLog
from importers.limits import ImportLimits, WorkBudget

#: members one multipolygon relation may have
MAX_RELATION_MEMBERS = 10_000
#: tags one element may carry (the rest are ignored)
MAX_TAGS = 500
#: XML nesting an .osm file may have (it needs three: osm, way, nd)
MAX_XML_DEPTH = 8
#: elements read between time and memory checks
_CHECK_EVERY = 4096


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


def _tags(el: Element) -> dict[str, str]:
    tags: dict[str, str] = {}
    for t in el.iter("tag"):
        k, v = t.get("k"), t.get("v")
        if k is not None and v is not None and len(tags) < MAX_TAGS:
            tags[k.strip()] = v.strip()
    return tags


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


def _elements(fh: IO[bytes], name: str, max_children: int) -> Iterator[Element]:
    """The OSM file's top-level elements, each complete, cleared once yielded.

    Nesting and the elements one element holds are bounded: ElementTree keeps an element's
    children in memory until it ends, so a deep or endless element would fill memory first.
    """
    root: Element | None = None
    depth = 0
    children = 0  # elements inside the current top-level one (held until it ends)
    try:
        for event, el in iterparse(fh, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if root is None:
                    root = el
                    if el.tag != "osm":
                        raise IndoorFileError(
                            f"{name}: is not an OpenStreetMap file (its XML root element is "
                            f"<{el.tag[:40]}>, not <osm>)")
                depth += 1
                if depth > MAX_XML_DEPTH:
                    raise IndoorFileError(
                        f"{name}: its XML is nested {MAX_XML_DEPTH} elements deep; an "
                        "OpenStreetMap file nests three (osm, way, nd)")
                if depth > 2:
                    children += 1
                    if children > max_children:
                        raise IndoorFileError(
                            f"{name}: one element holds more than {max_children:,} others; "
                            "no usable OpenStreetMap way or relation is that large")
                continue
            depth -= 1
            if depth == 1:
                children = 0
                yield el
                el.clear()
                if root is not None and len(root) > 1024:
                    root.clear()
    except DefusedXmlException as e:
        raise IndoorFileError(
            f"{name}: refused: the XML declares a DTD or entities ({type(e).__name__}); an "
            "OpenStreetMap file never needs them, and entity expansion is a known attack "
            "(billion laughs)") from None
    except ParseError as e:
        line, column = getattr(e, "position", (0, 0))
        raise IndoorFileError(
            f"{name}: is not well-formed XML (line {line}, column {column}): "
            f"{str(e).split(':')[0]}") from None
    except LookupError as e:  # <?xml encoding="..."?> names an encoding Python lacks
        raise IndoorFileError(
            f"{name}: its XML declaration names an encoding that cannot be read ({e}); "
            "save it as UTF-8") from None
    if root is None:
        raise IndoorFileError(f"{name}: is empty")


def _position(el: Element) -> tuple[float, float] | None:
    """An element's ``lon``/``lat`` attributes, if they are a place on the earth."""
    try:
        lon, lat = float(el.get("lon", "")), float(el.get("lat", ""))
    except ValueError:
        return None
    if math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90:
        return lon, lat
    return None


#: ids given to the positions of a relation member written inline (Overpass "out geom")
_INLINE_IDS = -(10**15)


def _inline_way(data: OsmData, wid: int, member: Element, limits: ImportLimits) -> None:
    """A member way that Overpass wrote inside its relation (``<member><nd lat lon/>``)."""
    refs: list[int] = []
    for nd in member.iter("nd"):
        at = _position(nd)
        if at is None or len(refs) > limits.max_outline_points:
            return
        ref = _INLINE_IDS - len(data.nodes)
        data.nodes[ref] = at
        refs.append(ref)
    if len(refs) >= 2:
        if data.nodes[refs[0]] == data.nodes[refs[-1]]:
            refs[-1] = refs[0]
        data.ways[wid] = _Way(tuple(refs), {})


def read_osm(path: Path, limits: ImportLimits, log: FindingLog, budget: WorkBudget,
             max_bytes: int) -> OsmData:
    """The file's nodes, ways and relations; a file over ``max_bytes`` (packed or unpacked) is
    refused."""
    data = OsmData()
    bad_nodes = 0
    count = 0
    with _open_osm(path, max_bytes) as fh:
        max_children = 2 * (limits.max_outline_points + MAX_RELATION_MEMBERS + MAX_TAGS)
        for el in _elements(fh, path.name, max_children):
            if el.tag not in ("node", "way", "relation"):
                continue
            count += 1
            if count > limits.entity_budget:
                raise IndoorFileError(
                    f"{path.name}: holds more than {limits.entity_budget:,} OpenStreetMap "
                    "elements (the import's entity budget); export only the campus's area")
            if count % _CHECK_EVERY == 0:
                budget.check(path.name)
            if el.get("action") == "delete" or el.get("visible") == "false":
                continue
            try:
                oid = int(el.get("id", ""))
            except ValueError:
                bad_nodes += el.tag == "node"
                continue
            if el.tag == "node":
                at = _position(el)
                if at is None:
                    bad_nodes += 1
                    continue
                data.nodes[oid] = at
                tags = _tags(el)
                if tags:
                    data.node_tags[oid] = tags
            elif el.tag == "way":
                refs = []
                for nd in el.iter("nd"):
                    try:
                        ref = int(nd.get("ref", ""))
                    except ValueError:
                        ref = 0  # a node id that cannot exist: reported as missing
                    refs.append(ref)
                    # Overpass "out geom" writes the position on the nd, not as a node
                    if ref not in data.nodes and (at := _position(nd)) is not None:
                        data.nodes[ref] = at
                    if len(refs) > limits.max_outline_points:
                        break
                data.ways[oid] = _Way(tuple(refs), _tags(el))
            else:
                members = []
                for m in el.iter("member"):
                    try:
                        member = (m.get("type", ""), int(m.get("ref", "")), m.get("role", ""))
                    except ValueError:
                        continue
                    members.append(member)
                    if member[0] == "way" and member[1] not in data.ways:
                        _inline_way(data, member[1], m, limits)
                    if len(members) > MAX_RELATION_MEMBERS:
                        break
                data.relations[oid] = _Relation(tuple(members), _tags(el))
    if bad_nodes:
        log.add(Finding(FindingKind.OTHER,
                        f"{bad_nodes} node(s) have no usable id or lat/lon; ignored",
                        source=path.name, action="ignored"))
    return data


# --- geometry ----------------------------------------------------------------------------------
