"""A reader timed in a fresh Python process: its own seconds and its peak memory.

The file benches (``bench_import``, ``bench_osm``) run gridmap and its peer (GDAL, ...) each in
a child of its own, so neither pays for the other's imports or memory. The child prints one
JSON line: what it read, its ``seconds`` and ``cpu``, and its ``peak`` from :func:`own_peak_bytes`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ChildRun:
    """One child's figures: its own seconds (wall and CPU) for the read, its peak resident
    bytes, and what it read."""

    reader: str
    seconds: float
    cpu: float
    peak_bytes: int
    result: dict[str, Any]


def own_peak_bytes() -> int | None:
    """This process's peak resident set since it started its program (Linux ``VmHWM``).
    ``ru_maxrss`` is no good here: it counts the forked copy of the parent (the bench, which
    generated the file) before the child's program replaced it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_child(module: str, reader: str, args: list[str]) -> ChildRun:
    """Run ``python -m module --child reader *args`` and read its figures."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", module, "--child", reader, *args],
                                cwd=REPO, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, with its own peak memory
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if code != 0:
        raise RuntimeError(f"{reader} child failed ({code}): {stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    peak = result.pop("peak") or usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return ChildRun(reader, float(result.pop("seconds")), float(result.pop("cpu")), peak, result)
