"""The ``gridmap`` command: import, lookup, export, imagery, tokens, serve, demo.

All storage goes through :class:`api.store.CampusStore`; settings come from ``GRIDMAP_*``.
Exit codes: 0 success, 1 lookup found nothing, 2 bad input (nothing stored).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gridmap.errors import CampusNotFound, GridmapError

if TYPE_CHECKING:  # imported where used: `gridmap lookup` must start in well under 0.5 s
    from api.settings import Settings
    from api.store import CampusStore

from api.cli_admin import ROLE_NAMES as ROLE_NAMES  # the roles (a test keeps them the store's)
from api.cli_export import EXPORT_FORMATS as EXPORT_FORMATS
from api.cli_export import MAX_REVISION as MAX_REVISION
from api.cli_export import PAPER_SIZE_NAMES as PAPER_SIZE_NAMES
from api.cli_export import _write_private as _write_private
from api.cli_export import cmd_export as cmd_export
from api.cli_export import cmd_package as cmd_package
from api.cli_export import cmd_print as cmd_print
from api.cli_export import export_format as export_format
from api.cli_export import level_ordinal as level_ordinal
from api.cli_export import read_passphrase as read_passphrase
from api.cli_export import revision_number as revision_number
from api.cli_imagery import SAMPLE_IMAGERY as SAMPLE_IMAGERY
from api.cli_imagery import SAMPLE_IMAGERY_ATTRIBUTION as SAMPLE_IMAGERY_ATTRIBUTION
from api.cli_imagery import _print_imagery as _print_imagery
from api.cli_imagery import attach_imagery_file as attach_imagery_file
from api.cli_imagery import attach_sample_imagery as attach_sample_imagery
from api.cli_imagery import cmd_imagery as cmd_imagery
from api.cli_import import _manifest_campus_id as _manifest_campus_id
from api.cli_import import _print_import as _print_import
from api.cli_import import _published_now as _published_now
from api.cli_import import campus_owner_for_import as campus_owner_for_import
from api.cli_import import cmd_import as cmd_import
from api.cli_import import import_manifest as import_manifest
from api.cli_import import publish_imported as publish_imported
from api.cli_import import source_digest as source_digest
from api.cli_lookup import _local_lookup as _local_lookup
from api.cli_lookup import _print_lookup as _print_lookup
from api.cli_lookup import _remote_lookup as _remote_lookup
from api.cli_lookup import candidate_line as candidate_line
from api.cli_lookup import cmd_lookup as cmd_lookup

DEMO_CAMPUS = "lincoln-ridge"
DEMO_TOKEN_NAME = "demo"
DEMO_DISTRICT = "Demo School District"
DEMO_ADMIN = "admin@demo-district.example"
_REPO_ROOT = Path(__file__).resolve().parents[1]


class CliError(Exception):
    """A problem to report on stderr with exit code 2."""


def cli_actor() -> str:
    """Who is at the keyboard, for the audit log: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry or login name (some containers)
        user = "unknown"
    return f"cli:{user}"


def cli_audit(store: CampusStore, action: str, *, campus_id: str | None, detail: str,
              actor: str | None = None) -> None:
    """Record an action taken at the keyboard in the audit log (by ``actor``, default
    :func:`cli_actor`; client "local store")."""
    from api.store import AuditEntry, utcnow

    store.audit(AuditEntry(ts=utcnow(), action=action, token_name=actor or cli_actor(),
                           campus_id=campus_id, detail=detail, client="local store"))



# --- serve / demo ---------------------------------------------------------------------------


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, log_level=settings.log_level.lower())


