"""Imports run in a separate process, under a time limit and a memory limit.

A floor plan is untrusted input. :mod:`importers.limits` makes the importer stop itself with a
clear error when it spends too much, but it can only check between entities: a single shapely
call on a monstrous polygon, a library that allocates without bound or loops in C, never comes
back to check. So the service never imports in its own process::

    result = import_in_sandbox(manifest, previous, limits, sandbox_limits(settings), progress)

starts ``python -m api.import_process`` as a child in its own process group and session
(:func:`run_in_sandbox` does the same for any function taking and returning JSON data, e.g.
reading an uploaded drawing for its layer proposal). The
child limits itself before it reads a byte of the input (``RLIMIT_DATA`` and ``RLIMIT_AS``: its
memory at start plus ``memory_bytes``; ``RLIMIT_CPU``: a little over the seconds, which also
ends an orphan; no core file) and dies with the thread that started it (``PR_SET_PDEATHSIG``),
runs
:func:`importers.campus.import_campus` and streams JSON lines on a pipe of its own: progress
(percent of the import, a message), then the result as data (the campus as the store's
GeoJSON, :mod:`gridmap.serialize`; warnings, residuals and findings as plain values) or the
error (its class name in :mod:`gridmap.errors` and its messages). The parent waits on that pipe
and on the child's exit (a pidfd) with the wall-clock deadline, and kills the whole group when
it passes. How the child ended becomes a named error:

* past the time limit (killed a little after it, so the importer's own check, which names
  the file, normally comes first), or killed by the CPU limit:
  :class:`~gridmap.errors.ImportTimedOut` ("the import took longer than 120 s");
* ``MemoryError`` (an allocation refused by the limit), or killed by SIGKILL that the parent
  did not send (the kernel's out-of-memory killer): :class:`~gridmap.errors.ImportOutOfMemory`
  ("the import needed more than 2 GB of memory");
* any other signal or an exit without an answer: :class:`~gridmap.errors.ImportCrashed`;
* an error of the importer (:class:`~gridmap.errors.GridmapError`): the same class with the
  same messages, raised in the parent;
* anything unexpected in the child: :class:`ImportProcessError` (not a ``GridmapError``: job
  workers log it and retry, as for any internal error) with the child's traceback.

The child writes nothing but its pipe and its log (standard error, kept in a temporary file and
logged when it ends without an answer): the store is written by the parent once the child has
answered, so a killed import leaves no half-written revision.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gridmap import errors
from gridmap.errors import (
    GridmapError,
    ImportCrashed,
    ImportFailed,
    ImportOutOfMemory,
    ImportTimedOut,
)

if TYPE_CHECKING:
    from api.settings import Settings
    from gridmap.model import Campus
    from importers.campus import ImportResult
    from importers.findings import Finding
    from importers.limits import ImportLimits

log = logging.getLogger(__name__)

#: the importer the child runs: ``module:function`` with import_campus's signature
IMPORTER = "importers.campus:import_campus"
#: a step running longer than this is said again, with its time so far, this often (seconds)
TICK_S = 5.0
_MIB = 1024 * 1024
#: address space the child may map beyond its data (libraries, thread stacks, file maps)
_AS_SLACK = 512 * _MIB
#: the process is killed this long after its time limit (a share of it, within bounds), so the
#: importer's own check at the limit, which names the file and entity, normally comes first
_KILL_GRACE_SHARE = 0.05
_KILL_GRACE_S = (1.0, 10.0)
#: how long a child that answered may take to exit before it is killed
_EXIT_GRACE_S = 5.0
_STDERR_TAIL = 4000
#: the largest file the child may write (its log, standard error): Python ignores SIGXFSZ,
#: so a chatty importer's log is cut short and the import goes on
_MAX_FILE_BYTES = 256 * _MIB
_PR_SET_PDEATHSIG = 1

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class SandboxLimits:
    """What the import's process may spend: wall-clock seconds (from its start; CPU time is
    limited to the same, rounded up) and memory beyond what it holds once started, bytes."""

    seconds: float
    memory_bytes: int

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"sandbox seconds must be a positive number, not {self.seconds}")
        if self.memory_bytes <= 0:
            raise ValueError(f"sandbox memory must be positive, not {self.memory_bytes}")


def sandbox_limits(settings: Settings) -> SandboxLimits:
    """The limits the service's settings ask for (``GRIDMAP_IMPORT_TIME_LIMIT_S``,
    ``GRIDMAP_IMPORT_MEMORY_LIMIT_MB``)."""
    return SandboxLimits(seconds=settings.import_time_limit_s,
                         memory_bytes=int(settings.import_memory_limit_mb * _MIB))


class ImportProcessError(RuntimeError):
    """Something unexpected went wrong in the import's process (a bug, not the input): the
    message holds the child's traceback, for the log; users see a generic message."""


