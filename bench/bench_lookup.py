"""How fast is a dispatcher lookup, measured against peers in the same run.

Four measurements, taken in turn in each of many short rounds (medians are reported; each
ratio is the median of the per-round ratios, so the two rates of a ratio are always measured
seconds apart, which keeps a busy machine's bursts out of the ratio):

(a) a bare FastAPI endpoint returning ``{"ok": true}`` over HTTP (uvicorn subprocess, one
    keep-alive httpx client): the ceiling for any HTTP endpoint on this machine;
(b) ``gridmap.lookup.lookup(index, q)`` in-process over a mix of dispatcher phrasings;
(c) the same lookups over HTTP through the real app (bearer token, audit row per request),
    as deployed: token and current revision cached for at most 1 s, audit rows written in
    batches, and recent answers of a revision kept (the queries repeat, as on an incident);
(d) as (c) with the answer cache off (``GRIDMAP_LOOKUP_CACHE_SIZE=0``): every request runs the
    lookup itself, so (d) is (c) plus one (b).

Ratios printed: (b)/(a) says how much cheaper the lookup itself is than the HTTP round trip;
(c)/(a) and (d)/(a) say what fraction of the bare-endpoint rate the full lookup endpoint
reaches.

Run: ``python bench/bench_lookup.py`` (``make bench``); ``--rounds``/``--requests`` to tune.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from tests.api_process import NotServing, free_port, wait_until_serving  # noqa: E402

QUERIES = ("room 214", "rm 214", "gym", "door 7", "knox box", "C4")
SAMPLE = REPO / "data" / "samples" / "lincoln_ridge" / "campus.toml"


def bare_app() -> FastAPI:
    """The peer: the smallest useful FastAPI endpoint (uvicorn factory)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def uvicorn_server(
    app: str, *, app_dir: Path, env: dict[str, str], ready_path: str
) -> Iterator[tuple[str, int]]:
    """A uvicorn subprocess serving ``app`` (a factory) on a free port; yields its base URL
    and process id."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--factory", "--app-dir", str(app_dir),
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
           "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(proc, base + ready_path, limit_s=30.0,
                               ready=lambda status: status < 500, poll_s=0.1)
        except NotServing as exc:
            raise RuntimeError(f"uvicorn for {app} did not start: {exc}") from None
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def rate(run: Callable[[int], None], n: int) -> float:
    """Operations per second of ``run(i)`` over ``n`` calls."""
    start = time.perf_counter()
    for i in range(n):
        run(i)
    return n / (time.perf_counter() - start)


def rate_and_cpu(run: Callable[[int], None], n: int, server_pid: int) -> tuple[float, float | None]:
    """Requests per second, and the CPU seconds per request of client and server together.

    On a busy machine the rate swings with the load; the CPU time a request costs does not
    (much), and on an idle machine it is what the rate comes down to.
    """
    server_before = cpu_seconds(server_pid)
    client_before = time.process_time()
    per_s = rate(run, n)
    client = time.process_time() - client_before
    server_after = cpu_seconds(server_pid)
    if server_before is None or server_after is None:
        return per_s, None
    return per_s, (client + server_after - server_before) / n


def bench_token(store: Any, campus_id: str) -> str:
    """A read-only token of the district owning the campus (made first when the store has no
    organisation), as a deployment's officers would hold."""
    from api.auth import create_token
    from api.store_identity import OrgKind, identity

    orgs = identity(store).orgs()
    district = orgs[0] if orgs else identity(store).create_org("Bench district",
                                                                OrgKind.DISTRICT)
    identity(store).assign_campus(campus_id, district.id)
    token, _ = create_token(store, "bench")
    return token