def cmd_serve(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    store.close()
    serve(settings, args.host, args.port)
    return 0


def sample_manifest(settings: Settings) -> Path:
    path = settings.sample_manifest
    if not path.is_absolute() and not path.exists():
        path = _REPO_ROOT / path
    return path


def _demo_district(store: CampusStore, campus_id: str) -> str:
    """The district owning the sample campus: its owner if stored, else the demo district
    (made if missing)."""
    from api.store_identity import OrgKind, identity

    ident = identity(store)
    owner = ident.campus_owner(campus_id)
    if owner is not None:
        return owner
    for org in ident.orgs():
        if org.name == DEMO_DISTRICT:
            return org.id
    return ident.create_org(DEMO_DISTRICT, OrgKind.DISTRICT).id


def _demo_admin(store: CampusStore, district: str) -> str:
    """The demo district's admin person (made if missing): the demo token is theirs."""
    from api.store import Role
    from api.store_identity import identity

    ident = identity(store)
    person = ident.person_by_email(DEMO_ADMIN)
    if person is None:
        person = ident.create_person(DEMO_ADMIN, district, Role.ADMIN, "Demo admin")
    return person.id


def cmd_demo(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    manifest = sample_manifest(settings)
    district = _demo_district(store, _manifest_campus_id(manifest) or DEMO_CAMPUS)
    # published explicitly: the demo serves the sample at once
    info, result = import_manifest(store, manifest, only_if_changed=True, org=district,
                                   publish=True)
    if info is None:
        campus_id = _manifest_campus_id(manifest) or DEMO_CAMPUS
        print(f"{campus_id}: sample unchanged, serving revision "
              f"{store.current_revision(campus_id)}")
    else:
        campus_id = info.campus_id
        _print_import(info, result, sys.stdout)
        print(f"{campus_id}: published revision {info.number}")
    imagery = attach_sample_imagery(store, settings, campus_id, manifest)
    if imagery is not None:
        _print_imagery(imagery, sys.stdout)
    # only hashes are stored, so a fresh token each run; the previous demo token stops working
    store.revoke_tokens(name=DEMO_TOKEN_NAME)
    from api.tokens import create_token

    admin = _demo_admin(store, district)
    token, _ = create_token(store, DEMO_TOKEN_NAME, user=admin,
                            expires_days=settings.token_ttl_days)
    base = f"http://{args.host or settings.host}:{args.port or settings.port}"
    print()
    print(f"admin token (demo, {DEMO_ADMIN}, admin of the district owning the campus): {token}")
    print(f"map:   {base}/campuses/{campus_id}/map")
    print(f"login: {base}/login?next=/campuses/{campus_id}/map")
    print(f"api:   curl -H 'Authorization: Bearer {token}' {base}/campuses/{campus_id}")
    sys.stdout.flush()
    if args.no_serve:
        return 0
    store.close()
    serve(settings, args.host, args.port)
    return 0


# --- argument parsing -----------------------------------------------------------------------

Command = Callable[[argparse.Namespace, "Settings", "CampusStore"], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridmap", description="Gridded campus maps for emergency responders."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import", help="import a campus manifest as a new draft revision "
                                      "(--publish: and publish it)")
    p.add_argument("manifest", help="path to campus.toml")
    p.add_argument("--if-changed", action="store_true",
                   help="skip if the source files match the published revision's")
    p.add_argument("--org", help="the district that owns the campus (default: its owner, or "
                                 "the only district)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--publish", action="store_true",
                     help="publish the new revision at once, if the revision current when the "
                          "import began still is (as gridmap publish --expect-current)")
    how.add_argument("--draft", action="store_true",
                     help="store a draft for review (gridmap diff) and publishing (gridmap "
                          "publish): the default")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("lookup", help="look up a room, door, cell, point kind, USNG or lat/lon")
    p.add_argument("campus", help="campus id")
    p.add_argument("query", help="what the caller said, e.g. 'rm 214'")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--url", help="ask a running server (e.g. http://127.0.0.1:8000) "
                                 "instead of the local store")
    p.add_argument("--token", metavar="TOKEN|-",
                   help="bearer token for --url; prefer $GRIDMAP_TOKEN (the default), since a "
                        "token on the command line is visible to other users in ps; "
                        "'-' reads it from stdin")
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("export", help="write a campus gazetteer for dispatch systems")
    p.add_argument("campus", help="campus id")
    p.add_argument("--format", choices=list(EXPORT_FORMATS),
                   help="gazetteer: CSV (spreadsheets, GDAL); gazetteer-json: GeoJSON points. "
                        "Default: from the -o suffix (.csv, .json, .geojson), else CSV")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="file to write (readable by you only); '-' or none: stdout")
    p.add_argument("--revision", type=revision_number,
                   help="a stored revision (default: current)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("imagery", help="attach an orthophoto (GeoTIFF, any CRS) to a campus")
    p.add_argument("campus", help="campus id")
    p.add_argument("file", help="the GeoTIFF; stored reprojected as a new imagery version")
    p.add_argument("--attribution", default="", help="credit shown on the map")
    p.set_defaults(func=cmd_imagery)

    p = sub.add_parser("package", help="write a campus's offline package for laptops (a zip "
                                       "whose index.html opens from disk)")
    p.add_argument("campus", help="campus id")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the zip to write (readable by you only)")
    p.add_argument("--passphrase-file", metavar="FILE|-",
                   help="seal the package with the passphrase in FILE ('-': stdin)")
    p.add_argument("--revision", type=revision_number,
                   help="a stored revision (default: current)")
    p.add_argument("--min-zoom", type=int,
                   help="lowest zoom drawn (default: the whole campus in view)")
    p.add_argument("--max-zoom", type=int,
                   help="highest zoom drawn (default: every room name legible); each zoom "
                        "further roughly quadruples size and build time")
    p.add_argument("--no-book", action="store_true", help="leave the map book out")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("print", help="write a campus's printed map book (PDF: overview, a "
                                     "sheet per building level, room and door indexes)")
    p.add_argument("campus", help="campus id")
    p.add_argument("--size", choices=PAPER_SIZE_NAMES, default="letter",
                   help="paper, landscape: letter (8.5x11 in), tabloid (11x17 in) or arch-d "
                        "(24x36 in); default letter")
    p.add_argument("--level", type=level_ordinal,
                   help="only this level ordinal's sheets (0 = ground floor); default: every "
                        "level")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the PDF to write (readable by you only); '-': stdout")
    p.add_argument("--revision", type=revision_number,
                   help="a stored revision (default: current)")
    p.set_defaults(func=cmd_print)

    from api.cli_publish import add_commands as add_publish_commands

    add_publish_commands(sub)  # diff, publish, rollback, verify

    from api.cli_admin import add_commands as add_admin_commands

    add_admin_commands(sub)  # org, user, partnership, token

    from api import cli_share

    cli_share.add_parser(sub)  # gridmap share CAMPUS --hours N | share list | share revoke ID

    from api import cli_workspace

    cli_workspace.add_parser(sub)  # gridmap workspace new|add|show|set|point|import|edit ...

    from api.cli_jobs import add_commands as add_jobs_commands

    add_jobs_commands(sub)  # jobs import, jobs show, jobs worker

    for name, func, text in (
        ("serve", cmd_serve, "run the web service"),
        ("demo", cmd_demo, "import the sample campus for a demo district, make its admin's "
                           "token, serve"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        if name == "demo":
            p.add_argument("--no-serve", action="store_true", help="set up, print, and exit")
        p.set_defaults(func=func)
    return parser


#: Commands that only read the store: they never create one where there is none.
READ_ONLY_COMMANDS = frozenset({"lookup", "export", "package", "print", "token list",
                                "token revoke", "diff", "publish", "rollback", "verify"})


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, "token_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


def store_location(settings: Settings) -> str:
    """Where this process looks for its store, and why there, in words."""
    from api.store import sqlite_path

    path = sqlite_path(settings.resolved_database_url)
    if path is None:
        from sqlalchemy.engine import make_url

        url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        return f"the database {url} (GRIDMAP_DATABASE_URL)"
    where = f"the SQLite file {path.resolve()}"
    if settings.database_url:
        return f"{where} (GRIDMAP_DATABASE_URL)"
    if "GRIDMAP_DATA_DIR" in os.environ:
        return f"{where} (GRIDMAP_DATA_DIR={os.environ['GRIDMAP_DATA_DIR']})"
    return (f"{where} (GRIDMAP_DATA_DIR is not set, so the data directory is "
            f"{settings.data_dir} in the current directory {Path.cwd()})")


_POINT_ELSEWHERE = ("Run gridmap from the folder that holds its var/ directory, or point it at "
                    "the store: export GRIDMAP_DATA_DIR=/path/to/var (or GRIDMAP_DATABASE_URL).")


def _open_store(command: str, settings: Settings) -> CampusStore:
    from api.store import open_store, sqlite_path

    path = sqlite_path(settings.resolved_database_url)
    if command in READ_ONLY_COMMANDS and path is not None and not path.exists():
        raise CliError(f"no gridmap store at {store_location(settings)}. {_POINT_ELSEWHERE}")
    return open_store(settings.resolved_database_url)


def _unknown_campus_hint(store: CampusStore, settings: Settings) -> str:
    """What the store holds and where it is, to follow an unknown-campus error."""
    try:
        ids = [c.id for c in store.list_campuses()]
    except Exception:  # the hint must not hide the error it explains
        return ""
    held = f"it holds {', '.join(ids)}" if ids else "it holds no campus"
    return f" (looked in {store_location(settings)}; {held}). {_POINT_ELSEWHERE}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. A reader that stops reading (``gridmap lookup ... |
    head -2``) ends the command quietly, exit code 1, whatever the command."""
    try:
        try:
            return _run(argv)
        finally:  # what is still buffered goes now, while a closed pipe can still be caught
            sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        return 1


def _stdout_to_devnull() -> None:
    """After a broken pipe, the rest of stdout (and its flush at exit) goes to devnull
    instead of raising again, as the Python docs on SIGPIPE recommend."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # a stdout with no file behind it
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - kept open as stdout
    finally:
        os.close(devnull)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    command = _command_name(args)
    if command == "lookup" and not args.url:
        from api import cli_fast

        fast = cli_fast.local_lookup(args.campus, args.query, args.limit, cli_actor())
        if fast is not None:
            return _print_lookup(args, fast)
    try:
        from api.settings import Settings

        settings = Settings()
        if command == "lookup" and args.url:  # ask a server: no local store at all
            return _print_lookup(args, _remote_lookup(args))
        store = _open_store(command, settings)
        func: Command = args.func
        try:
            return func(args, settings, store)
        except CampusNotFound as exc:
            raise CliError(f"{exc}{_unknown_campus_hint(store, settings)}") from exc
        finally:
            store.close()
    except (CliError, GridmapError) as exc:
        # a local operator: the full message (file, layer, entity) helps more than the short one
        print(f"gridmap {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # run as api.cli, not as this __main__ copy: the command modules raise api.cli.CliError
    from api.cli import main as cli_main

    sys.exit(cli_main())