def amount(nbytes: int) -> str:
    """Bytes as people say them: ``1.5 GB``, ``300 MB``."""
    if nbytes >= 1024 * _MIB:
        return f"{nbytes / (1024 * _MIB):.3g} GB"
    return f"{nbytes / _MIB:.3g} MB"


# --- the parent -----------------------------------------------------------------------------


def import_in_sandbox(manifest: Path, previous: Campus | None, limits: ImportLimits,
                      sandbox: SandboxLimits, progress: Progress | None = None, *,
                      importer: str = IMPORTER) -> ImportResult:
    """Import ``manifest`` in a child process within ``sandbox`` (see the module's text).

    ``progress(percent, message)`` is called in this thread with the import's progress,
    percent 0-100 of the import; an exception it raises (a job that lost its lease) kills the
    child and propagates. ``importer`` names another function to run instead of
    :func:`importers.campus.import_campus` (tests use hostile ones).
    """
    report = progress or _quiet
    report(0, f"starting the import of {Path(manifest).name}")  # the child takes a second
    arguments: dict[str, Any] = {
        "manifest": str(Path(manifest).absolute()), "importer": importer,
        "limits": dataclasses.asdict(limits), "seconds": sandbox.seconds, "previous": None,
    }
    if previous is not None:
        from gridmap.serialize import campus_to_geojson

        arguments["previous"] = campus_to_geojson(previous)
    data = run_in_sandbox(f"{__name__}:import_call", arguments, sandbox, report,
                          preload=(importer.partition(":")[0], "gridmap.serialize"))
    return result_from_data(data)


def run_in_sandbox(call: str, arguments: Mapping[str, Any], sandbox: SandboxLimits,
                   progress: Progress | None = None, *, what: str = "the import",
                   preload: Sequence[str] = (), tick_s: float = TICK_S) -> Any:
    """Call the function ``call`` (``module:function``) in a child process within
    ``sandbox`` and return what it returned; the same limits, kills and errors as an import
    (``what`` names the work in their messages: "reading the drawing took longer than ...").

    The function is called with ``arguments`` (JSON data) as keywords and ``progress`` (a
    callback like this one's), ``ends`` (the ``time.monotonic()`` at which the time limit
    passes: its own checks can stop before) and ``memory_bytes`` (the memory limit); it
    returns JSON data. Its :class:`~gridmap.errors.GridmapError` is raised here as the same
    class with the same messages. The modules named in ``preload`` (and the call's) are
    imported before the memory limit is measured from: libraries do not count against it.
    A step that runs longer than ``tick_s`` is said again every ``tick_s`` seconds with the
    time it has taken so far (same percent).
    """
    report = progress or _quiet
    started = time.monotonic()  # CLOCK_MONOTONIC: the child reads the same clock
    deadline = started + sandbox.seconds + kill_grace(sandbox.seconds)
    request = {
        "call": call, "arguments": dict(arguments), "preload": list(preload),
        "ends": started + sandbox.seconds,
        "memory_bytes": sandbox.memory_bytes,
        "cpu_seconds": math.ceil(deadline - started) + 1, "parent": os.getpid(),
        "tick_s": tick_s,
    }
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
        stdin.write(json.dumps(request).encode())
        stdin.seek(0)
        child = _Child(stdin, stderr)
        try:
            outcome = child.follow(deadline, report)
        finally:
            child.end()
        return _result_of(outcome, child, sandbox, _stderr_tail(stderr), what)


