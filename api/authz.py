"""Authorization, decided in one place: may this principal do this to this campus?

Every route asks through :meth:`api.context.AppContext.authorize` (refusals audited) or
:meth:`~api.context.AppContext.may` (a yes/no for what to show), which call :func:`decide`;
no route looks at roles itself. The answers:

- no principal: :class:`Unauthenticated` (401);
- a campus the principal may not see: :class:`CampusNotFound` (404, the same answer as a
  campus that does not exist, so its existence is not revealed);
- a right the principal lacks on what it may see: :class:`Forbidden` (403).

What a principal may see: the campuses its organisation owns (a district) or an active
partnership grants it (an agency), narrowed to the token's own campus list if it has one; a
share link's principal sees its one campus. Rights by role:

==============  ===================================================================
``READ``        anyone who sees the campus (every role)
``EDIT``        the owning district's editors and admins (import, edit, imagery, drafts)
``PUBLISH``     as ``EDIT``
``SHARE``       an admin of the owning district or of a partner agency that sees it
``ADMIN_ORG``   an organisation's admins, for their own organisation only
``READ_AUDIT``  an organisation's admins (a campus named: one their district owns)
``CREATE_ORG``  the admins of an organisation that runs the deployment
                (``GRIDMAP_OPERATOR_ORGS``)
==============  ===================================================================

:class:`AccessView` answers "which campuses does this organisation own / see", from the
identity store's caches (at most 1 s old), so a partnership granted, ended or revoked
anywhere is seen by every worker within a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from api.auth import Principal
from api.store import Role
from api.store_identity import IdentityStore
from gridmap.errors import CampusNotFound, Forbidden, Unauthenticated


class Action(StrEnum):
    READ = "read"
    EDIT = "edit"
    PUBLISH = "publish"
    ADMIN_ORG = "admin_org"
    SHARE = "share"
    READ_AUDIT = "read_audit"
    CREATE_ORG = "create_org"


#: Roles that may change a district's campuses (on campuses their district owns).
EDIT_ROLES = frozenset({Role.ADMIN, Role.EDITOR})


class AccessView:
    """Which campuses an organisation owns and sees (cached ≤ 1 s, see module docstring)."""

    def __init__(self, identity: IdentityStore, operators: Iterable[str] = ()) -> None:
        self.identity = identity
        #: ids or lower-cased names of the organisations that run the deployment
        self.operators = frozenset(o.strip().lower() for o in operators if o.strip())

    def is_operator(self, org_id: str) -> bool:
        if not self.operators:
            return False
        if org_id.lower() in self.operators:
            return True
        org = self.identity.org(org_id)
        return org is not None and org.name.lower() in self.operators

    def owned(self, org_id: str) -> frozenset[str]:
        return self.identity.owned_campuses(org_id)

    def visible(self, org_id: str) -> frozenset[str]:
        return self.identity.visible_campuses(org_id)

    def cached_visible(self, org_id: str) -> frozenset[str] | None:
        return self.identity.cached_visible_campuses(org_id)


def sees(principal: Principal, campus_id: str, access: AccessView) -> bool:
    """Whether the principal may see (read) a campus."""
    if principal.share_campus is not None:
        return campus_id == principal.share_campus
    if principal.org_id is None:
        return False
    if principal.campuses is not None and campus_id not in principal.campuses:
        return False
    return campus_id in access.visible(principal.org_id)


def sees_cached(principal: Principal, campus_id: str, access: AccessView) -> bool | None:
    """:func:`sees` without I/O: None when the answer is not cached (ask :func:`sees`)."""
    if principal.share_campus is not None:
        return campus_id == principal.share_campus
    if principal.org_id is None:
        return False
    if principal.campuses is not None and campus_id not in principal.campuses:
        return False
    visible = access.cached_visible(principal.org_id)
    return None if visible is None else campus_id in visible


def visible_campuses(principal: Principal, access: AccessView) -> frozenset[str]:
    """Every campus the principal may see (for lists: ``/campuses``, the home page)."""
    if principal.share_campus is not None:
        return frozenset({principal.share_campus})
    if principal.org_id is None:
        return frozenset()
    visible = access.visible(principal.org_id)
    if principal.campuses is not None:
        visible = visible & frozenset(principal.campuses)
    return visible


def decide(
    principal: Principal | None, action: Action, campus_id: str | None, access: AccessView,
    *, org_id: str | None = None,
) -> None:
    """Return if the principal may do ``action`` (to ``campus_id``, or to the organisation
    ``org_id`` for ``ADMIN_ORG``); else raise (see the module docstring)."""
    if principal is None:
        raise Unauthenticated("no credentials", user_message="authentication required")
    who = principal.actor
    if campus_id is not None and not sees(principal, campus_id, access):
        raise CampusNotFound(f"{who} may not see {campus_id}",
                             user_message=f"unknown campus {campus_id!r}")
    if action is Action.READ:
        return
    if principal.share_campus is not None:
        raise Forbidden(f"share link {who} may only read",
                        user_message="a share link gives read-only access")
    if principal.org_id is None:
        raise Forbidden(f"{who} belongs to no organisation",
                        user_message="this credential belongs to no organisation")
    role = principal.role
    if action in (Action.EDIT, Action.PUBLISH):
        if role not in EDIT_ROLES:
            raise Forbidden(f"{who} ({role.value}) may not {action.value}",
                            user_message=f"{action.value} needs the admin or editor role "
                            "of the district that owns the campus")
        if campus_id is None:
            if principal.org_kind is None or principal.org_kind.is_agency:
                raise Forbidden(f"{who} is not of a district",
                                user_message="only a district's editors change campuses")
            return
        if campus_id not in access.owned(principal.org_id):
            raise Forbidden(f"{who} may read but not {action.value} {campus_id}",
                            user_message="only the district that owns the campus changes it")
        return
    if role is not Role.ADMIN:
        raise Forbidden(f"{who} ({role.value}) is no admin",
                        user_message="admin role required")
    if action is Action.SHARE:
        if campus_id is None:
            raise Forbidden(f"{who}: a share link is for one campus",
                            user_message="a share link is for one campus")
        return
    if action is Action.ADMIN_ORG:
        if org_id is not None and org_id != principal.org_id:
            raise Forbidden(f"{who} is no admin of {org_id}",
                            user_message="an admin manages their own organisation only")
        return
    if action is Action.READ_AUDIT:
        if campus_id is not None and campus_id not in access.owned(principal.org_id):
            raise Forbidden(f"{who}: the audit of {campus_id} is its district's",
                            user_message="a campus's audit log is for its district's admins")
        return
    if action is Action.CREATE_ORG:
        if not access.is_operator(principal.org_id):
            raise Forbidden(f"{who}: {principal.org_id} does not run this deployment",
                            user_message="organisations are created by the admins of the "
                            "organisation that runs this deployment (GRIDMAP_OPERATOR_ORGS)")
        return
    raise AssertionError(f"unhandled action {action}")  # pragma: no cover


def may(principal: Principal, action: Action, campus_id: str | None, access: AccessView,
        *, org_id: str | None = None) -> bool:
    """:func:`decide` as a yes/no (for what to show; refusals go through ``decide``)."""
    try:
        decide(principal, action, campus_id, access, org_id=org_id)
    except (Unauthenticated, Forbidden, CampusNotFound):
        return False
    return True
