"""Imports in a separate process (api.import_process): limits, kills, errors, progress.

Hostile importers (tests/fixtures/hostile/importers.py) run in the child instead of the campus
importer; hostile drawings (tests/fixtures/hostile/drawings.py) go through the real one. Limits
are small (a few seconds, a few hundred MB) so each case ends fast; every test waits for the
import call to return (an event), never sleeps. Elapsed times are checked against the limit
with room for a loaded machine: the point is that nothing runs on unbounded.
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.import_process import (
    ImportProcessError,
    SandboxLimits,
    amount,
    finding_from_dict,
    import_in_sandbox,
    kill_grace,
    result_from_data,
    result_to_data,
    run_in_sandbox,
)
from api.jobs import (
    JobEnv,
    JobKind,
    JobQueue,
    JobState,
    JobWorker,
    _revisions_or_none,
    manifest_campus_id,
)
from api.settings import Settings
from api.store import SqlCampusStore
from gridmap.errors import (
    DxfError,
    GridmapError,
    ImportCrashed,
    ImportFailed,
    ImportOutOfMemory,
    ImportTimedOut,
)
from gridmap.model import Campus
from importers.findings import Finding, FindingKind, Severity
from importers.limits import ImportLimits
from tests.campus_factory import small_campus
from tests.fixtures.hostile import drawings

HOSTILE = "tests.fixtures.hostile.importers"
#: the time limit of the tests about time (the others have a minute: a loaded machine must
#: not turn their crash into a timeout)
SECONDS = 3.0
MEMORY = 300 * 1024 * 1024
#: how long past its limit a stopped import may take to come back on a loaded machine
#: (the child's start-up included)
SLACK_S = 20.0
MANIFEST = drawings.SAMPLE / "campus.toml"


class Said:
    """A progress callback that keeps what it was told."""

    def __init__(self, stop_on: str | None = None) -> None:
        self.lines: list[tuple[int, str]] = []
        self.stop_on = stop_on

    def __call__(self, percent: int, message: str) -> None:
        self.lines.append((percent, message))
        if self.stop_on is not None and message.startswith(self.stop_on):
            raise KeyboardInterrupt(message)

    @property
    def messages(self) -> list[str]:
        return [m for _, m in self.lines]


def hostile(name: str, progress: Callable[[int, str], None], *, seconds: float = 60.0,
            memory: int = MEMORY, previous: Any = None) -> Any:
    return import_in_sandbox(MANIFEST, previous, ImportLimits(), SandboxLimits(seconds, memory),
                             progress, importer=f"{HOSTILE}:{name}")


def gone(pid: int, within_s: float = 30.0) -> bool:
    """Whether the process ends within ``within_s`` (a SIGKILL is delivered asynchronously:
    waits on a pidfd, which becomes readable when the process exits)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], within_s)
        return bool(readable)
    finally:
        os.close(pidfd)


# --- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("importer", ["allocate_without_bound", "touch_without_bound"])
def test_an_importer_allocating_without_bound_is_stopped_at_the_memory_limit(
        importer: str) -> None:
    said = Said()
    started = time.monotonic()
    with pytest.raises(ImportOutOfMemory) as caught:
        hostile(importer, said)
    assert time.monotonic() - started < 60.0  # the memory limit stopped it, not the clock
    assert "allocating" in said.messages[-1]  # it was running
    message = caught.value.user_message
    assert f"needed more than {amount(MEMORY)} of memory" in message
    assert "GRIDMAP_IMPORT_MEMORY_LIMIT_MB" in message and "nothing was stored" in message


def test_a_loop_that_never_checks_its_limits_is_killed_at_the_deadline() -> None:
    said = Said()
    started = time.monotonic()
    with pytest.raises(ImportTimedOut) as caught:
        hostile("spin_forever", said, seconds=SECONDS)
    elapsed = time.monotonic() - started
    assert SECONDS + kill_grace(SECONDS) <= elapsed < SECONDS + SLACK_S
    assert said.messages[1:] == ["spinning"]
    assert f"took longer than {SECONDS:g} s" in caught.value.user_message