def _quiet(percent: int, message: str) -> None:
    """The progress of work nobody watches."""


def kill_grace(seconds: float) -> float:
    """How long past its time limit an import's process is killed."""
    low, high = _KILL_GRACE_S
    return min(high, max(low, seconds * _KILL_GRACE_SHARE))


def _child_environment() -> dict[str, str]:
    """The parent's environment, with this code's root on the path and few malloc arenas
    (each thread's arena reserves address space the limit would count)."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["MALLOC_ARENA_MAX"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class _Outcome:
    """What the child said and how it ended."""

    messages: list[dict[str, Any]]
    timed_out: bool = False
    status: int | None = None  # os.waitpid status

    @property
    def last(self) -> dict[str, Any] | None:
        finals = [m for m in self.messages if "progress" not in m and "ready" not in m]
        return finals[-1] if finals else None


class _Child:
    """The running child: its pipe, its pidfd, its process group."""

    def __init__(self, stdin: IO[bytes], stderr: IO[bytes]) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.import_process", str(write_fd)],
                stdin=stdin, stdout=stderr, stderr=stderr, pass_fds=(write_fd,),
                start_new_session=True, env=_child_environment(), close_fds=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.pid = self.proc.pid
        self.fd = read_fd
        self.pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):  # not Linux, or before 5.3: polled
            self.pidfd = os.pidfd_open(self.pid)
        self.exited = False
        self.killed = False
        self.outcome = _Outcome([])

    def follow(self, deadline: float, report: Progress) -> _Outcome:
        """Read the child's lines until it has exited and closed its pipe, or the deadline."""
        buffer = bytearray()
        pipe_open = True
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ, "pipe")
            if self.pidfd is not None:
                sel.register(self.pidfd, selectors.EVENT_READ, "exit")
            answered = False
            while pipe_open or not self.exited:
                if not answered and self.outcome.last is not None:
                    answered = True  # a short grace to exit in, then it is killed
                    deadline = min(deadline, time.monotonic() + _EXIT_GRACE_S)
                left = deadline - time.monotonic()
                if left <= 0:
                    if self.outcome.last is None:
                        self.outcome.timed_out = True
                    break
                if self.pidfd is None and not pipe_open:
                    self._reap(block=False)
                    if not self.exited:
                        sel.select(min(left, 0.05))  # no pidfd: poll the exit (rare)
                    continue
                for key, _ in sel.select(left):
                    if key.data == "exit":
                        sel.unregister(key.fd)
                        self._kill_group()  # stragglers the child left in its group
                        self._reap(block=True)
                        continue
                    chunk = os.read(self.fd, 1 << 20)
                    if not chunk:
                        sel.unregister(self.fd)
                        pipe_open = False
                        continue
                    seen = len(buffer)  # a result is one long line: look only at what is new
                    buffer += chunk
                    if chunk.find(b"\n") < 0:
                        continue
                    for message in _lines(buffer, seen):
                        self.outcome.messages.append(message)
                        if "progress" in message:
                            percent, text = message["progress"]
                            report(max(0, min(100, int(percent))), str(text))
        return self.outcome

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def _reap(self, *, block: bool) -> None:
        if self.exited:
            return
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.exited = True
            return
        if pid == 0:
            return
        self.exited = True
        self.outcome.status = status
        self.proc.returncode = os.waitstatus_to_exitcode(status)

    def end(self) -> None:
        """Kill the group if the child still runs, reap it, close the pipes (always runs)."""
        if not self.exited:
            self.killed = True
            self._kill_group()
            self._reap(block=True)
        for fd in (self.fd, self.pidfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _lines(buffer: bytearray, start: int = 0) -> Iterator[dict[str, Any]]:
    """The complete JSON lines in ``buffer`` (removed from it; none ends before ``start``);
    a partial line stays."""
    while (end := buffer.find(b"\n", start)) >= 0:
        line = bytes(buffer[:end])
        del buffer[:end + 1]
        start = 0
        if line.strip():
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("import process: unreadable line %r", line[:200])
                continue
            if isinstance(message, dict):
                yield message


def _stderr_tail(stderr: IO[bytes]) -> str:
    stderr.seek(0, os.SEEK_END)
    size = stderr.tell()
    stderr.seek(max(0, size - _STDERR_TAIL))
    return stderr.read().decode("utf-8", "replace")


def _result_of(outcome: _Outcome, child: _Child, sandbox: SandboxLimits, stderr: str,
               what: str) -> Any:
    """What the child returned, or the error that says how it ended."""
    final = outcome.last
    if final is not None and "result" in final:
        return final["result"]
    if final is not None and "error" in final:
        raise error_from_data(final["error"])
    if final is not None and "memory" in final:
        raise _out_of_memory(sandbox, str(final["memory"]), what)
    if final is not None and "crash" in final:
        raise ImportProcessError(f"the process of {what} failed unexpectedly:\n"
                                 f"{final['crash']}")
    if outcome.timed_out:
        raise _timed_out(sandbox, what)
    if stderr.strip():
        log.warning("import process pid %d ended without an answer; its last output:\n%s",
                    child.pid, stderr)
    status = outcome.status
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = _signal_name(sig)
        if sig == signal.SIGXCPU:
            raise _timed_out(sandbox, what, cpu=True)
        # (the child's peak memory is not known here: a vforked child's rusage counts the
        # parent's resident memory before the exec)
        if sig == signal.SIGKILL and not child.killed:
            raise _out_of_memory(sandbox, f"its process was killed ({name}), most likely by "
                                          "the system running out of memory", what)
        raise ImportCrashed(
            f"process pid {child.pid} of {what} died of {name}",
            user_message=f"the process of {what} died ({name}) before it finished; nothing "
            "was stored. The file may be damaged; if it is very large, the memory limit "
            "(GRIDMAP_IMPORT_MEMORY_LIMIT_MB) may be too small")
    code = None if status is None else os.waitstatus_to_exitcode(status)
    raise ImportCrashed(
        f"process pid {child.pid} of {what} exited with code {code} without an answer",
        user_message=f"the process of {what} ended without an answer; nothing was stored")


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _timed_out(sandbox: SandboxLimits, what: str, *, cpu: bool = False) -> ImportTimedOut:
    limit = "CPU time" if cpu else "time"
    message = (f"{what} took longer than {sandbox.seconds:g} s and was stopped; nothing "
               "was stored. Very large drawings (millions of entities) and blocks nested or "
               "arrayed very many times are the usual cause: purge what the map does not "
               f"need, split the drawing, or raise the import's {limit} limit "
               "(GRIDMAP_IMPORT_TIME_LIMIT_S)")
    return ImportTimedOut(message, user_message=message)


def _out_of_memory(sandbox: SandboxLimits, detail: str, what: str) -> ImportOutOfMemory:
    message = (f"{what} needed more than {amount(sandbox.memory_bytes)} of memory and "
               f"was stopped ({detail}); nothing was stored. Split the drawing, purge unused "
               "blocks, or raise the limit (GRIDMAP_IMPORT_MEMORY_LIMIT_MB)")
    return ImportOutOfMemory(message, user_message=message)


# --- what crosses the process boundary ------------------------------------------------------


def error_to_data(exc: GridmapError) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc), "user_message": exc.user_message}


