"""Faults: the importer, publisher, partnership CLI and the API server are SIGKILLed at random
points, repeatedly; after each round the store is whole and the server serves it.

Each round runs one CLI command (``gridmap import --publish``, ``import --draft``, ``publish``,
``partnership grant|revoke``) or sends a publish or partnership change to the server's API,
while a uvicorn worker answers lookups (and writes their audit rows), and kills the command
and/or the server after a random delay drawn from the command's measured duration: the delay
is the fault point, and no check depends on it. The randomness is seeded; the seed is printed
(``GRIDMAP_FAULT_SEED`` replays a run's commands and kill points, as fractions of each
command's duration measured on the machine). After every round:

- SQLite ``PRAGMA integrity_check`` is ok and ``foreign_key_check`` finds nothing;
- the current revision is a complete, published revision with the features every import of the
  manifest stores, and it is the one from before the round unless the round published;
- every revision is complete (its feature rows are all there) or absent; no orphan features;
- revisions and partnerships from before are unchanged but for what the round's command does;
- the (restarted) server serves the current revision, its lookups answer with features of that
  revision, and the police agency sees the campus exactly when a partnership is active.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy

from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import OrgKind, identity
from tests.api_process import ROOT, ApiProcess, seen_within

MANIFEST = ROOT / "data" / "samples" / "lincoln_ridge" / "campus.toml"
CAMPUS = "lincoln-ridge"
ROOM_QUERY = "room 101"
SEEN_LIMIT_S = 1.0  # a worker's caches live at most 1 s
#: seconds of kill rounds per backend (each round: a command, kills, restart, checks)
BUDGET_S = {"sqlite": 15.0, "postgresql": 8.0}
MAX_ROUNDS = 40

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason="sample campus not present")


@dataclass(frozen=True)
class Snapshot:
    """What the database holds of the campus and its partnerships."""

    current: int | None
    revisions: dict[int, tuple[int, bool]]  # number -> (feature_count, published)
    digests: dict[int, str]  # number -> digest of its feature rows
    feature_ids: dict[int, frozenset[str]]
    partnerships: dict[str, tuple[Any, ...]]  # id -> its row but revoked_at
    revoked: frozenset[str]

    def active(self) -> bool:
        return any(p not in self.revoked for p in self.partnerships)

    def draft(self) -> int | None:
        """The newest revision after the current one (a draft to publish), if any."""
        later = [n for n in self.revisions if n > (self.current or 0)]
        return max(later) if later else None


def snapshot(url: str) -> Snapshot:
    """Read the store afresh (a new engine, as a restarted process would) and check it."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                ok = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
                assert ok == ["ok"], ok
                bad = list(conn.exec_driver_sql("PRAGMA foreign_key_check"))
                assert bad == [], bad
            q = sqlalchemy.text
            current = conn.execute(q("SELECT current_revision FROM campuses WHERE id = :c"),
                                   {"c": CAMPUS}).scalar()
            revisions = {n: (count, bool(pub)) for n, count, pub in conn.execute(
                q("SELECT number, feature_count, published FROM revisions "
                  "WHERE campus_id = :c"), {"c": CAMPUS})}
            digests: dict[int, str] = {}
            feature_ids: dict[int, frozenset[str]] = {}
            for number, (count, _) in revisions.items():
                rows = list(conn.execute(q(
                    "SELECT seq, feature_id, feature_type, building_id, level_ordinal, "
                    "properties, geometry FROM features WHERE campus_id = :c AND revision = :n "
                    "ORDER BY seq"), {"c": CAMPUS, "n": number}))
                # complete or absent: a revision row is written with all its features
                assert len(rows) == count > 0, f"revision {number}: {len(rows)} of {count}"
                digests[number] = hashlib.sha256(
                    repr([tuple(r)[1:] for r in rows]).encode()).hexdigest()
                feature_ids[number] = frozenset(r.feature_id for r in rows)
            orphans = set(conn.execute(q(
                "SELECT DISTINCT revision FROM features WHERE campus_id = :c"),
                {"c": CAMPUS}).scalars()) - set(revisions)
            assert not orphans, f"features of revisions that do not exist: {orphans}"
            partnerships: dict[str, tuple[Any, ...]] = {}
            revoked: set[str] = set()
            for row in conn.execute(q(
                    "SELECT id, district_id, agency_id, campuses, starts_on, ends_on, reference, "
                    "created_by, revoked_at FROM partnerships")):
                partnerships[row.id] = tuple(row)[:-1]
                if row.revoked_at is not None:
                    revoked.add(row.id)
    finally:
        engine.dispose()
    if current is not None:
        assert current in revisions and revisions[current][1], \
            f"current revision {current} is not a stored, published revision"
    return Snapshot(current, revisions, digests, feature_ids, partnerships, frozenset(revoked))


