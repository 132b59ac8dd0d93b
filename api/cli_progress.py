"""How ``gridmap import`` shows an import's progress on the terminal.

On a terminal, one line redrawn in place: a bar, the percent and what the import is doing,
cut to the terminal's width, cleared when the import ends (the report follows). Written to a
file or a pipe (a cron job's log), one plain line each time the import moves on to something
new (from its first step: a failure at the start is the error line alone), so the log says
how far it came before a limit stopped it. Both go to standard error:
standard output keeps the report alone.
"""

from __future__ import annotations

import shutil
from typing import TextIO

BAR_WIDTH = 24


class ImportProgress:
    """A ``progress(percent, message)`` callback drawing on ``out``."""

    def __init__(self, out: TextIO, *, tty: bool | None = None, what: str = "import") -> None:
        """``what`` starts each plain line ("import  40% ..."; "analysis" for an upload's)."""
        self.out = out
        self.what = what
        if tty is None:
            try:
                tty = out.isatty()
            except (AttributeError, ValueError):  # a closed or file-less stream
                tty = False
        self.tty = tty
        self.drawn = False
        self.said: str | None = None
        self.broken = False

    def __call__(self, percent: int, message: str) -> None:
        if self.broken:
            return
        percent = max(0, min(100, int(percent)))
        try:
            if self.tty:
                self._draw(percent, message)
            elif percent > 0 and message != self.said:  # 0 %: started, nothing done yet
                self.said = message
                self.out.write(f"{self.what} {percent:3d}% {message}\n")
                self.out.flush()
        except (OSError, ValueError):  # stderr closed or a pipe gone: the import goes on
            self.broken = True

    def _draw(self, percent: int, message: str) -> None:
        filled = BAR_WIDTH * percent // 100
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {message}"
        columns = shutil.get_terminal_size((80, 24)).columns
        self.out.write("\r\x1b[2K" + line[:max(10, columns - 1)])
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        """Clear the bar (on a terminal), so what is printed next starts on a clean line."""
        if self.tty and self.drawn and not self.broken:
            try:
                self.out.write("\r\x1b[2K")
                self.out.flush()
            except (OSError, ValueError):
                self.broken = True
            self.drawn = False
