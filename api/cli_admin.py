"""``gridmap org``, ``user``, ``partnership`` and ``token``: who may see what, from the shell.

- ``gridmap org create NAME --kind district|police|fire|ems|dispatch``, ``gridmap org list``
  (and ``gridmap org oidc ORG ...``, single sign-on settings: :mod:`api.oidc`);
- ``gridmap user create EMAIL --org ORG --role ROLE [--name NAME]``, ``user list [--org ORG]``,
  ``user disable EMAIL``;
- ``gridmap partnership grant --district D --agency A [--campus C ...] [--from DATE]
  [--until DATE] [--ref TEXT]``, ``partnership revoke ID``, ``partnership list [--org ORG]``;
- ``gridmap token create NAME [--user EMAIL | --org ORG [--integration NAME]] [--role ROLE]``,
  ``token list``, ``token revoke NAME|ID``. A token without ``--user`` or ``--org`` is an
  integration token of the store's only organisation; on a store with no organisation at all
  (the previous release's way: import, then ``token create NAME --role admin``) the district
  "Local district" is made first, as the upgrade of such a store does.

The operator at the keyboard acts for every organisation (like ``gridmap import``); every
change is audited as ``cli:<user>``. Only :mod:`argparse` is imported at start-up.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.settings import Settings
    from api.store import CampusStore

#: The roles (api.store.Role's values; a test keeps them equal). ``viewer`` (the previous
#: release's read-only role) is still accepted and means officer.
ROLE_NAMES = ("admin", "editor", "dispatcher", "officer")
ORG_KINDS = ("district", "police", "fire", "ems", "dispatch")
#: What ``gridmap token create`` names the district it makes on a store without organisations.
LOCAL_DISTRICT = "Local district"


def role_name(text: str) -> str:
    value = text.strip().lower()
    return "officer" if value == "viewer" else value


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``org``, ``user``, ``partnership`` and ``token`` on the CLI's subcommands."""
    orgs = sub.add_parser("org", help="organisations: districts and agencies").add_subparsers(
        dest="org_command", required=True)
    p = orgs.add_parser("create", help="create an organisation")
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=ORG_KINDS,
                   help="district (owns campuses) or an agency: police, fire, ems, dispatch")
    p.set_defaults(func=cmd_org_create)
    p = orgs.add_parser("list", help="list organisations")
    p.set_defaults(func=cmd_org_list)
    p = orgs.add_parser("oidc", help="single sign-on (OpenID Connect) settings of an "
                                     "organisation")
    p.add_argument("org", help="organisation id or name")
    p.add_argument("--issuer", help="the identity provider's issuer URL")
    p.add_argument("--client-id")
    p.add_argument("--client-secret-file", metavar="FILE|-",
                   help="read the client secret from FILE ('-': stdin)")
    p.add_argument("--allowed-domain", help="only emails of this domain may sign in")
    p.add_argument("--remove", action="store_true", help="remove single sign-on")
    p.set_defaults(func=cmd_org_oidc)

    users = sub.add_parser("user", help="people of an organisation").add_subparsers(
        dest="user_command", required=True)
    p = users.add_parser("create", help="add a person to an organisation with a role")
    p.add_argument("email")
    p.add_argument("--org", required=True, help="organisation id or name")
    p.add_argument("--role", required=True, type=role_name, choices=ROLE_NAMES)
    p.add_argument("--name", default="", help="the person's name")
    p.set_defaults(func=cmd_user_create)
    p = users.add_parser("list", help="list people")
    p.add_argument("--org", help="only this organisation's")
    p.set_defaults(func=cmd_user_list)
    p = users.add_parser("disable", help="disable a person: their tokens and sessions stop")
    p.add_argument("email")
    p.set_defaults(func=cmd_user_disable)

    partnerships = sub.add_parser(
        "partnership", help="partnerships (MOUs): a district grants an agency read access"
    ).add_subparsers(dest="partnership_command", required=True)
    p = partnerships.add_parser("grant", help="grant an agency read access to a district's "
                                              "campuses")
    p.add_argument("--district", required=True, help="the district (id or name)")
    p.add_argument("--agency", required=True, help="the agency (id or name)")
    p.add_argument("--campus", action="append",
                   help="only this campus (repeatable; default: every campus of the district)")
    p.add_argument("--from", dest="starts_on", type=iso_date, help="first day (default today)")
    p.add_argument("--until", type=iso_date, help="last day of access (default: open-ended)")
    p.add_argument("--ref", default="", help="the signed agreement, e.g. 'MOU 2026-14'")
    p.set_defaults(func=cmd_partnership_grant)
    p = partnerships.add_parser("revoke", help="revoke a partnership: access ends at once")
    p.add_argument("partnership_id", metavar="ID")
    p.set_defaults(func=cmd_partnership_revoke)
    p = partnerships.add_parser("list", help="list partnerships")
    p.add_argument("--org", help="only those of this organisation")
    p.set_defaults(func=cmd_partnership_list)

    tokens = sub.add_parser("token", help="manage access tokens").add_subparsers(
        dest="token_command", required=True)
    p = tokens.add_parser("create", help="create a token and print it once")
    p.add_argument("name", help="what holds it, e.g. 'County CAD'")
    owner = p.add_mutually_exclusive_group()
    owner.add_argument("--user", metavar="EMAIL", help="a person's token (their role)")
    owner.add_argument("--org", help="an integration token of this organisation")
    p.add_argument("--integration", help="the integration's name (default: the token's name)")
    p.add_argument("--role", type=role_name, choices=ROLE_NAMES,
                   help="an integration token's role (default officer); a person's token has "
                        "the person's role")
    expiry = p.add_mutually_exclusive_group()
    expiry.add_argument("--expires-days", type=float, help="lifetime (default: settings)")
    expiry.add_argument("--no-expiry", action="store_true")
    p.add_argument("--campus", action="append", help="limit to this campus (repeatable)")
    p.set_defaults(func=cmd_token_create)
    p = tokens.add_parser("list", help="list tokens (never their secrets)")
    p.set_defaults(func=cmd_token_list)
    p = tokens.add_parser("revoke", help="revoke tokens by name or by id (tok_...)")
    p.add_argument("name_or_id")
    p.set_defaults(func=cmd_token_revoke)