def test_the_whole_process_group_is_killed_with_the_import() -> None:
    said = Said()
    with pytest.raises(ImportTimedOut):
        hostile("leave_a_grandchild_and_hang", said, seconds=SECONDS)
    line = said.messages[-1]
    assert gone(int(line.split()[1]))


def test_an_exception_in_the_progress_callback_kills_the_import() -> None:
    # a job that lost its lease raises from its progress callback: the child must not live on
    said = Said(stop_on="grandchild")
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        hostile("leave_a_grandchild_and_hang", said, seconds=600.0)
    assert time.monotonic() - started < SLACK_S
    assert gone(int(said.messages[-1].split()[1]))


def test_the_import_dies_with_the_process_that_started_it() -> None:
    # a service killed mid-import (SIGKILL, no clean-up) leaves no import running on
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from api.import_process import SandboxLimits, import_in_sandbox\n"
            "from importers.limits import ImportLimits\n"
            "def say(percent, message):\n"
            "    print(message, flush=True)\n"
            f"import_in_sandbox(Path({str(MANIFEST)!r}), None, ImportLimits(),\n"
            f"                  SandboxLimits(600, {MEMORY}), say,\n"
            f"                  importer='{HOSTILE}:say_pid_and_spin')\n")
    service = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               cwd=drawings.ROOT, text=True)
    try:
        assert service.stdout is not None
        line = ""
        for line in service.stdout:
            if line.startswith("pid "):
                break
        pid = int(line.split()[1])
    finally:
        service.kill()
        service.wait()
    assert gone(pid)


# --- how a child ends becomes a named error ---------------------------------------------------


def test_a_crash_by_signal_is_named() -> None:
    with pytest.raises(ImportCrashed) as caught:
        hostile("die_by_signal", Said())
    assert "SIGSEGV" in caught.value.user_message
    assert "nothing was stored" in caught.value.user_message


def test_a_kill_the_parent_did_not_send_reads_as_out_of_memory() -> None:
    # the kernel's OOM killer sends SIGKILL: the user is told it was most likely memory
    with pytest.raises(ImportOutOfMemory) as caught:
        hostile("killed_from_outside", Said())
    assert "SIGKILL" in caught.value.user_message


def test_an_exit_without_an_answer_is_a_crash() -> None:
    with pytest.raises(ImportCrashed) as caught:
        hostile("exit_without_answer", Said())
    assert "without an answer" in caught.value.user_message


def test_an_importer_error_keeps_its_class_and_messages() -> None:
    with pytest.raises(DxfError) as caught:
        hostile("refuse_the_drawing", Said())
    assert type(caught.value) is DxfError
    assert str(caught.value) == "floor.dxf: internal detail"
    assert caught.value.user_message == "floor.dxf: no rooms found"


def test_a_bug_in_the_child_is_an_internal_error_with_its_traceback() -> None:
    with pytest.raises(ImportProcessError) as caught:
        hostile("have_a_bug", Said())
    assert not isinstance(caught.value, GridmapError)  # job workers log and retry these
    assert "KeyError: 'no such key'" in str(caught.value)


# --- what crosses the boundary ----------------------------------------------------------------


def test_progress_and_result_survive_the_childs_own_output() -> None:
    campus = small_campus()
    said = Said()
    result = hostile("chatter_and_echo", said, previous=campus, seconds=SECONDS * 10)
    assert said.lines == [(0, f"starting the import of {MANIFEST.name}")] + [
        (p, f"step {p}") for p in range(0, 101, 25)]
    assert result.campus == campus
    assert result.warnings == ["a warning"] and result.residuals == {"a.dxf": 0.125}
    # the importer's own limits end before the process's, so its message comes first
    own_time, own_memory = (float(line.rsplit(" ", 1)[1]) for line in result.nearby_distances)
    assert own_time == SECONDS * 10  # the same number in the importer's own message
    assert own_memory == MEMORY / 2**20


def test_a_real_result_round_trips_as_data() -> None:
    from importers.campus import import_campus

    result = import_campus(MANIFEST)
    assert result.georef and result.residuals  # every field that has to cross is filled
    again = result_from_data(json.loads(json.dumps(result_to_data(result))))
    assert again == result