def error_from_data(data: Mapping[str, Any]) -> GridmapError:
    """The error the child raised, as the same :mod:`gridmap.errors` class (looked up by name
    there and nowhere else); an unknown name becomes :class:`ImportFailed`."""
    cls = getattr(errors, str(data.get("type", "")), None)
    if not (isinstance(cls, type) and issubclass(cls, GridmapError)):
        cls = ImportFailed
    message = str(data.get("message", "the import failed"))
    return cls(message, user_message=str(data.get("user_message") or message))


def result_to_data(result: ImportResult) -> dict[str, Any]:
    """An :class:`ImportResult` as JSON-ready data: the campus as the store's GeoJSON,
    findings as their dicts, every other field as the plain value it is (a field that is not
    plain JSON is refused: it would come back as something else)."""
    from gridmap.serialize import campus_to_geojson

    data: dict[str, Any] = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if f.name == "campus":
            data[f.name] = campus_to_geojson(value)
        elif f.name == "findings":
            data[f.name] = [finding.to_dict() for finding in value]
        elif f.name == "georef":
            data[f.name] = {name: diagnosis.to_dict() for name, diagnosis in value.items()}
        else:
            if json.loads(json.dumps(value)) != value:
                raise TypeError(f"ImportResult.{f.name} does not survive JSON as it is "
                                f"({type(value).__name__}); teach api.import_process it")
            data[f.name] = value
    return data


