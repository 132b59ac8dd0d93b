"""Does a worker stay as fast, and as small, with many campuses stored? Ratios in one run.

Stores, each served by its own uvicorn worker (the real app, bearer token, audit):

- SQLite with 1 campus, and with 1,000 campuses;
- PostgreSQL + PostGIS (``GRIDMAP_TEST_POSTGRES_URL``, a fresh schema each, dropped at the
  end) with 1 campus, and with 10,000 campuses (skipped, saying so, without that variable).

The measured campus is the sample campus, stored with ``save_revision``; the other campuses
are a small generated campus stored once and copied under new ids with bulk ``INSERT ...
SELECT`` (campus, revision and feature rows, PostGIS columns included), which is what
``save_revision`` would have written, only faster (their feature properties still name the
small campus's id; no request reads them, they are there to be stored). They are owned by a
few districts, and two agencies hold partnerships (police: all of the first district's
campuses; fire: a list of some of them), as a county would have. The tokens are integration
tokens of the district owning the sample campus and of the police. What is measured is the
app's normal read path.

Measured in each of many short rounds, in turn (medians of the per-round ratios, so the two
rates of a ratio are always seconds apart):

1. lookups/s (the dispatcher phrasings of ``bench_lookup``; the district's token, and a
   partner agency's) and cached tiles/s at N campuses as a ratio to the same requests at 1
   campus on the same backend. Target >= 0.9. Each round's measure is taken in chunks, the
   1-campus and the N-campus worker alternating, so a burst of load on a shared machine hits
   both alike. Also printed: the worker's CPU time per request over all rounds (from
   ``/proc/PID/stat``) and its ratio, requests per CPU second — what the rate ratio comes to
   on an idle machine, and steadier on a busy one.
2. after the rounds, each worker's resident memory (``VmRSS`` of ``/proc/PID/status``): it
   must not grow with the number of campuses stored (flagged when the N-campus worker is more
   than 10 % and 8 MB larger than the 1-campus one).
3. the authorization check's share of a lookup over HTTP. Method (no test-only switch in the
   app): the CPU time of exactly what the lookup route runs to authorize — ``sees_cached``
   on the event-loop path, plus ``decide(..., Action.READ, ...)`` which the full path runs —
   timed in-process on the same N-campus database with the same token's principal and warm
   caches; plus, amortised, the reload of the organisation's visible campuses that the
   ≤ 1 s cache makes once a second per worker (timed the same way, divided by the
   requests/s the worker served); against the worker's CPU time per lookup request over
   HTTP (from ``/proc/PID/stat`` across the rounds). The same is reported for the partner
   agency's token (its campuses come through a partnership). Target <= 10 %.

Run: ``python -m bench.bench_scale`` (``make bench``); ``--rounds``, ``--requests``,
``--campuses``/``--pg-campuses`` tune it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.bench_lookup import (  # noqa: E402
    QUERIES,
    build_campus,
    cpu_seconds,
    rate,
    uvicorn_server,
)

#: districts owning the stored campuses (the sample campus belongs to the first)
DISTRICTS = 4
TARGET_RATIO = 0.9
TARGET_AUTHZ_SHARE = 0.10


@dataclass
class Store:
    """One prepared store: its URL, the tokens, and what the workers measured."""

    label: str
    url: str
    campuses: int
    tokens: dict[str, str] = field(default_factory=dict)
    org_ids: dict[str, str] = field(default_factory=dict)


def rss_kib(pid: int) -> int | None:
    """A process's resident set size in KiB (``VmRSS``); None where /proc is missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# --- making the stores ---------------------------------------------------------------------


