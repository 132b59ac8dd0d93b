"""An API worker as a real process: ``uvicorn --factory api.app:create_app`` on a free port.

Used by the two-worker test (two processes, one PostgreSQL) and the fault test (a server that
is SIGKILLed and started again). Readiness is polled with a deadline; nothing waits a fixed time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
START_LIMIT_S = 60.0  # a busy CI box may take a while to import the app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NotServing(RuntimeError):
    """A started server process exited, or did not answer before its deadline."""


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, *, limit_s: float,
                       ready: Callable[[int], bool] = lambda status: status == 200,
                       poll_s: float = 0.05) -> None:
    """Return once ``url`` answers with a status ``ready`` accepts; raise :class:`NotServing`
    as soon as ``proc`` exits, or after ``limit_s`` seconds. Polled: nothing waits a fixed
    time. Used for every server a test or a benchmark starts (API workers, uvicorn peers, the
    test OpenID provider)."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            if ready(httpx.get(url, timeout=2.0).status_code):
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise NotServing(f"the process serving {url} exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise NotServing(f"{url} did not answer within {limit_s:g} s")
        time.sleep(poll_s)  # the polling interval, not a wait for readiness


class ApiProcess:
    """One uvicorn worker serving the gridmap API with the environment given."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and return once ``/healthz`` answers (or raise with its log's tail)."""
        cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
               "--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(self.port),
               "--log-level", "warning", "--no-access-log"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)
        try:
            wait_until_serving(self.proc, self.base + "/healthz", limit_s=START_LIMIT_S)
        except NotServing as exc:
            self.kill()
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the API worker did not start ({exc}):\n{tail}") from None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye (a power cut, an OOM kill)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=timeout)


@contextmanager
def api_process(env: Mapping[str, str], log: Path) -> Iterator[ApiProcess]:
    worker = ApiProcess(env, log)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def seen_within(check: Callable[[], bool], since: float, limit_s: float,
                what: str) -> float:
    """Poll ``check`` until it holds; how long after ``since`` (``time.monotonic()``) the
    request that saw it was sent. Fails if a request sent more than ``limit_s`` after
    ``since`` still did not see it: from then on every request must."""
    while True:
        sent = time.monotonic()
        if check():
            return sent - since
        if sent - since > limit_s:
            raise AssertionError(f"{what}: not seen {sent - since:.2f} s after the change "
                                 f"(limit {limit_s} s)")
        time.sleep(0.02)  # polling interval