def result_from_data(data: Mapping[str, Any]) -> ImportResult:
    from gridmap.serialize import campus_from_geojson
    from importers.campus import ImportResult

    names = {f.name for f in dataclasses.fields(ImportResult)}
    values: dict[str, Any] = {k: v for k, v in data.items() if k in names}
    values["campus"] = campus_from_geojson(data["campus"])
    if "findings" in values:
        values["findings"] = [finding_from_dict(d) for d in values["findings"]]
    if "georef" in values:
        from importers.georef import FitDiagnosis

        values["georef"] = {name: FitDiagnosis.from_dict(d)
                            for name, d in values["georef"].items()}
    return ImportResult(**values)


def finding_from_dict(data: Mapping[str, Any]) -> Finding:
    """The inverse of :meth:`importers.findings.Finding.to_dict`."""
    from importers.findings import Finding, FindingKind, Severity

    at = data.get("at")
    return Finding(
        kind=FindingKind(data["kind"]), message=str(data["message"]),
        severity=Severity(data["severity"]), source=str(data.get("source", "")),
        at=None if at is None else (float(at[0]), float(at[1])), ref=str(data.get("ref", "")),
        action=str(data.get("action", "")), building=str(data.get("building", "")),
        level=str(data.get("level", "")), placed_on_earth=bool(data.get("on_earth", False)))


# --- the child ------------------------------------------------------------------------------


