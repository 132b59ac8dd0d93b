"""How much work one import may spend, and the meter that enforces it.

A floor plan is untrusted input: a block inserted a thousand times into a block inserted a
thousand times is a billion virtual entities; an arc whose bulge makes it a circle the size of a
country flattens into millions of points. :class:`ImportLimits` says what an import may spend;
:class:`WorkBudget` is charged as the importer walks the drawing and raises
:class:`~gridmap.errors.ImportLimitExceeded` naming the limit as soon as one is passed, so a
hostile file ends in a clear error in bounded time instead of a hang or an out-of-memory kill.

The service passes its settings (``GRIDMAP_IMPORT_TIME_LIMIT_S``,
``GRIDMAP_IMPORT_MEMORY_LIMIT_MB``) in as plain numbers; nothing here imports the API.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass, field

from gridmap.errors import ImportLimitExceeded

_CHECK_EVERY = 256  # entities between clock / memory readings


@dataclass(frozen=True)
class ImportLimits:
    """What one campus import may spend. ``None`` switches a limit off."""

    #: wall-clock seconds for the whole import (all floor plans)
    time_limit_s: float | None = 120.0
    #: growth of the process's resident memory during the import, MiB
    memory_limit_mb: float | None = 2048.0
    #: entities visited per drawing, block inserts expanded (a MINSERT array counts each copy)
    entity_budget: int = 500_000
    #: points one room outline may flatten into (bulge arcs included)
    max_outline_points: int = 50_000
    #: how far from the drawing's origin anything may lie, metres (10,000 km: half the earth)
    max_coordinate_m: float = 1e7


@dataclass
class WorkBudget:
    """The running meter of one import: a deadline, an entity count and a memory baseline."""

    limits: ImportLimits = field(default_factory=ImportLimits)
    entities: int = 0
    _deadline: float | None = None
    _rss_start: int = 0
    _next_check: int = 0

    def __post_init__(self) -> None:
        if self.limits.time_limit_s is not None:
            self._deadline = time.monotonic() + self.limits.time_limit_s
        if self.limits.memory_limit_mb is not None:
            self._rss_start = resident_bytes()

    def reset_entities(self) -> None:
        """A new drawing: the entity budget is per drawing, time and memory per import."""
        self.entities = 0
        self._next_check = 0

    def charge(self, n: int, where: str) -> None:
        """Count ``n`` more entities (``where`` names the file and entity for the message)."""
        self.entities += n
        if self.entities > self.limits.entity_budget:
            raise ImportLimitExceeded(
                f"{where}: the drawing expands to more than {self.limits.entity_budget:,} "
                "entities (blocks inserted inside blocks, or MINSERT arrays); the import's "
                "entity budget is exceeded. Explode or purge the nested blocks and try again"
            )
        if self.entities >= self._next_check:
            self._next_check = self.entities + _CHECK_EVERY
            self.check(where)

    def check(self, where: str) -> None:
        """Raise if the time or memory limit has been passed."""
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise ImportLimitExceeded(
                f"{where}: the import took longer than its time limit of "
                f"{self.limits.time_limit_s:g} s (GRIDMAP_IMPORT_TIME_LIMIT_S)"
            )
        limit = self.limits.memory_limit_mb
        if limit is not None:
            grown = resident_bytes() - self._rss_start
            if grown > limit * 1024 * 1024:
                raise ImportLimitExceeded(
                    f"{where}: the import used more than its memory limit of {limit:g} MB "
                    "(GRIDMAP_IMPORT_MEMORY_LIMIT_MB)"
                )


def resident_bytes() -> int:
    """This process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