def fill_store(url: str, campus: Any, filler: Any, total: int) -> tuple[dict[str, str],
                                                                        dict[str, str]]:
    """Store ``campus`` and ``total - 1`` copies of ``filler`` under new ids, owned by
    :data:`DISTRICTS` districts, with a police and a fire partnership; returns the tokens
    (district, police) and organisation ids."""
    from api.store import SqlCampusStore
    from api.store_identity import OrgKind, identity
    from api.tokens import create_token

    store = SqlCampusStore(url)
    try:
        ident = identity(store)
        districts = [ident.create_org(f"Bench district {i + 1}", OrgKind.DISTRICT)
                     for i in range(DISTRICTS)]
        police = ident.create_org("Bench police", OrgKind.POLICE)
        fire = ident.create_org("Bench fire", OrgKind.FIRE)
        store.save_revision(campus, source="bench")
        ident.assign_campus(campus.id, districts[0].id)
        if total > 1:
            store.save_revision(filler, source="bench")
            ident.assign_campus(filler.id, districts[1 % DISTRICTS].id)
            copies = [(f"bench-{i:05d}", districts[i % DISTRICTS].id) for i in range(total - 2)]
            copy_campus(store.engine, filler.id, copies)
        ident.grant(district_id=districts[0].id, agency_id=police.id, reference="bench MOU")
        some = [campus.id, *[cid for cid, _ in _owned_copies(total, districts[0].id)][:50]]
        ident.grant(district_id=districts[0].id, agency_id=fire.id, campuses=some,
                    reference="bench MOU (some campuses)")
        district_token, _ = create_token(store, "bench district", org=districts[0].id,
                                         integration="bench-cad")
        police_token, _ = create_token(store, "bench police", org=police.id,
                                       integration="bench-cad")
        stored = len(store.list_campuses())
        if stored != total:
            raise RuntimeError(f"{stored} campuses stored, {total} wanted")
    finally:
        store.close()
    return ({"district": district_token, "police": police_token},
            {"district": districts[0].id, "police": police.id})


def _owned_copies(total: int, org_id: str) -> Iterator[tuple[str, str]]:
    for i in range(max(total - 2, 0)):
        if i % DISTRICTS == 0:
            yield f"bench-{i:05d}", org_id


