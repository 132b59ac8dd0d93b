"""``gridmap share``: issue, list and revoke share links from the command line.

``gridmap share CAMPUS --hours N [--to WHOM] [--org ORG]`` prints a new link's secret once (and
the browser address ``/share#<secret>`` to append to the server's); ``gridmap share list`` lists
links (never their secrets); ``gridmap share revoke ID`` revokes one, on every worker within a
second. The operator at the keyboard issues for the campus's owning district unless ``--org``
names a partner agency that sees the campus. Everything is audited as ``cli:<user>``.

Only :mod:`argparse` is imported here at start-up (``gridmap lookup`` must start quickly).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.settings import Settings
    from api.store import CampusStore


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``gridmap share`` on the CLI's subcommands."""
    p = sub.add_parser(
        "share", help="issue a read-only share link for one campus (at most 72 h), or "
                      "'share list', 'share revoke ID'",
        description="gridmap share CAMPUS --hours N | gridmap share list | "
                    "gridmap share revoke ID")
    p.add_argument("campus", metavar="CAMPUS|list|revoke",
                   help="the campus to share; or 'list'; or 'revoke' followed by the link id")
    p.add_argument("link_id", nargs="?", metavar="ID", help="with 'revoke': the link (shr_...)")
    p.add_argument("--hours", type=float, default=None,
                   help="lifetime in hours, more than 0 and at most 72 (default 12)")
    p.add_argument("--to", default="", metavar="WHOM",
                   help="for whom: the neighbouring agency, the incident (shown in lists)")
    p.add_argument("--org", help="issue as this organisation (default: the campus's district)")
    p.set_defaults(func=cmd_share)


def cmd_share(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.cli import CliError

    if args.campus == "revoke":
        if not args.link_id:
            raise CliError("gridmap share revoke ID: which link? (shr_..., see gridmap share list)")
        return _revoke(store, args.link_id)
    if args.link_id:
        raise CliError(f"unexpected argument {args.link_id!r}: gridmap share CAMPUS --hours N")
    if args.campus == "list":
        return _list(store)
    return _create(args, store)


def _create(args: argparse.Namespace, store: CampusStore) -> int:
    from api import share
    from api.cli import CliError, cli_actor
    from api.store import AuditEntry, utcnow
    from api.store_identity import identity

    hours = share.DEFAULT_HOURS if args.hours is None else args.hours
    share.check_hours(hours)
    store.revisions(args.campus)  # CampusNotFound, with the CLI's hint, if there is none
    ident = identity(store)
    if args.org:
        org = ident.find_org(args.org)
        if args.campus not in ident.visible_campuses(org.id):
            raise CliError(f"{org.name} does not see {args.campus} (no active partnership)")
        org_id: str | None = org.id
    else:
        org_id = ident.campus_owner(args.campus)
    actor = cli_actor()
    secret, link = share.shares(store).create(
        campus_id=args.campus, hours=hours, org_id=org_id, created_by=actor,
        recipient=args.to)
    store.audit(AuditEntry(
        ts=utcnow(), action="share_create", token_name=actor, campus_id=args.campus,
        detail=f"{link.id} for {hours:g} h" + (f" to {link.recipient}" if link.recipient else ""),
        org_id=org_id, credential_kind="cli"))
    out = sys.stdout
    print(f"share link {link.id} for {link.campus_id}, read-only, until "
          f"{link.expires_at:%Y-%m-%d %H:%M} UTC", file=out)
    print(f"secret (shown once): {secret}", file=out)
    print(f"browser: <server>/share#{secret}", file=out)
    print(f"API:     Authorization: Bearer {secret}", file=out)
    print(f"revoke:  gridmap share revoke {link.id}", file=out)
    return 0


def _list(store: CampusStore) -> int:
    from api import share
    from api.store import utcnow

    now = utcnow()
    links = share.shares(store).links()
    if not links:
        print("no share links")
    for link in links:
        print(f"{link.id}  {link.campus_id}  {link.state(now):8}  until "
              f"{link.expires_at:%Y-%m-%d %H:%M} UTC  by {link.created_by}"
              + (f"  to {link.recipient}" if link.recipient else ""))
    return 0


def _revoke(store: CampusStore, link_id: str) -> int:
    from api import share
    from api.cli import cli_actor
    from api.store import AuditEntry, utcnow

    link = share.find_link(store, link_id)
    actor = cli_actor()
    ended = share.shares(store).revoke(link.id, by=actor)
    store.audit(AuditEntry(
        ts=utcnow(), action="share_revoke", token_name=actor, campus_id=link.campus_id,
        detail=link.id + ("" if ended else " (already revoked)"), credential_kind="cli"))
    print(f"{link.id} {'revoked' if ended else 'was already revoked'}; refused everywhere "
          "within a second")
    return 0