@dataclass
class Command:
    name: str
    args: list[str]  # a CLI command, or [] for a request to the server
    publishes: int | None = None  # the revision a publish names
    revokes: str | None = None
    #: sent to the server instead (method, path, JSON body): the server is the one killed
    request: tuple[str, str, dict[str, Any] | None] | None = None


def gridmap(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def choose(rng: random.Random, before: Snapshot, district: str, agency: str,
           n: int) -> Command:
    kind = rng.choice(["import", "draft", "publish", "publish", "grant", "revoke"])
    api = rng.random() < 0.35  # publish and partnership changes: through the server, or CLI
    draft = before.draft()
    if kind == "publish" and draft is not None:
        expect = "none" if before.current is None else str(before.current)
        if api:
            return Command("publish", [], publishes=draft, request=(
                "POST", f"/campuses/{CAMPUS}/revisions/{draft}/publish",
                {"expect_current": before.current}))
        return Command("publish", gridmap("publish", CAMPUS, "--revision", str(draft),
                                          "--expect-current", expect), publishes=draft)
    active = sorted(set(before.partnerships) - before.revoked)
    if kind == "revoke" and active:
        target = rng.choice(active)
        if api:
            return Command("revoke", [], revokes=target, request=(
                "DELETE", f"/orgs/{district}/partnerships/{target}", None))
        return Command("revoke", gridmap("partnership", "revoke", target), revokes=target)
    if kind in ("grant", "revoke"):
        if api:
            return Command("grant", [], request=(
                "POST", f"/orgs/{district}/partnerships",
                {"agency": agency, "reference": f"MOU round {n}"}))
        return Command("grant", gridmap("partnership", "grant", "--district", district,
                                        "--agency", agency, "--ref", f"MOU round {n}"))
    if kind == "import":
        return Command("import", gridmap("import", "--publish", str(MANIFEST)))
    return Command("draft", gridmap("import", "--draft", str(MANIFEST)))


def check_round(before: Snapshot, after: Snapshot, command: Command, reference: str) -> None:
    """What may have changed in a round whose command may have been killed at any point."""
    new = set(after.revisions) - set(before.revisions)
    assert set(before.revisions) <= set(after.revisions), "a revision disappeared"
    assert len(new) <= (1 if command.name in ("import", "draft") else 0), new
    for number, digest in after.digests.items():
        assert digest == reference, f"revision {number} differs from the manifest's features"
    for number, (count, published) in before.revisions.items():
        now_count, now_published = after.revisions[number]
        assert now_count == count
        assert now_published == published or (number == command.publishes and now_published)
    allowed = {before.current}
    if command.name == "publish":
        allowed.add(command.publishes)
    if command.name == "import":
        allowed |= new
    assert after.current in allowed, (after.current, allowed)
    # a new revision is published exactly when it is current (``import --publish`` stores a
    # draft, then publishes it: killed between, the complete draft stays, served to nobody)
    for number in new:
        assert after.revisions[number][1] == (after.current == number), number
    if command.name == "draft":
        assert after.current == before.current, "a draft was published"
    # partnerships: rows from before unchanged; only the named one may be revoked; a grant
    # adds at most one complete row
    for pid, row in before.partnerships.items():
        assert after.partnerships[pid] == row
    assert before.revoked <= after.revoked
    assert after.revoked - before.revoked <= ({command.revokes} if command.revokes else set())
    added = set(after.partnerships) - set(before.partnerships)
    assert len(added) <= (1 if command.name == "grant" else 0), added
    assert not added & after.revoked


class Load:
    """Lookups against the server while a round runs (each also writes an audit row)."""

    def __init__(self, server: ApiProcess, token: str) -> None:
        self.server, self.token = server, token
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with self.server.client(self.token, timeout=5.0) as client:
            while not self.stop.is_set():
                with contextlib.suppress(httpx.HTTPError):  # killed or restarting: the point
                    client.get(f"/campuses/{CAMPUS}/lookup", params={"q": ROOM_QUERY})
                self.stop.wait(0.01)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def run_command(command: Command, env: dict[str, str], log: Path) -> int:
    with log.open("ab") as out:
        done = subprocess.run(command.args, cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT, check=False, timeout=120)
    return done.returncode


def test_sigkill_at_random_points_leaves_the_store_whole_and_served(
    settings: Settings, store: SqlCampusStore, database_url: str | None, tmp_path: Path,
) -> None:
    backend = "sqlite" if database_url is None else "postgresql"
    seed = int(os.environ.get("GRIDMAP_FAULT_SEED") or random.randrange(2**32))
    print(f"fault test ({backend}): seed {seed} (GRIDMAP_FAULT_SEED={seed} replays its choices)")
    rng = random.Random(seed)
    url = settings.resolved_database_url
    ident = identity(store)
    district = ident.create_org("Fault district", OrgKind.DISTRICT)
    police = ident.create_org("Fault police", OrgKind.POLICE)
    reader, _ = create_token(store, "reader", Role.OFFICER, org=district.id)
    officer, _ = create_token(store, "police officer", Role.OFFICER, org=police.id)
    admin, _ = create_token(store, "district admin", Role.ADMIN, org=district.id)
    env = {**os.environ, "GRIDMAP_DATA_DIR": str(settings.data_dir),
           "GRIDMAP_JOB_WORKERS": "0"}
    if database_url is not None:
        env["GRIDMAP_DATABASE_URL"] = database_url
    log = tmp_path / "commands.log"

    # every command once, unkilled: the initial state, and how long each takes here
    took: dict[str, float] = {}
    for command in (Command("import", gridmap("import", "--publish", str(MANIFEST))),
                    Command("draft", gridmap("import", "--draft", str(MANIFEST))),
                    Command("publish", gridmap("publish", CAMPUS, "--revision", "2",
                                               "--expect-current", "1")),
                    Command("grant", gridmap("partnership", "grant", "--district",
                                             district.id, "--agency", police.id)),
                    Command("draft", gridmap("import", "--draft", str(MANIFEST)))):
        start = time.monotonic()
        assert run_command(command, env, log) == 0, log.read_text()[-3000:]
        took[command.name] = time.monotonic() - start
    took["import"] = max(took["import"], took["draft"])
    took["revoke"] = took["grant"]
    state = snapshot(url)
    assert state.current == 2 and state.active()
    reference = state.digests[1]

    server = ApiProcess(env, tmp_path / "server.log")
    server.start()
    with server.client(admin, timeout=60.0) as c:  # how long the server takes to publish
        start = time.monotonic()
        r = c.post(f"/campuses/{CAMPUS}/revisions/3/publish", json={"expect_current": 2})
        assert r.status_code == 200, r.text
        took["api"] = time.monotonic() - start
    state = snapshot(url)
    assert state.current == 3
    kills = {"command": 0, "server": 0}
    rounds = 0
    deadline = time.monotonic() + BUDGET_S[backend]
    try:
        # past the budget too, until a command has been killed: on a loaded machine the
        # budget can pass in three rounds that happened to kill nothing
        while rounds < MAX_ROUNDS and (rounds < 3 or not kills["command"]
                                       or time.monotonic() < deadline):
            rounds += 1
            started = time.monotonic()
            before = state
            command = choose(rng, before, district.id, police.id, rounds)
            # most of a command's first quarter is Python starting: kill mostly after it
            took_s = took["api" if command.request else command.name]
            command_kill = rng.uniform(0.25 * took_s, 1.1 * took_s) if rng.random() < 0.8 else None
            server_kill = rng.uniform(0.0, 1.1 * took_s) if rng.random() < 0.5 else None
            with Load(server, reader):
                if command.request is not None:
                    killed, rc = send_killed(command, server, admin, command_kill)
                else:
                    killed, rc = run_killed(command, env, log, command_kill, server_kill, server)
            kills["command"] += killed["command"]
            kills["server"] += killed["server"]
            if not killed["command"]:
                assert rc == 0, f"seed {seed}: {command.args} failed: {log.read_text()[-3000:]}"
            if killed["server"] or server.proc is None or server.proc.poll() is not None:
                server.kill()
                server.start()
            ended = time.monotonic()
            print(f"round {rounds}: {command.name} {'API' if command.request else 'CLI'}, "
                  f"kill the command at {command_kill}, the "
                  f"server at {server_kill}: killed {killed}, {ended - started:.2f} s")
            state = snapshot(url)
            try:
                check_round(before, state, command, reference)
                check_served(server, state, reader, officer, ended)
            except AssertionError as e:
                raise AssertionError(f"seed {seed}, round {rounds}, {command.name} "
                                     f"(kill command at {command_kill}, server at "
                                     f"{server_kill}): {e}") from e
    finally:
        server.stop()
    print(f"{rounds} rounds, {kills['command']} commands and {kills['server']} servers "
          f"killed; current revision {state.current} of {len(state.revisions)}")
    assert kills["command"] > 0


def send_killed(command: Command, server: ApiProcess, admin: str,
                kill_at: float | None) -> tuple[dict[str, bool], int]:
    """Send the command's request to the server; SIGKILL the server ``kill_at`` s after,
    if the answer has not come by then. 0 for a 2xx answer (like a CLI exit status)."""
    assert command.request is not None
    method, path, body = command.request
    status: list[int] = []

    def send() -> None:
        with server.client(admin, timeout=60.0) as c, contextlib.suppress(httpx.HTTPError):
            status.append(c.request(method, path, json=body).status_code)

    sender = threading.Thread(target=send)
    sender.start()
    killed = {"command": False, "server": False}
    if kill_at is not None:
        sender.join(timeout=kill_at)
        if sender.is_alive():
            server.kill()
            killed["command"] = killed["server"] = True
    sender.join()
    return killed, 0 if status and 200 <= status[0] < 300 else 1


def run_killed(command: Command, env: dict[str, str], log: Path, command_kill: float | None,
               server_kill: float | None, server: ApiProcess) -> tuple[dict[str, bool], int]:
    """Run the command; SIGKILL it and/or the server at the given delays after its start
    (a kill after the command has ended does nothing to it). Waits on the process, not on time."""
    killed = {"command": False, "server": False}
    with log.open("ab") as out:
        proc = subprocess.Popen(command.args, cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        start = time.monotonic()
        pending = sorted((at, who) for at, who in ((command_kill, "command"),
                                                    (server_kill, "server")) if at is not None)
        for at, who in pending:
            with contextlib.suppress(subprocess.TimeoutExpired):  # it ended first
                proc.wait(timeout=max(0.0, start + at - time.monotonic()))
            if who == "command" and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed["command"] = True
            elif who == "server" and proc.poll() is None:
                server.kill()
                killed["server"] = True
        rc = proc.wait(timeout=120)
    return killed, rc


def check_served(server: ApiProcess, state: Snapshot, reader: str, officer: str,
                 since: float) -> None:
    """The server serves the store's current revision, its lookups name features of it, and
    the agency sees the campus exactly while a partnership is active."""
    assert state.current is not None
    features = state.feature_ids[state.current]
    with server.client(reader) as c, server.client(officer) as police:
        def serves_current() -> bool:
            return bool(c.get(f"/campuses/{CAMPUS}").json()["revision"] == state.current)

        seen_within(serves_current, since, SEEN_LIMIT_S, "the server serves the current revision")
        r = c.get(f"/campuses/{CAMPUS}/lookup", params={"q": ROOM_QUERY})
        assert r.status_code == 200, r.text
        found = r.json()["candidates"]
        assert found and all(f["feature_id"] in features for f in found), found
        expected = 200 if state.active() else 404
        seen_within(lambda: police.get(f"/campuses/{CAMPUS}").status_code == expected,
                    since, SEEN_LIMIT_S, f"the agency gets {expected}")