def build_campus() -> tuple[Any, str]:
    if SAMPLE.exists():
        from importers.campus import import_campus

        return import_campus(SAMPLE).campus, f"sample manifest {SAMPLE.relative_to(REPO)}"
    from tests.campus_factory import small_campus

    return small_campus(), "code-built test campus"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300, help="HTTP requests per round")
    parser.add_argument("--lookups", type=int, default=1000, help="in-process lookups per round")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)

    from api.store import SqlCampusStore
    from gridmap.index import CampusIndex
    from gridmap.lookup import lookup

    campus, origin = build_campus()
    index = CampusIndex(campus)
    for q in QUERIES:  # every query must work, or the numbers mean nothing
        if lookup(index, q).status.value == "not_found":
            print(f"warning: {q!r} finds nothing on {campus.id}", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="gridmap-bench-") as tmp:
        store = SqlCampusStore(f"sqlite:///{Path(tmp) / 'gridmap.db'}")
        store.save_revision(campus, source="bench")
        token = bench_token(store, campus.id)
        store.close()
        env = {"GRIDMAP_DATA_DIR": tmp, "GRIDMAP_LOG_LEVEL": "WARNING"}
        env.pop("GRIDMAP_DATABASE_URL", None)
        os.environ.pop("GRIDMAP_DATABASE_URL", None)

        bare: list[float] = []
        inproc: list[float] = []
        http: list[float] = []
        uncached: list[float] = []
        cpu: dict[str, list[float]] = {"bare": [], "http": [], "uncached": []}
        auth = {"Authorization": f"Bearer {token}"}
        with (
            uvicorn_server("bench_lookup:bare_app", app_dir=Path(__file__).parent, env=env,
                           ready_path="/ping") as (bare_url, bare_pid),
            uvicorn_server("api.app:create_app", app_dir=REPO, env=env,
                           ready_path="/healthz") as (app_url, app_pid),
            uvicorn_server("api.app:create_app", app_dir=REPO,
                           env={**env, "GRIDMAP_LOOKUP_CACHE_SIZE": "0"},
                           ready_path="/healthz") as (uncached_url, uncached_pid),
            # a first lookup loads the campus and builds its index: give it time on a busy box
            httpx.Client(base_url=bare_url, timeout=60.0) as bare_client,
            httpx.Client(base_url=app_url, headers=auth, timeout=60.0) as app_client,
            httpx.Client(base_url=uncached_url, headers=auth, timeout=60.0) as uncached_client,
        ):
            lookup_path = f"/campuses/{campus.id}/lookup"

            def get_bare(_: int) -> None:
                bare_client.get("/ping").raise_for_status()

            def get_lookup(i: int) -> None:
                app_client.get(lookup_path, params={"q": QUERIES[i % len(QUERIES)]}
                               ).raise_for_status()

            def get_uncached(i: int) -> None:
                uncached_client.get(lookup_path, params={"q": QUERIES[i % len(QUERIES)]}
                                    ).raise_for_status()

            def in_process(i: int) -> None:
                lookup(index, QUERIES[i % len(QUERIES)])

            for warm in (get_bare, get_lookup, get_uncached, in_process):  # caches, index
                rate(warm, 50)
            for _ in range(args.rounds):
                for rates, name, run, pid in ((bare, "bare", get_bare, bare_pid),
                                              (http, "http", get_lookup, app_pid),
                                              (uncached, "uncached", get_uncached, uncached_pid)):
                    per_s, cpu_each = rate_and_cpu(run, args.requests, pid)
                    rates.append(per_s)
                    if cpu_each is not None:
                        cpu[name].append(cpu_each)
                inproc.append(rate(in_process, args.lookups))

    results = {
        "campus": campus.id,
        "source": origin,
        "rounds": args.rounds,
        "bare_endpoint_per_s": statistics.median(bare),
        "lookup_in_process_per_s": statistics.median(inproc),
        "lookup_http_per_s": statistics.median(http),
        "lookup_http_uncached_per_s": statistics.median(uncached),
    }
    results["ratio_in_process_vs_bare"] = statistics.median(
        i / b for i, b in zip(inproc, bare, strict=True))
    results["ratio_http_lookup_vs_bare"] = statistics.median(
        h / b for h, b in zip(http, bare, strict=True))
    results["ratio_http_lookup_uncached_vs_bare"] = statistics.median(
        u / b for u, b in zip(uncached, bare, strict=True))
    if all(cpu.values()):
        for name, times in cpu.items():
            results[f"cpu_ms_per_request_{name}"] = statistics.median(times) * 1e3
        results["cpu_ratio_http_lookup_vs_bare"] = (
            results["cpu_ms_per_request_bare"] / results["cpu_ms_per_request_http"])
        results["cpu_ratio_http_lookup_uncached_vs_bare"] = (
            results["cpu_ms_per_request_bare"] / results["cpu_ms_per_request_uncached"])
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"campus {campus.id} ({origin}); median of {args.rounds} rounds; "
          f"queries: {', '.join(QUERIES)}")
    print(f"  (a) bare FastAPI endpoint over HTTP : {results['bare_endpoint_per_s']:>10,.0f} req/s")
    print(f"  (b) lookup in-process               : "
          f"{results['lookup_in_process_per_s']:>10,.0f} lookups/s "
          f"({1e6 / results['lookup_in_process_per_s']:.0f} µs each)")
    print(f"  (c) lookup over HTTP (auth + audit)  : {results['lookup_http_per_s']:>10,.0f} req/s "
          f"({1e3 / results['lookup_http_per_s']:.2f} ms each)")
    print(f"  (d) as (c), answer cache off         : "
          f"{results['lookup_http_uncached_per_s']:>10,.0f} req/s "
          f"({1e3 / results['lookup_http_uncached_per_s']:.2f} ms each)")
    print(f"  ratio (b)/(a) in-process lookup vs bare endpoint : "
          f"{results['ratio_in_process_vs_bare']:.2f}x")
    print(f"  ratio (c)/(a) HTTP lookup vs bare endpoint       : "
          f"{results['ratio_http_lookup_vs_bare']:.2f}x")
    print(f"  ratio (d)/(a) HTTP lookup, answer cache off      : "
          f"{results['ratio_http_lookup_uncached_vs_bare']:.2f}x")
    if "cpu_ratio_http_lookup_vs_bare" in results:
        print("  CPU per request (client + server): "
              f"(a) {results['cpu_ms_per_request_bare']:.2f} ms"
              f", (c) {results['cpu_ms_per_request_http']:.2f} ms"
              f", (d) {results['cpu_ms_per_request_uncached']:.2f} ms")
        print(f"  CPU-time ratio (a)/(c), the rate ratio of an idle machine : "
              f"{results['cpu_ratio_http_lookup_vs_bare']:.2f}x "
              f"(answer cache off: {results['cpu_ratio_http_lookup_uncached_vs_bare']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