def test_a_finding_round_trips_as_data() -> None:
    finding = Finding(FindingKind.ROOM_OUTSIDE_FOOTPRINT, "room 12 lies outside the facade",
                      Severity.WARNING, source="a.dxf", at=(-84.43, 42.7), ref="12",
                      action="kept", building="A", level="1", placed_on_earth=True)
    assert finding_from_dict(finding.to_dict()) == finding


def test_the_campus_importer_in_the_child_matches_it_in_process() -> None:
    from importers.campus import import_campus

    said = Said()
    result = import_in_sandbox(MANIFEST, None, ImportLimits(), SandboxLimits(120, 1024**3),
                               said)
    assert result == import_campus(MANIFEST)
    percents = [p for p, _ in said.lines]
    assert percents == sorted(percents) and len(set(percents)) >= 3, said.lines
    assert any("A_level1.dxf" in m for m in said.messages)


# --- hostile drawings through the real importer ------------------------------------------------


HOSTILE_DRAWINGS: dict[str, Callable[[Path], Path]] = {
    "deeply nested blocks": drawings.deep_nesting,
    "self-referencing blocks": drawings.self_reference,
    "a MINSERT of 900 million rooms": drawings.huge_minsert,
    "a million LINE entities": drawings.millions_of_lines,
}


@pytest.mark.parametrize("case", sorted(HOSTILE_DRAWINGS))
def test_a_hostile_drawing_ends_in_a_clear_error_within_the_limits(
        case: str, tmp_path: Path) -> None:
    folder = drawings.campus_folder(tmp_path)
    HOSTILE_DRAWINGS[case](folder)
    said = Said()
    started = time.monotonic()
    with pytest.raises(ImportFailed) as caught:
        import_in_sandbox(folder / "campus.toml", None, ImportLimits(),
                          SandboxLimits(SECONDS * 2, MEMORY * 2), said)
    assert time.monotonic() - started < SECONDS * 2 + SLACK_S
    message = caught.value.user_message
    stopped = isinstance(caught.value, ImportTimedOut | ImportOutOfMemory)
    assert stopped or drawings.DRAWING in message, message  # names the drawing or the limit
    assert "Traceback" not in message


def test_a_drawing_too_large_for_the_memory_limit_is_stopped_by_it(tmp_path: Path) -> None:
    folder = drawings.campus_folder(tmp_path)
    drawings.millions_of_lines(folder)  # ~80 MB of DXF text: ezdxf needs far more than 300 MB
    unbudgeted = ImportLimits(entity_budget=10**9)  # only the memory limit is left to stop it
    with pytest.raises(ImportOutOfMemory) as caught:
        import_in_sandbox(folder / "campus.toml", None, unbudgeted,
                          SandboxLimits(600.0, MEMORY), Said())
    message = caught.value.user_message
    assert message.startswith(f"the import needed more than {amount(MEMORY)} of memory")
    assert drawings.DRAWING in message  # the importer's own words say which file


# --- the job: nothing half-written, the service goes on -----------------------------------------


