"""``gridmap imagery``: an orthophoto attached to a campus (also the demo's sample imagery)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # imported where used: `gridmap lookup` must start in well under 0.5 s
    from api.settings import Settings
    from api.store import CampusStore


SAMPLE_IMAGERY = "imagery.tif"
SAMPLE_IMAGERY_ATTRIBUTION = "Synthetic imagery (not a photograph)"


def attach_imagery_file(store: CampusStore, settings: Settings, campus_id: str, path: Path,
                        attribution: str = "") -> Any:
    """Attach an orthophoto file as the campus's next imagery version; audited as the local
    operator (a refused file too). Returns the stored version's ``ImageryInfo``."""
    from api.cli import CliError, cli_actor, cli_audit
    from api.imagery import attach_imagery

    if not path.is_file():
        raise CliError(f"imagery file not found: {path}")

    def audit(action: str, detail: str) -> None:
        cli_audit(store, action, campus_id=campus_id, detail=detail)

    return attach_imagery(store, settings, campus_id, path, source_name=path.name,
                          actor=cli_actor(), audit=audit, attribution=attribution)


def _print_imagery(info: Any, out: TextIO) -> None:
    print(f"{info.campus_id}: stored imagery version {info.version} ({info.width} x "
          f"{info.height} px at {info.resolution_m:.2f} m, from {info.source_crs}, "
          f"{info.size_bytes / 1024:.0f} KB)", file=out)


def cmd_imagery(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    info = attach_imagery_file(store, settings, args.campus, Path(args.file), args.attribution)
    _print_imagery(info, sys.stdout)
    return 0


def attach_sample_imagery(store: CampusStore, settings: Settings, campus_id: str,
                          manifest: Path) -> Any:
    """Attach the sample's ``imagery.tif`` unless it is already the current imagery (by the
    file's sha256); the stored ``ImageryInfo``, or None when there was nothing to do."""
    path = manifest.parent / SAMPLE_IMAGERY
    if not path.is_file():
        return None
    current = store.imagery_info(campus_id)
    if current is not None and current.source_digest == hashlib.sha256(
            path.read_bytes()).hexdigest():
        return None
    return attach_imagery_file(store, settings, campus_id, path, SAMPLE_IMAGERY_ATTRIBUTION)
