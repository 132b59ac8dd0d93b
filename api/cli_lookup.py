"""``gridmap lookup``: what a caller said, looked up in the local store or on a server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # imported where used: `gridmap lookup` must start in well under 0.5 s
    from api.settings import Settings
    from api.store import CampusStore


def _elsewhere(item: dict[str, Any], c: dict[str, Any]) -> str:
    """Where a nearby item is, said only when it is not where the candidate is: its building
    when another, its level when another (and the stairs or elevator to take when known).
    ``"1st Floor via Stair 2"``, ``"Building B"``, or ``""`` for the same building and level."""
    bits: list[str] = []
    if item.get("building_id") and c.get("building_id") and \
            item["building_id"] != c["building_id"]:
        bits.append(f"Building {item.get('building') or item['building_id']}")
    # another level when the answer says so, or when the ordinals differ (an answer made
    # without the candidate's level, or by an older server, does not say)
    ordinal, here = item.get("level_ordinal"), c.get("level_ordinal")
    if item.get("same_level") is False or (
            ordinal is not None and here is not None and ordinal != here):
        level = item.get("level_name") or (
            f"level {item['level_ordinal']}" if item.get("level_ordinal") is not None else "")
        via = f"via {item['via']}" if item.get("via") else ""
        if level or via:
            bits.append(" ".join(b for b in (level, via) if b))
    return ", ".join(bits)


def _nearby(item: dict[str, Any] | None, c: dict[str, Any], *, cell_inside: bool = False) -> str:
    """``H7 (11 m)``, or ``H7 (11 m, 1st Floor via Stair 2)`` on another level; with
    ``cell_inside`` the cell goes in the brackets (``(29 m, G6)``, as doors are read out)."""
    if not item:
        return ""
    distance = item.get("distance_m")
    metres = f"{distance:.0f} m" if isinstance(distance, int | float) else "? m"
    inside = [metres, *([str(item.get("cell") or "")] if cell_inside else [])]
    if where := _elsewhere(item, c):
        inside.append(where)
    bracket = f"({', '.join(b for b in inside if b)})"
    return bracket if cell_inside else f"{item.get('cell')} {bracket}"


def candidate_line(c: dict[str, Any]) -> str:
    """One dispatcher-readable line: where it is, grid, USNG, way in, Knox box, AED, trauma kit.

    A nearby item on another level or in another building says so, with the stairs to take.
    """
    parts = [str(c.get("label", ""))]
    # flags the label does not already say ("label only, no outline" often is in it)
    if flags := [str(f) for f in c.get("flags") or () if str(f) not in parts[0]]:
        parts.append("; ".join(flags))
    if c.get("usng"):
        parts.append(f"USNG {c['usng']}")
    doors = []
    for d in c.get("nearest_doors", [])[:2]:
        name = f"door {d['number']}" if d.get("number") else "unnumbered door"
        doors.append(f"{name} {_nearby(d, c, cell_inside=True)}")
    if doors:
        parts.append(", ".join(doors))
    for key, name in (("nearest_knox_box", "Knox box"), ("nearest_aed", "AED"),
                      ("nearest_trauma_kit", "Trauma kit")):
        if text := _nearby(c.get(key), c):
            parts.append(f"{name} {text}")
    return " · ".join(parts)


def _local_lookup(args: argparse.Namespace, store: CampusStore) -> dict[str, Any]:
    """Answer from the local store; audited like an API call, as the local operator."""
    from api.audit import lookup_detail
    from api.cli import cli_audit
    from gridmap.index import CampusIndex
    from gridmap.lookup import lookup

    campus = store.campus(args.campus)
    result = lookup(CampusIndex(campus), args.query, limit=args.limit).to_dict()
    cli_audit(store, "lookup", campus_id=args.campus,
              detail=lookup_detail(args.query, result["status"]))
    return result


def _remote_token(args: argparse.Namespace) -> str:
    """``--token -`` reads the first line of stdin; else ``--token``, else ``$GRIDMAP_TOKEN``."""
    from api.cli import CliError

    if args.token == "-":
        token = sys.stdin.readline().strip()
        if not token:
            raise CliError("--token -: no token on stdin")
        return token
    token = args.token or os.environ.get("GRIDMAP_TOKEN")
    if not token:
        raise CliError("--url needs a token: set GRIDMAP_TOKEN or pass --token - (stdin)")
    return str(token)


def _remote_lookup(args: argparse.Namespace) -> dict[str, Any]:
    """Ask a running gridmap server, with a bearer token (see :func:`_remote_token`)."""
    import httpx

    from api.cli import CliError

    token = _remote_token(args)
    url = f"{args.url.rstrip('/')}/campuses/{quote(args.campus, safe='')}/lookup"
    try:
        r = httpx.get(url, params={"q": args.query, "limit": args.limit},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {args.url}: {exc}") from exc
    if r.status_code != 200:
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = r.text[:200]
        raise CliError(f"{args.url} answered {r.status_code}: {message}")
    body: dict[str, Any] = r.json()
    return body


def cmd_lookup(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    return _print_lookup(args, _local_lookup(args, store))


def _print_lookup(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"{result['status']}: {result['message']}")
        for i, candidate in enumerate(result["candidates"], 1):
            print(f"{i:>2}. {candidate_line(candidate)}")
    return 1 if result["status"] == "not_found" else 0