def test_a_killed_import_job_stores_nothing_and_the_worker_goes_on(
        settings: Settings, store: SqlCampusStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    import api.import_process

    # the job's importer loops without ever checking a limit: only the kill can stop it
    real = api.import_process.import_in_sandbox
    monkeypatch.setattr(api.import_process, "import_in_sandbox",
                        functools.partial(real, importer=f"{HOSTILE}:spin_forever"))
    tight = settings.model_copy(update={"import_time_limit_s": SECONDS,
                                        "import_memory_limit_mb": 300.0})
    queue = JobQueue(store.engine)
    worker = JobWorker(queue, JobEnv(store, tight), "test worker", lease_s=60.0)
    campus_id = manifest_campus_id(MANIFEST)
    bad = queue.enqueue(JobKind.IMPORT, campus_id, {"manifest": str(MANIFEST)},
                        requested_by="tests")
    job = worker.run_one()
    assert job is not None and job.id == bad.id
    assert job.state is JobState.FAILED and job.error_type == "ImportTimedOut", job
    assert job.error is not None and f"took longer than {SECONDS:g} s" in job.error
    assert job.percent < 70  # it never got past the import's share of the job
    assert _revisions_or_none(store, campus_id) == []  # nothing half-written
    # the same worker (the service) imports the next manifest as if nothing happened
    monkeypatch.setattr(api.import_process, "import_in_sandbox", real)
    worker.env = JobEnv(store, settings)
    good = queue.enqueue(JobKind.IMPORT, campus_id, {"manifest": str(MANIFEST)},
                         requested_by="tests")
    done = worker.run_one()
    assert done is not None and done.id == good.id and done.state is JobState.DONE, done
    assert [r.number for r in store.revisions(campus_id)] == [done.result_revision]


# --- progress: the job's percent and the CLI's bar ----------------------------------------------


def test_an_import_job_reports_each_floor_plan_as_it_goes(
        settings: Settings, store: SqlCampusStore) -> None:
    from api.jobs import run_import

    queue = JobQueue(store.engine)
    job = queue.enqueue(JobKind.IMPORT, manifest_campus_id(MANIFEST),
                        {"manifest": str(MANIFEST)}, requested_by="tests")
    said = Said()
    run_import(JobEnv(store, settings), job, said)
    percents = [p for p, _ in said.lines]
    assert percents == sorted(percents)
    reading = [(p, m) for p, m in said.lines
               if m.startswith("reading ") and ".dxf" in m and not m.endswith(" so far")]
    drawings_in_manifest = sorted(p.name for p in MANIFEST.parent.glob("*.dxf"))
    assert sorted(m.split()[1] for _, m in reading) == drawings_in_manifest
    # each floor plan moves the job on: distinct percents inside the import's share of the job
    assert len({p for p, _ in reading}) == len(reading)
    assert all(10 <= p <= 70 for p, _ in reading)


def test_the_progress_bar_redraws_one_line_on_a_terminal() -> None:
    from api.cli_progress import BAR_WIDTH, ImportProgress

    out = io.StringIO()
    bar = ImportProgress(out, tty=True)
    bar(0, "reading campus.toml")
    bar(50, "reading A_level2.dxf")
    bar(100, "done")
    bar.close()
    text = out.getvalue()
    assert "\n" not in text  # redrawn in place, then cleared for the report
    frames = [f for f in text.split("\r\x1b[2K") if f]
    assert frames == [f"[{'.' * BAR_WIDTH}]   0% reading campus.toml",
                      f"[{'#' * (BAR_WIDTH // 2)}{'.' * (BAR_WIDTH // 2)}]  50% "
                      "reading A_level2.dxf",
                      f"[{'#' * BAR_WIDTH}] 100% done"]
    assert text.endswith("\r\x1b[2K")


def test_the_progress_in_a_log_is_one_plain_line_per_stage() -> None:
    from api.cli_progress import ImportProgress

    out = io.StringIO()
    progress = ImportProgress(out)  # a StringIO is no terminal
    for percent, message in [(0, "starting"), (5, "reading A.dxf"), (5, "reading A.dxf"),
                             (45, "reading B.dxf")]:
        progress(percent, message)
    progress.close()
    assert out.getvalue() == "import   5% reading A.dxf\nimport  45% reading B.dxf\n"


def test_a_progress_bar_whose_stream_is_gone_does_not_stop_the_import() -> None:
    from api.cli_progress import ImportProgress

    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")  # stderr piped into a reader that left

    for tty in (True, False):
        progress = ImportProgress(Gone(), tty=tty)
        progress(10, "reading A.dxf")
        progress(50, "reading B.dxf")
        progress.close()
        assert progress.broken


def test_gridmap_import_shows_progress_on_stderr_and_the_report_on_stdout(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from api import cli

    assert cli.main(["import", str(MANIFEST)]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines and all(line.startswith("import ") for line in lines), lines
    percents = [int(line.split()[1].rstrip("%")) for line in lines]
    assert percents == sorted(percents) and len(set(percents)) >= 3
    assert "import" not in captured.out.split("\n", 1)[0]  # the report alone on stdout
    assert ": stored revision 1" in captured.out


def test_the_service_answers_while_and_after_a_hostile_import_is_stopped(
        tmp_path: Path, settings: Settings, store: SqlCampusStore, viewer_token: str,
        stored_campus: Campus) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    folder = drawings.campus_folder(tmp_path)
    drawings.millions_of_lines(folder)
    tight = settings.model_copy(update={"job_workers": 1, "import_time_limit_s": SECONDS,
                                        "import_memory_limit_mb": 300.0})
    app = create_app(tight, store)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.headers["Authorization"] = f"Bearer {viewer_token}"
        job = app.state.jobs.submit(JobKind.IMPORT, manifest_campus_id(folder / "campus.toml"),
                                    {"manifest": str(folder / "campus.toml")},
                                    requested_by="tests", requested_by_id=None)
        # the import runs in its worker's child process; the API answers meanwhile
        assert c.get("/healthz").status_code == 200
        assert c.get(f"/campuses/{stored_campus.id}").status_code == 200
        assert app.state.jobs.workers.wait_for(job.id, timeout=SECONDS + SLACK_S + 60)
        ended = app.state.jobs.queue.get(job.id)
        assert ended.state is JobState.FAILED
        assert ended.error_type in {"ImportTimedOut", "ImportOutOfMemory",
                                    "ImportLimitExceeded"}, ended.error
        assert c.get("/healthz").status_code == 200
        assert c.get(f"/campuses/{stored_campus.id}").status_code == 200
        assert all(t.is_alive() for t in app.state.jobs.workers._threads)


# --- any call ------------------------------------------------------------------------------


def test_any_call_runs_in_the_sandbox_with_its_arguments_and_limits() -> None:
    said = Said()
    answer = run_in_sandbox(f"{HOSTILE}:echo_call", {"path": "plan.dxf", "n": [1, 2.5]},
                            SandboxLimits(60.0, MEMORY), said)
    assert answer["arguments"] == {"path": "plan.dxf", "n": [1, 2.5]}
    assert 0 < answer["seconds_left"] < 60.0 and answer["memory_bytes"] == MEMORY
    assert said.lines == [(50, "echoing")]


def test_a_stopped_call_is_named_by_what_it_does() -> None:
    with pytest.raises(ImportTimedOut) as caught:
        run_in_sandbox(f"{HOSTILE}:spin_call", {}, SandboxLimits(SECONDS, MEMORY),
                       what="reading the drawing")
    assert caught.value.user_message.startswith(
        f"reading the drawing took longer than {SECONDS:g} s")


def test_a_call_answering_what_json_cannot_say_is_an_internal_error() -> None:
    with pytest.raises(ImportProcessError, match="not JSON serializable"):
        run_in_sandbox(f"{HOSTILE}:answer_what_json_cannot_say", {},
                       SandboxLimits(60.0, MEMORY))


def test_a_long_step_is_said_again_with_its_time_so_far() -> None:
    said = Said()
    with pytest.raises(ImportTimedOut):
        run_in_sandbox(f"{HOSTILE}:spin_call", {}, SandboxLimits(SECONDS, MEMORY), said,
                       tick_s=0.25)
    assert said.lines[0] == (10, "spinning")
    again = said.lines[1:]
    assert again, said.lines  # the spin outlived several ticks
    assert all(percent == 10 and message.startswith("spinning: ") and
               message.endswith(" s so far") for percent, message in again)
    seconds = [int(m.split(": ")[1].split()[0]) for _, m in again]
    assert seconds == sorted(seconds) and seconds[-1] >= 1


def test_without_pidfds_the_childs_exit_is_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")  # a kernel before 5.3

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    answer = run_in_sandbox(f"{HOSTILE}:echo_call", {"x": 1}, SandboxLimits(60.0, MEMORY))
    assert answer["arguments"] == {"x": 1}
    with pytest.raises(ImportCrashed, match="SIGSEGV"):
        hostile("die_by_signal", Said())