def _audit(store: CampusStore, action: str, detail: str, campus_id: str | None = None) -> None:
    from api.cli import cli_audit

    cli_audit(store, action, campus_id=campus_id, detail=detail)


# --- organisations --------------------------------------------------------------------------


def cmd_org_create(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.store_identity import identity

    org = identity(store).create_org(args.name, args.kind)
    _audit(store, "org_create", f"{org.id} {org.name!r} ({org.kind.value})")
    print(f"{org.id}  {org.name} ({org.kind.value})")
    return 0


def cmd_org_list(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.store_identity import identity

    ident = identity(store)
    for org in ident.orgs():
        owned = len(ident.owned_campuses(org.id))
        extra = f", {owned} campus{'es' if owned != 1 else ''}" if not org.kind.is_agency else ""
        print(f"{org.id}  {org.name:<32} {org.kind.value}{extra}")
    return 0


def cmd_org_oidc(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.oidc import cmd_org_oidc as run

    return run(args, settings, store)


# --- people ---------------------------------------------------------------------------------


def cmd_user_create(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.store_identity import identity

    ident = identity(store)
    org = ident.find_org(args.org)
    person = ident.create_person(args.email, org.id, args.role, args.name)
    _audit(store, "user_create", f"{person.id} {person.email} {person.role.value} of {org.id}")
    print(f"{person.id}  {person.email} ({person.role.value} of {org.name})")
    return 0


def cmd_user_list(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.store_identity import identity

    ident = identity(store)
    org_id = ident.find_org(args.org).id if args.org else None
    names = {o.id: o.name for o in ident.orgs()}
    for person in ident.people(org_id):
        state = "" if person.active else "  disabled"
        print(f"{person.id}  {person.email:<32} {person.role.value:<10} "
              f"{names.get(person.org_id, person.org_id)}{state}")
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.cli import CliError
    from api.store_identity import identity

    ident = identity(store)
    person = ident.person_by_email(args.email)
    if person is None:
        raise CliError(f"no person {args.email!r}")
    changed = ident.disable_person(person.id)
    _audit(store, "user_disable", f"{person.id} {person.email}")
    print(f"{person.email}: " + ("disabled" if changed else "was disabled already"))
    return 0


# --- partnerships ---------------------------------------------------------------------------


def cmd_partnership_grant(args: argparse.Namespace, settings: Settings,
                          store: CampusStore) -> int:
    from api.cli import cli_actor
    from api.store_identity import identity

    ident = identity(store)
    district, agency = ident.find_org(args.district), ident.find_org(args.agency)
    grant = ident.grant(district_id=district.id, agency_id=agency.id, campuses=args.campus,
                        starts_on=args.starts_on, ends_on=args.until, reference=args.ref,
                        created_by=cli_actor())
    _audit(store, "partnership_grant", f"{grant.id}: {district.id} -> {agency.id}, "
           f"{describe_grant(grant)}")
    print(f"{grant.id}  {district.name} -> {agency.name}: {describe_grant(grant)}")
    return 0


def describe_grant(grant: object) -> str:
    from api.store_identity import Partnership

    assert isinstance(grant, Partnership)
    campuses = ", ".join(grant.campuses) if grant.campuses is not None else "every campus"
    until = grant.ends_on.isoformat() if grant.ends_on else "open-ended"
    ref = f", ref {grant.reference!r}" if grant.reference else ""
    return f"{campuses}, from {grant.starts_on.isoformat()} until {until}{ref}"


def cmd_partnership_revoke(args: argparse.Namespace, settings: Settings,
                           store: CampusStore) -> int:
    from api.cli import CliError
    from api.store_identity import identity

    ident = identity(store)
    if ident.partnership(args.partnership_id) is None:
        raise CliError(f"no partnership {args.partnership_id!r} (see gridmap partnership list)")
    changed = ident.revoke_partnership(args.partnership_id)
    _audit(store, "partnership_revoke", args.partnership_id)
    print(f"{args.partnership_id}: " + ("revoked" if changed else "was revoked already"))
    return 0 if changed else 1


def cmd_partnership_list(args: argparse.Namespace, settings: Settings,
                         store: CampusStore) -> int:
    from api.store import utcnow
    from api.store_identity import identity

    ident = identity(store)
    org_id = ident.find_org(args.org).id if args.org else None
    names = {o.id: o.name for o in ident.orgs()}
    today = utcnow().date()
    for p in ident.partnerships(org_id):
        print(f"{p.id}  {names.get(p.district_id)} -> {names.get(p.agency_id)}: "
              f"{describe_grant(p)} [{p.state(today)}]")
    return 0


# --- tokens ---------------------------------------------------------------------------------


def cmd_token_create(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    # an explicit --expires-days 0 (or less) is refused by create_token, not read as "default"
    from api.cli import CliError
    from api.store import Role
    from api.store_identity import OrgKind, identity
    from api.tokens import check_token_request, create_token

    days = None if args.no_expiry else (
        settings.token_ttl_days if args.expires_days is None else args.expires_days)
    ident = identity(store)
    try:
        check_token_request(store, args.name, expires_days=days, campuses=args.campus or None)
        if args.user is None and args.org is None and not ident.orgs():
            local = ident.create_org(LOCAL_DISTRICT, OrgKind.DISTRICT)
            print(f"no organisation yet: made the district {local.name!r} ({local.id}), "
                  "owner of this store's campuses")
        token, record = create_token(
            store, args.name, None if args.role is None else Role(args.role),
            expires_days=days, campuses=args.campus or None, user=args.user, org=args.org,
            integration=args.integration)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    owner = ident.token_owner(record.id)
    org = ident.org(owner.org_id) if owner else None
    whose = (f"person {args.user}" if owner and owner.user_id
             else f"integration {owner.integration!r}" if owner else "?")
    expiry = record.expires_at.date().isoformat() if record.expires_at else "never"
    _audit(store, "token_create", f"{record.id} {record.name!r} ({record.role.value}) of "
           f"{org.id if org else '?'}")
    print(f"token {record.id} for {record.name!r} ({record.role.value}, {whose} of "
          f"{org.name if org else '?'}, expires {expiry}, "
          f"campuses: {', '.join(record.campuses) if record.campuses else 'all visible'})")
    print("store it now; it is not shown again:")
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.store_identity import identity

    ident = identity(store)
    owners = ident.token_owners()
    names = {o.id: o.name for o in ident.orgs()}
    people = {p.id: p.email for p in ident.people()}
    for t in store.tokens():
        state = "revoked" if t.revoked_at else (
            f"expires {t.expires_at.date().isoformat()}" if t.expires_at else "no expiry")
        owner = owners.get(t.id)
        whose = ("no owner" if owner is None else
                 f"{people.get(owner.user_id, owner.user_id)}" if owner.user_id
                 else f"{owner.integration} ({names.get(owner.org_id, owner.org_id)})")
        print(f"{t.id}  {t.name:<24} {t.role.value:<10} {state:<18} {whose}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    target = args.name_or_id
    n = store.revoke_tokens(token_id=target) if target.startswith("tok_") else \
        store.revoke_tokens(name=target)
    _audit(store, "token_revoke", f"{target}: {n} revoked")
    print(f"revoked {n} token(s)")
    return 0 if n else 1
