"""The service's log: one line per record, written at once when the service is quiet and in
small batches when it is busy.

Every verification writes a line. Written one by one, each line was a system call made with
the handler's lock held and the interpreter lock released: under load every answer handed the
interpreter to another thread and back, and the threads queued on the handler's lock
(``bench/verification.py --wrk``; docs/deployment.md, "Measured"). Here a line is written at once
when the process wrote nothing for :data:`INTERVAL`; otherwise it joins the lines waiting, which
one thread writes together at most :data:`INTERVAL` later, in the order they came. A warning or
worse is written at once with whatever waits before it, and everything waiting is written when
the process exits normally (logging's own shutdown flushes every handler). A process killed
outright (SIGKILL) loses at most its last :data:`INTERVAL` of lines; counts and the registry
never depend on the log.

Messages can hold text from an upload (pyhanko logs a certificate's subject): every line is
escaped to one line (:class:`OneLineFormatter`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import weakref
from collections import deque
from pathlib import Path
from typing import TextIO

INTERVAL = 0.02  # seconds a line may wait while the process is busy
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def escape_control(text: str) -> str:
    """Control characters (newline, carriage return, escape…) as visible escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class OneLineFormatter(logging.Formatter):
    """One line per record, whatever it carries.

    A newline in a message would forge a log line of its own: every control character is
    escaped, and an exception is its type and where it was raised, not a 20-line traceback."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        return self.stamp(record.created, record.msecs)

    def stamp(self, created: float, msecs: float) -> str:
        """logging's default time format, each second's text made once (a line per answer)."""
        second = int(created)
        held = self._second  # one read: another thread may replace it meanwhile
        if held[0] != second:
            text = time.strftime(self.default_time_format, self.converter(created))
            held = self._second = (second, text)
        return f"{held[1]},{int(msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        exc, record.exc_info, record.exc_text = record.exc_info, None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info = exc
        if exc and exc[1] is not None:
            where = traceback.extract_tb(exc[2])[-1:] if exc[2] else []
            at = f" at {Path(where[0].filename).name}:{where[0].lineno}" if where else ""
            line += f" [{type(exc[1]).__name__}{at}]"
        return escape_control(line)


class BatchedLines(logging.Handler):
    """Formatted records written to ``stream`` at once when the process is quiet, in batches
    when it is busy (the module's docstring says why)."""

    def __init__(self, stream: TextIO, interval: float = INTERVAL) -> None:
        super().__init__()
        self.stream = stream
        self.interval = interval
        self._fresh()
        held = weakref.ref(self)

        def after_fork() -> None:
            handler = held()
            if handler is not None:
                handler._fresh()

        os.register_at_fork(after_in_child=after_fork)

    def _fresh(self) -> None:
        # In a forked child: the lines waiting are the parent's to write, its thread is not here.
        self._lines: deque[str] = deque()
        self._written = 0.0  # time.monotonic() of the last write begun
        self._write = threading.Lock()
        self._due = threading.Event()
        self._writer: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add(line, at_once=record.levelno >= logging.WARNING)

    def add(self, line: str, *, at_once: bool = False) -> None:
        """Write ``line`` (already one line, without its newline) after those waiting."""
        self._lines.append(line)  # a deque's append and popleft are atomic: no lock here
        now = time.monotonic()
        if at_once or now - self._written >= self.interval:
            self._written = now  # claimed before the write: a concurrent line waits instead
            self.flush()
        elif not self._due.is_set():
            if self._writer is None:
                self._start()
            self._due.set()

    def flush(self) -> None:
        """Write every line waiting, in order."""
        with self._write:
            waiting = len(self._lines)
            if not waiting:
                return
            text = "".join([self._lines.popleft() + "\n" for _ in range(waiting)])
            self._written = time.monotonic()
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed or gone: the answer never depends on its log line

    def _start(self) -> None:
        with self._write:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="certseal-log", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        due, pause = self._due, self.interval
        while True:
            due.wait()
            due.clear()
            time.sleep(pause)  # the lines of the next moment join this write
            self.flush()


def write_direct(logger: logging.Logger, level: int, message: str) -> bool:
    """Write ``message`` as ``logger.log(level, "%s", message)`` would, straight into our
    handler, when that handler is the only one the record would reach, with our formatter, and
    nothing filters on the way; else write nothing and say so (the caller then logs as usual).

    For the line of every verification: the same text, without making a LogRecord per answer.
    The caller has checked ``logger.isEnabledFor(level)``."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return False
        if current.handlers:
            handler = current.handlers[0]
            formatter = handler.formatter
            if (
                len(current.handlers) > 1
                or current.parent is not None
                or type(handler) is not BatchedLines
                or type(formatter) is not OneLineFormatter
                or handler.filters
                or handler.level > level
            ):
                return False
            created = time.time()
            fields = {
                "asctime": formatter.stamp(created, int((created - int(created)) * 1000)),
                "levelname": logging.getLevelName(level),
                "name": logger.name,
                "message": message,
            }
            handler.add(escape_control(FORMAT % fields), at_once=level >= logging.WARNING)
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False
