"""``gridmap diff``, ``publish``, ``rollback`` and ``verify``: drafts and walk-throughs from the
command line, on the local store, audited as the operator (``cli:<user>``).

Registered by :func:`add_commands` from :func:`api.cli.build_parser`; nothing heavy is imported
until a command runs (``gridmap lookup`` starts in well under 0.5 s).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.settings import Settings
    from api.store import CampusStore
    from api.store_publish import PublishResult


def expected_revision(text: str) -> int | None:
    """``--expect-current``: a revision number, or ``none`` (nothing published yet)."""
    if text.strip().lower() == "none":
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a revision number (or 'none')")
    return number


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _audit(store: CampusStore, action: str, campus_id: str, detail: str, *,
           actor: str | None = None) -> None:
    from api.cli import cli_audit

    cli_audit(store, action, campus_id=campus_id, detail=detail, actor=actor)


def cmd_diff(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    """Print what changed from revision A to revision B (and write it as GeoJSON if asked)."""
    from gridmap.revision_diff import diff_campuses

    old = store.campus(args.campus, args.old)
    new = store.campus(args.campus, args.new)
    diff = diff_campuses(old, new, moved_threshold_m=args.moved_m)
    counts = ", ".join(f"{n} {what}" for what, n in diff.counts().items() if n) or "no changes"
    print(f"{args.campus}: revision {args.old} -> {args.new}: {counts}")
    for line in diff.lines():
        print(f"  {line}")
    if args.geojson:
        from api.cli import _write_private

        _write_private(Path(args.geojson), json.dumps(diff.to_geojson()).encode())
        print(f"GeoJSON written to {args.geojson}", file=sys.stderr)
    _audit(store, "revision_diff", args.campus,
           f"revision {args.new} against {args.old}: {len(diff.changes)} changes")
    return 0


def publish_revision(store: CampusStore, campus_id: str, number: int, expect: int | None, *,
                     rollback: bool = False, actor: str | None = None) -> PublishResult:
    """Publish (or roll back to) revision ``number`` if ``expect`` is still current, through
    the one atomic flip of :meth:`api.store_publish.Publishing.publish` (checked servable),
    audited as ``actor`` (default the operator) whether it lands or is refused."""
    from api.publish import check_servable
    from api.store_publish import publishing
    from gridmap.errors import GridmapError

    action = "rollback" if rollback else "publish"
    try:
        result = publishing(store).publish(campus_id, number, expect_current=expect,
                                           check=check_servable, rollback=rollback)
    except GridmapError as exc:
        _audit(store, f"{action}_refused", campus_id,
               f"revision {number}, expecting {expect or 'none'} current: "
               f"{type(exc).__name__}: {exc}", actor=actor)
        raise
    _audit(store, action, campus_id, f"revision {result.number} (was {result.previous or 'none'})",
           actor=actor)
    return result


def _publish(store: CampusStore, campus_id: str, number: int, expect: int | None, *,
             rollback: bool) -> int:
    print(publish_revision(store, campus_id, number, expect, rollback=rollback).line())
    return 0


def cmd_publish(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.cli import cli_actor, cli_audit
    from api.workspace_imagery import attach_on_publish

    code = _publish(store, args.campus, args.revision, args.expect_current, rollback=False)
    attached = attach_on_publish(  # a published workspace draft brings its uploaded photo
        store, settings, args.campus, args.revision, actor=cli_actor(),
        audit=lambda a, d: cli_audit(store, a, campus_id=args.campus, detail=d))
    if attached is not None:
        print(f"imagery v{attached.version} attached: the workspace's photo "
              f"{attached.source_name}")
    return code


def cmd_rollback(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    expect = args.expect_current
    if expect is None:  # what is current now; the flip still refuses if that changes
        expect = store.current_revision(args.campus)
    return _publish(store, args.campus, args.to, expect, rollback=True)


def cmd_verify(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    """Record a walk-through and print the campus's verification status."""
    from api.cli import cli_actor
    from api.store import utcnow
    from api.store_publish import publishing

    pub = publishing(store)
    record = pub.add_verification(
        args.campus, verified_on=args.on or utcnow().date(), verified_by=args.by,
        organisation=args.org, checklist=args.checklist or [], notes=args.notes or "",
        building=args.building, due_on=args.due, recorded_by=cli_actor())
    where = f"building {args.building}" if args.building else "the campus"
    _audit(store, "verification", args.campus,
           f"{record.id}: {where} {record.line()}, {len(record.checklist)} items checked, "
           f"due {record.due_on.isoformat()}")
    status = pub.status(args.campus)
    today = utcnow().date()
    print(f"{args.campus}: recorded {record.id}: {where} {record.line()}, due "
          f"{record.due_on.isoformat()}")
    state = status.to_dict(today)
    flag = " OVERDUE" if state["overdue"] else ""
    missing = (f"; never walked: {', '.join(status.unverified_buildings)}"
               if status.unverified_buildings else "")
    print(f"{args.campus}: {state['line']}, due {state['due_on']}{flag}{missing}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``diff``, ``publish``, ``rollback`` and ``verify`` to the ``gridmap`` parser."""
    from api.cli import revision_number

    p = sub.add_parser("diff", help="what changed between two revisions of a campus (rooms, "
                                    "doors, points, grounds added/removed/renamed/moved)")
    p.add_argument("campus", help="campus id")
    p.add_argument("old", type=revision_number, help="the revision to compare with")
    p.add_argument("new", type=revision_number, help="the revision to review")
    p.add_argument("--moved-m", type=float, default=0.5,
                   help="a part that moved less than this many metres has not moved "
                        "(default 0.5)")
    p.add_argument("--geojson", metavar="FILE", help="also write the changes as GeoJSON")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("publish", help="publish a draft revision, if the revision you "
                                       "reviewed against is still current")
    p.add_argument("campus", help="campus id")
    p.add_argument("--revision", type=revision_number, required=True,
                   help="the revision to publish")
    p.add_argument("--expect-current", type=expected_revision, required=True,
                   metavar="M|none",
                   help="the revision you reviewed against (none: nothing published yet); "
                        "if another is current now, nothing changes")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("rollback", help="re-publish an earlier published revision")
    p.add_argument("campus", help="campus id")
    p.add_argument("--to", type=revision_number, required=True, help="the earlier revision")
    p.add_argument("--expect-current", type=expected_revision, metavar="M",
                   help="the revision you expect to be current (default: the current one)")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("verify", help="record a walk-through of a campus or a building")
    p.add_argument("campus", help="campus id")
    p.add_argument("--building", help="a building's short name or id (default: the campus)")
    p.add_argument("--by", required=True, help="who walked it")
    p.add_argument("--org", required=True, help="their organisation")
    p.add_argument("--checklist", nargs="+", action="extend", metavar="ITEM",
                   help="items checked (e.g. 'door numbers' 'Knox box' 'AEDs')")
    p.add_argument("--notes", help="what was found")
    p.add_argument("--on", type=iso_date, help="the walk-through's date (default: today)")
    p.add_argument("--due", type=iso_date, help="the next one's due date (default: a year on)")
    p.set_defaults(func=cmd_verify)
