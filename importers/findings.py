"""What an import noticed, as data: the import report's problems.

A floor plan, a georeference or a whole campus import records each problem it finds as a
:class:`Finding`: its kind, the words an editor reads, where it is and what the importer did
about it. The report page lists them and highlights each on a preview map; the CLI prints
their messages. ``at`` is in the drawing's frame (metres) while a floor plan is read, and in
WGS84 longitude, latitude once the import has placed it (:meth:`Finding.placed`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum


class FindingKind(StrEnum):
    ROOM_WITHOUT_LABEL = "room_without_label"
    LABEL_OUTSIDE_ROOMS = "label_outside_rooms"
    DUPLICATE_NUMBER = "duplicate_number"
    ROOM_OUTSIDE_FOOTPRINT = "room_outside_footprint"
    MISSING_LAYER = "missing_layer"
    REPAIRED_GEOMETRY = "repaired_geometry"
    UNITS = "units"
    GEOREFERENCE = "georeference"
    RECOVERED_FILE = "recovered_file"
    UNSUPPORTED = "unsupported"  # an entity, tag or rule the importer does not read
    OTHER = "other"


class Severity(StrEnum):
    ERROR = "error"  # the import cannot be published as it is
    WARNING = "warning"  # published maps would be wrong or incomplete here
    INFO = "info"  # done for the editor, worth a look


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    message: str
    severity: Severity = Severity.WARNING
    #: the source file it is in (a drawing's name as the manifest writes it), "" for the campus
    source: str = ""
    #: a point to highlight: drawing frame metres while reading, lon/lat once placed
    at: tuple[float, float] | None = None
    #: what it is about: a DXF entity handle, a room number or a feature id
    ref: str = ""
    #: what the importer did about it ("kept as a label-only room", "ignored")
    action: str = ""
    building: str = ""
    level: str = ""
    placed_on_earth: bool = False

    def placed(self, to_lonlat: Callable[[float, float], tuple[float, float]], *,
               building: str = "", level: str = "") -> Finding:
        """The finding with ``at`` moved from the drawing frame onto the earth."""
        at = self.at if self.at is None or self.placed_on_earth else to_lonlat(*self.at)
        return replace(self, at=at, placed_on_earth=True, building=building or self.building,
                       level=level or self.level)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value, "severity": self.severity.value, "message": self.message,
            "source": self.source, "at": None if self.at is None else list(self.at),
            "on_earth": self.placed_on_earth, "ref": self.ref, "action": self.action,
            "building": self.building, "level": self.level,
        }