def copy_campus(engine: Any, source_id: str, copies: list[tuple[str, str]]) -> None:
    """Copy a stored campus's current rows (campus, revisions, features, every column the
    database has, PostGIS ones too) under each new id, owned by the given organisation: a few
    ``INSERT ... SELECT`` statements through a temporary table of the new ids."""
    from sqlalchemy import inspect, text

    with warnings.catch_warnings():  # PostGIS's geometry type: only the names are needed
        warnings.simplefilter("ignore")
        columns = {t: [c["name"] for c in inspect(engine).get_columns(t)]
                   for t in ("campuses", "revisions", "features")}
    key = {"campuses": "id", "revisions": "campus_id", "features": "campus_id"}
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE bench_ids (id VARCHAR(100) PRIMARY KEY, "
                          "org_id VARCHAR(40))"))
        conn.execute(text("INSERT INTO bench_ids (id, org_id) VALUES (:id, :org)"),
                     [{"id": cid, "org": org} for cid, org in copies])
        for table in ("campuses", "revisions", "features"):
            cols = [c for c in columns[table] if c != "pk"]
            chosen = ", ".join("b.id" if c == key[table] else f"t.{c}" for c in cols)
            conn.execute(text(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {chosen} "
                f"FROM {table} t CROSS JOIN bench_ids b WHERE t.{key[table]} = :src"),
                {"src": source_id})
        conn.execute(text("INSERT INTO campus_owners (campus_id, org_id) "
                          "SELECT id, org_id FROM bench_ids"))
        conn.execute(text("DROP TABLE bench_ids"))


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL database ``server`` names, as a store URL; dropped
    afterwards (as tests/conftest.py does)."""
    from sqlalchemy import create_engine

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


# --- the authorization's share -------------------------------------------------------------


def authz_cpu(url: str, token: str, campus_id: str, n: int = 20_000) -> tuple[float, float]:
    """CPU seconds of the lookup route's authorization with warm caches (``sees_cached`` +
    ``decide`` READ), per request; and CPU seconds of one reload of the organisation's visible
    campuses (what the ≤ 1 s cache costs once a second)."""
    from api.auth import verify_token
    from api.authz import AccessView, Action, decide, sees_cached
    from api.store import SqlCampusStore
    from api.store_identity import identity

    store = SqlCampusStore(url)
    try:
        principal = verify_token(store, token)
        if principal.org_id is None:
            raise RuntimeError("the bench token belongs to no organisation")
        ident = identity(store)
        access = AccessView(ident)
        decide(principal, Action.READ, campus_id, access)  # warms the visible campuses
        start = time.process_time()
        for _ in range(n):
            if sees_cached(principal, campus_id, access) is not True:
                raise RuntimeError("the visible campuses are not cached")
            decide(principal, Action.READ, campus_id, access)
        per_request = (time.process_time() - start) / n
        reloads = []
        for _ in range(5):
            ident._visible.drop()
            start = time.process_time()
            ident.visible_campuses(principal.org_id)
            reloads.append(time.process_time() - start)
        return per_request, statistics.median(reloads)
    finally:
        store.close()


# --- the run -------------------------------------------------------------------------------


def tile_path(campus: Any) -> str:
    from bench.bench_tiles import campus_tiles

    tiles = campus_tiles(campus, 19)
    x, y = tiles[len(tiles) // 2]
    return f"/campuses/{campus.id}/levels/0/tiles/19/{x}/{y}.png"


def measure(pairs: list[tuple[Store, Store]], campus: Any, rounds: int, requests: int,
            data_dir: Path) -> dict[str, Any]:
    """Serve each store by its own worker and measure in rounds (see the module docstring)."""
    lookup_path = f"/campuses/{campus.id}/lookup"
    path = tile_path(campus)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        servers: dict[str, tuple[httpx.Client, httpx.Client, int]] = {}
        for store in [s for pair in pairs for s in pair]:
            env = {"GRIDMAP_DATA_DIR": str(data_dir / store.label),
                   "GRIDMAP_DATABASE_URL": store.url, "GRIDMAP_LOG_LEVEL": "WARNING",
                   "GRIDMAP_JOB_WORKERS": "0"}
            (data_dir / store.label).mkdir(exist_ok=True)
            base, pid = stack.enter_context(uvicorn_server(
                "api.app:create_app", app_dir=REPO, env=env, ready_path="/healthz"))
            district = stack.enter_context(httpx.Client(
                base_url=base, timeout=120.0,
                headers={"Authorization": f"Bearer {store.tokens['district']}"}))
            police = stack.enter_context(httpx.Client(
                base_url=base, timeout=120.0,
                headers={"Authorization": f"Bearer {store.tokens['police']}"}))
            servers[store.label] = (district, police, pid)

        def getter(client: httpx.Client, kind: str) -> Callable[[int], None]:
            def get_tile(_: int) -> None:
                client.get(path).raise_for_status()

            def get_lookup(i: int) -> None:
                client.get(lookup_path, params={"q": QUERIES[i % len(QUERIES)]}
                           ).raise_for_status()

            return get_tile if kind == "tile" else get_lookup

        for district, police, _ in servers.values():  # load, index, draw the tile once
            for client in (district, police):
                for kind in ("lookup", "tile"):
                    rate(getter(client, kind), 50)
        rates: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}  # worker CPU seconds, requests
        kinds = ("lookup", "tile", "lookup_police")
        chunks = 5  # each measure in chunks, 1 and N alternating: a burst hits both alike
        for _ in range(rounds):
            for pair in pairs:
                for kind in kinds:
                    took = {store.label: 0.0 for store in pair}
                    for chunk in range(chunks):
                        for store in (pair if chunk % 2 == 0 else pair[::-1]):
                            district, police, pid = servers[store.label]
                            client = police if kind == "lookup_police" else district
                            n = requests // chunks
                            before = cpu_seconds(pid)
                            took[store.label] += n / rate(getter(client, kind.split("_")[0]), n)
                            after = cpu_seconds(pid)
                            if before is not None and after is not None:
                                spent = cpu.setdefault((store.label, kind), [0.0, 0.0])
                                spent[0] += after - before
                                spent[1] += n
                    for store in pair:
                        rates.setdefault((store.label, kind), []).append(
                            requests // chunks * chunks / took[store.label])
        for one, many in pairs:
            row: dict[str, Any] = {"campuses": many.campuses}
            for kind in kinds:
                ones, manys = rates[(one.label, kind)], rates[(many.label, kind)]
                row[f"{kind}_per_s_1"] = statistics.median(ones)
                row[f"{kind}_per_s_n"] = statistics.median(manys)
                row[f"{kind}_ratio"] = statistics.median(
                    m / o for m, o in zip(manys, ones, strict=True))
                if (one.label, kind) in cpu and (many.label, kind) in cpu:
                    (c1, n1), (cn, nn) = cpu[(one.label, kind)], cpu[(many.label, kind)]
                    row[f"{kind}_cpu_ms_1"] = c1 / n1 * 1e3
                    row[f"{kind}_cpu_ms_n"] = cn / nn * 1e3
                    row[f"{kind}_cpu_ratio"] = c1 / n1 / (cn / nn)
            row["rss_kib_1"] = rss_kib(servers[one.label][2])
            row["rss_kib_n"] = rss_kib(servers[many.label][2])
            for who in ("district", "police"):
                kind = "lookup" if who == "district" else "lookup_police"
                server_cpu = row.get(f"{kind}_cpu_ms_n")
                check, reload = authz_cpu(many.url, many.tokens[who], campus.id)
                per_s = row[f"{kind}_per_s_n"]
                authz = check + reload / max(per_s, 1.0)  # one reload a second, amortised
                row[f"authz_us_{who}"] = check * 1e6
                row[f"authz_reload_ms_{who}"] = reload * 1e3
                if server_cpu:
                    row[f"server_cpu_ms_per_lookup_{who}"] = server_cpu
                    row[f"authz_share_{who}"] = authz / (server_cpu / 1e3)
            results[many.label] = row
    return results


def report(results: dict[str, Any], skipped: str | None, rounds: int, seconds: float) -> bool:
    """Print the figures; whether every target is met."""
    ok = True
    print(f"scale bench: medians of {rounds} rounds of per-round ratios ({seconds:.0f} s)")
    for label, row in results.items():
        print(f"  {label}: {row['campuses']:,} campuses vs 1 campus")
        for kind, name in (("lookup", "lookup"), ("tile", "cached tile"),
                           ("lookup_police", "lookup, partner agency")):
            ratio = row[f"{kind}_ratio"]
            miss = ratio < TARGET_RATIO
            ok &= not miss
            print(f"    {name:<24} {row[f'{kind}_per_s_n']:7.0f}/s vs "
                  f"{row[f'{kind}_per_s_1']:7.0f}/s  ratio {ratio:.2f}x"
                  f"{'  << MISSES >= 0.9' if miss else ''}")
            if f"{kind}_cpu_ms_n" in row:
                cpu_ratio = row[f"{kind}_cpu_ratio"]
                print(f"    {'':<24} worker CPU {row[f'{kind}_cpu_ms_n']:.2f} ms vs "
                      f"{row[f'{kind}_cpu_ms_1']:.2f} ms a request: requests per CPU second "
                      f"{cpu_ratio:.2f}x{'  (below 0.9 too)' if cpu_ratio < TARGET_RATIO else ''}")
        one, many = row["rss_kib_1"], row["rss_kib_n"]
        if one and many:
            grew = many > one * 1.10 and many - one > 8 * 1024
            ok &= not grew
            print(f"    worker RSS after the requests: {many / 1024:.1f} MB vs {one / 1024:.1f} MB"
                  f"{'  << GROWS with the campuses stored' if grew else ' (no growth)'}")
        for who in ("district", "police"):
            share = row.get(f"authz_share_{who}")
            if share is None:
                continue
            miss = share > TARGET_AUTHZ_SHARE
            ok &= not miss
            print(f"    authorization ({who} token): {row[f'authz_us_{who}']:.1f} µs a request"
                  f" + reload {row[f'authz_reload_ms_{who}']:.2f} ms a second, of "
                  f"{row[f'server_cpu_ms_per_lookup_{who}']:.2f} ms worker CPU a lookup: "
                  f"{share * 100:.2f} %{'  << MISSES <= 10 %' if miss else ''}")
    if skipped:
        print(f"  PostgreSQL part skipped: {skipped}")
    print("  all targets met" if ok else "  SOME TARGETS MISSED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--requests", type=int, default=250,
                        help="HTTP requests per measure and round")
    parser.add_argument("--campuses", type=int, default=1000, help="SQLite store size")
    parser.add_argument("--pg-campuses", type=int, default=10_000, help="PostgreSQL store size")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    if args.campuses < 2 or args.pg_campuses < 2:
        parser.error("a store to compare holds at least 2 campuses")

    from tests.campus_factory import small_campus

    started = time.perf_counter()
    campus, _ = build_campus()
    filler = small_campus()
    server = os.environ.get("GRIDMAP_TEST_POSTGRES_URL")
    skipped = None if server else ("GRIDMAP_TEST_POSTGRES_URL is not set (a PostgreSQL with "
                                   "PostGIS to make schemas in)")
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-") as tmp, ExitStack() as stack:
        data = Path(tmp)
        pairs: list[tuple[Store, Store]] = []
        sqlite = [Store("sqlite-1", f"sqlite:///{data / 'one.db'}", 1),
                  Store(f"sqlite-{args.campuses}", f"sqlite:///{data / 'many.db'}",
                        args.campuses)]
        pairs.append((sqlite[0], sqlite[1]))
        if server:
            pg = [Store("postgis-1", stack.enter_context(postgres_schema(server)), 1),
                  Store(f"postgis-{args.pg_campuses}",
                        stack.enter_context(postgres_schema(server)), args.pg_campuses)]
            pairs.append((pg[0], pg[1]))
        for pair in pairs:
            for store in pair:
                t0 = time.perf_counter()
                store.tokens, store.org_ids = fill_store(store.url, campus, filler,
                                                          store.campuses)
                print(f"  stored {store.label} in {time.perf_counter() - t0:.1f} s",
                      file=sys.stderr)
        results = measure(pairs, campus, args.rounds, args.requests, data)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"results": results, "postgres_skipped": skipped, "seconds": seconds},
                         indent=2))
        return 0
    report(results, skipped, args.rounds, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