def _vm(field: str) -> int:
    """A ``Vm*`` line of /proc/self/status, bytes (0 where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value if which != resource.RLIMIT_CPU else hard))


class _Pipe:
    """The child's end: one JSON object a line (the call's thread and the ticker share it)."""

    def __init__(self, fd: int) -> None:
        self.out = os.fdopen(fd, "w", encoding="utf-8", closefd=True)
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self.lock:
            self.out.write(line)
            self.out.flush()


class _Progress:
    """The call's progress, said again with the time it has taken when a step runs long (one
    floor plan of a large school can take a minute): the bar and the job's message show the
    import is alive, at the same percent."""

    def __init__(self, pipe: _Pipe, tick_s: float) -> None:
        self.pipe = pipe
        self.tick_s = tick_s
        self.last: tuple[int, str, float] | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True, name="progress")

    def __call__(self, percent: int, message: str) -> None:
        text = str(message)[:280]
        self.last = (int(percent), text, time.monotonic())
        self.pipe.send({"progress": [int(percent), text]})

    def _tick(self) -> None:
        while not self.stopped.wait(self.tick_s):
            last = self.last
            if last is None:
                continue
            percent, text, since = last
            took = time.monotonic() - since
            if took >= self.tick_s:
                self.pipe.send({"progress": [percent, f"{text}: {took:.0f} s so far"]})

    def __enter__(self) -> _Progress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


def _own_limits(limits: Mapping[str, Any], seconds: float,
                memory_bytes: int) -> ImportLimits:
    """The importer's own (cooperative) limits: the caller's, at most the sandbox's (the same
    numbers in its messages); the process is killed a little after them (its grace is longer
    than the child's start)."""
    from importers.limits import ImportLimits

    asked = ImportLimits(**limits)
    own_time = seconds
    own_memory = memory_bytes / _MIB
    return dataclasses.replace(
        asked,
        time_limit_s=own_time if asked.time_limit_s is None
        else min(asked.time_limit_s, own_time),
        memory_limit_mb=own_memory if asked.memory_limit_mb is None
        else min(asked.memory_limit_mb, own_memory))


def _function(name: str) -> Callable[..., Any]:
    import importlib

    module, _, function = name.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return found


def import_call(*, manifest: str, previous: Mapping[str, Any] | None,
                limits: Mapping[str, Any], seconds: float, importer: str, progress: Progress,
                ends: float, memory_bytes: int) -> dict[str, Any]:
    """The import as the child runs it (see :func:`run_in_sandbox`): ``importer`` (like
    :func:`importers.campus.import_campus`) on the manifest, its result as data."""
    from gridmap.serialize import campus_from_geojson

    campus = None if previous is None else campus_from_geojson(previous)
    result = _function(importer)(Path(manifest), campus,
                                 _own_limits(limits, seconds, memory_bytes),
                                 progress=progress)
    return result_to_data(result)


def _die_with_parent(parent: int) -> None:
    """Be killed when the parent dies (Linux: the thread that started this process ends, which
    in the parent is the one waiting for it); elsewhere the CPU limit ends an orphan."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before that took hold
        os._exit(1)


def child_main(fd: int) -> int:
    """The child: limit itself, make the call, answer on ``fd``; the exit code is 0 once
    answered."""
    pipe = _Pipe(fd)
    request = json.load(sys.stdin)
    _die_with_parent(int(request["parent"]))
    _limit(resource.RLIMIT_CPU, int(request["cpu_seconds"]))
    _limit(resource.RLIMIT_FSIZE, _MAX_FILE_BYTES)  # its log; it writes no other file
    _limit(resource.RLIMIT_CORE, 0)  # no core file of a crash (it would hold the campus)
    try:
        import importlib

        for module in request["preload"]:
            importlib.import_module(str(module))
        function = _function(str(request["call"]))
        memory = int(request["memory_bytes"])
        rss, data, size = _vm("VmRSS"), _vm("VmData"), _vm("VmSize")
        _limit(resource.RLIMIT_DATA, data + memory)
        _limit(resource.RLIMIT_AS, size + memory + _AS_SLACK)
        pipe.send({"ready": {"rss": rss, "data": data, "pid": os.getpid()}})
        with _Progress(pipe, float(request["tick_s"])) as report:
            answer: dict[str, Any] = {"result": function(
                **request["arguments"], progress=report, ends=float(request["ends"]),
                memory_bytes=memory)}
    except MemoryError:
        answer = {"memory": "an allocation was refused"}
    except GridmapError as exc:
        if isinstance(exc.__cause__, MemoryError):
            answer = {"memory": exc.user_message}
        else:
            answer = {"error": error_to_data(exc)}
    except BaseException:
        answer = {"crash": traceback.format_exc()[-8000:]}
    try:
        pipe.send(answer)
    except MemoryError:
        pipe.send({"memory": "no memory was left to answer"})
    except (TypeError, ValueError):  # the call returned something that is not JSON data
        pipe.send({"crash": traceback.format_exc()[-8000:]})
    return 0


if __name__ == "__main__":
    code = child_main(int(sys.argv[1]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # answered: skip the interpreter's tear-down (a second under load)
