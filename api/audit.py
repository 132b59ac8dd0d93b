"""Audit entries written in batches by a background thread, and refusals coalesced per minute.

A request must not wait for a database round trip to record what it did: :class:`AuditWriter`
queues each entry and a writer thread stores the queue as one transaction every
``flush_interval_s`` seconds, or at once when ``batch_max`` entries are waiting. A request that
finds ``batch_max`` entries still unwritten waits for the writer (backpressure), so at any moment
at most ``batch_max`` entries exist only in memory: that, and at most the last
``flush_interval_s`` of entries, is all a SIGKILL can lose. :meth:`AuditWriter.flush` (called on
graceful shutdown, and before the audit log is read) writes everything.

Refused requests are *coalesced* (:meth:`AuditWriter.add_coalesced`): the first refusal of a
source (client address, reason, route) in a wall-clock minute is written like any entry; the
rest of that minute are counted and written as one more row carrying their ``count`` once the
minute is over (or at the next flush). A flood of bad requests therefore costs at most two rows
per source and minute, and past ``coalesce_max_keys`` sources in one minute all further sources
share one row.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gridmap.errors import GridmapError

if TYPE_CHECKING:
    from api.store import AuditEntry

log = logging.getLogger(__name__)

OVERFLOW_SOURCE = "*"


class AuditUnavailable(GridmapError):
    """The audit log cannot be written (the store is unreachable): nothing is answered."""


@dataclasses.dataclass
class _Repeats:
    template: AuditEntry
    count: int = 0
    last_ts: datetime | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def clean_text(value: str, limit: int) -> str:
    """Text as stored: NUL bytes (PostgreSQL refuses them) replaced, length capped."""
    return value.replace("\x00", "\\x00")[:limit]


# What must never be stored in the log, however it got into an entry's text (a lookup's query,
# a refusal's reason): gridmap's own tokens, session ids and share secrets, bearer credentials,
# and ``name=value`` pairs whose name says secret (password=, token=, client_secret=, ...).
_SECRETS = re.compile(
    r"(?<![A-Za-z0-9])g(?:m|s|sh|ss)_[A-Za-z0-9_-]{8,}"
    r"|(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|(?i:password|passwd|pwd|secret|client_secret|token|access_token|id_token|refresh_token"
    r"|api_?key|session(?:_?id)?|cookie|authorization)(\s*=\s*)"
    r"(?:(?i:bearer|basic)\s+)?(?:'[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)"
    # "name: value" only for names no message of gridmap's own says so ("token: revoked")
    r"|(?i:password|passwd|pwd|secret|client_secret|cookie|authorization)(\s*:\s*)"
    r"(?:(?i:bearer|basic)\s+)?(?:'[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)")


#: Every match of :data:`_SECRETS` holds one of these (lower-cased): a text holding none is kept
#: as it is, after a few substring tests (~1 us) instead of the expression (~10 us a field).
_SECRET_MARKS = ("gm_", "gs_", "gsh_", "gss_", "bearer", "basic", "passw", "pwd", "secret",
                 "token", "api", "session", "cookie", "authorization")


def scrub(value: str) -> str:
    """``value`` with every credential-looking part replaced by ``[redacted]``."""
    lowered = value.lower()
    if not any(mark in lowered for mark in _SECRET_MARKS):
        return value
    return _SECRETS.sub(_redacted, value)


def _redacted(match: re.Match[str]) -> str:
    text = match.group(0)
    sep = match.group(1) or match.group(2)
    if sep is not None:  # name=value: keep the name
        return text[: text.index(sep) + len(sep)] + "[redacted]"
    return "[redacted]"


def _stored(value: str | None, limit: int) -> str | None:
    """Free text (a name, a campus id from a path) as stored: scrubbed and capped."""
    return None if value is None else clean_text(scrub(value), limit)


def _id(value: str | None, limit: int) -> str | None:
    """An id the code made (an organisation's, a token's, a credential kind): capped only."""
    return None if value is None else clean_text(value, limit)


def audit_row(e: AuditEntry) -> dict[str, object]:
    """The row stored for an entry (in the writer thread, off the request's path): text
    scrubbed of secrets and capped, and a refusal's outcome and status filled in."""
    outcome, status = e.outcome, e.status
    if outcome == "ok" and e.action in REFUSED_ACTIONS:
        outcome = REFUSED_ACTIONS[e.action]
        if status is None and e.action == "denied":
            head = e.detail.split(" ", 1)[0]
            status = int(head) if head.isdigit() and len(head) == 3 else None
    return {
        "ts": e.ts, "token_id": _id(e.token_id, 40), "token_name": _stored(e.token_name, 200),
        "action": e.action[:50], "campus_id": _stored(e.campus_id, 100),
        "detail": clean_text(scrub(e.detail), 2000), "client": clean_text(e.client, 200),
        "count": e.count, "org_id": _id(e.org_id, 40), "user_id": _id(e.user_id, 40),
        "credential_kind": _id(e.credential_kind, 20),
        "credential_id": _id(e.credential_id, 40), "outcome": outcome[:20],
        "status": status,
    }


#: Actions that record something refused or failed, with their outcome.
REFUSED_ACTIONS = {"denied": "refused", "login_failed": "failed", "share_open_failed": "failed"}


def lookup_detail(query: str, status: str) -> str:
    """The audit detail of a lookup, the same from the API, the CLI and its quick path."""
    return f"q={query!r} -> {status}"


def minute_of(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


class AuditWriter:
    """Queues :class:`AuditEntry` rows and writes them in batches with ``write``."""

    def __init__(
        self,
        write: Callable[[Sequence[AuditEntry]], None],
        *,
        flush_interval_s: float = 0.2,
        batch_max: int = 100,
        wait_s: float = 10.0,
        coalesce_max_keys: int = 10_000,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        if batch_max < 1 or flush_interval_s <= 0:
            raise ValueError("audit batches need batch_max >= 1 and flush_interval_s > 0")
        self._write = write
        self.flush_interval_s = flush_interval_s
        self.batch_max = batch_max
        self._wait_s = wait_s
        self._coalesce_max_keys = coalesce_max_keys
        self._now = now
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()  # one writer at a time: rows keep their order
        self._pending: list[AuditEntry] = []
        self._in_flight = 0
        self._repeats: dict[tuple[datetime, Hashable], _Repeats] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    # --- adding -----------------------------------------------------------------------------

    def add(self, entry: AuditEntry) -> None:
        """Queue one entry; waits while ``batch_max`` entries are still unwritten."""
        with self._cond:
            if self._closed:
                closed = True
            else:
                closed = False
                self._start()
                waited = 0.0
                while len(self._pending) + self._in_flight >= self.batch_max:
                    self._cond.notify_all()
                    if waited >= self._wait_s:
                        raise AuditUnavailable(
                            f"{len(self._pending) + self._in_flight} audit entries unwritten "
                            f"for {self._wait_s:.0f} s", user_message="audit log unavailable")
                    self._cond.wait(0.05)
                    waited += 0.05
                self._pending.append(entry)
                if len(self._pending) >= self.batch_max:
                    self._cond.notify_all()
        if closed:  # after close (a CLI epilogue): write it at once
            self._write([entry])

    def add_coalesced(self, entry: AuditEntry, key: Hashable) -> None:
        """Queue ``entry`` if it is the first of ``key`` in its minute, else only count it."""
        bucket = minute_of(entry.ts)
        with self._cond:
            slot = (bucket, key)
            repeats = self._repeats.get(slot)
            if repeats is None and len(self._repeats) >= self._coalesce_max_keys:
                slot = (bucket, OVERFLOW_SOURCE)
                entry = dataclasses.replace(
                    entry, client=OVERFLOW_SOURCE,
                    detail=f"refusals from more than {self._coalesce_max_keys} sources "
                           f"this minute, e.g. {entry.detail}")
                repeats = self._repeats.get(slot)
            if repeats is None:
                self._repeats[slot] = _Repeats(entry)
                first = True
            else:
                repeats.count += 1
                repeats.last_ts = entry.ts
                first = False
        if first:
            self.add(entry)

    # --- writing ----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="gridmap-audit-writer",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                if len(self._pending) < self.batch_max:
                    self._cond.wait(self.flush_interval_s)
                if self._closed:
                    return
            try:
                self._drain(all_repeats=False)
            except Exception:  # logged; the entries stay queued and are retried
                log.exception("writing the audit log failed; retrying")
                with self._cond:
                    self._cond.wait(self.flush_interval_s)

    def _due_repeats(self, everything: bool) -> list[AuditEntry]:
        """Rows for counted repeats: of past minutes (or all, when ``everything``)."""
        current = minute_of(self._now())
        due: list[AuditEntry] = []
        for slot in list(self._repeats):
            bucket = slot[0]
            repeats = self._repeats[slot]
            past = bucket < current
            if repeats.count and (past or everything):
                due.append(dataclasses.replace(
                    repeats.template, ts=repeats.last_ts or repeats.template.ts,
                    count=repeats.count,
                    detail=f"{repeats.template.detail} (repeated {repeats.count} more times "
                           f"in the minute from {bucket:%H:%M} UTC)"))
                repeats.count = 0
            if past:
                del self._repeats[slot]
        return due

    def _drain(self, *, all_repeats: bool) -> None:
        with self._write_lock:
            with self._cond:
                batch = self._pending
                self._pending = []
                self._in_flight = len(batch)
                batch = batch + self._due_repeats(all_repeats)
            try:
                if batch:
                    self._write(batch)
            except BaseException:
                with self._cond:  # keep them, first in line, for the next attempt
                    self._pending[:0] = batch
                raise
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()

    def flush(self) -> None:
        """Write everything queued, with the repeat counts so far; raises if that fails."""
        self._drain(all_repeats=True)

    def unwritten(self) -> int:
        with self._cond:
            return len(self._pending) + self._in_flight

    def close(self) -> None:
        """Flush and stop the writer thread; later entries are written one by one."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self.flush()
