"""The service's log lines: at once when quiet, in order and soon when busy, never lost on a
normal exit, never written twice after a fork, and the verification line's direct path writes
what logging would."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from verifier.loglines import BatchedLines, OneLineFormatter, write_direct

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def written(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def wait_for(check: object, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not check() and time.monotonic() < end:  # type: ignore[operator]
        time.sleep(0.005)


def test_a_quiet_process_writes_each_line_at_once() -> None:
    stream = io.StringIO()
    handler = BatchedLines(stream, interval=0.2)
    handler.add("one")
    assert written(stream) == ["one"]
    time.sleep(0.25)
    handler.add("two")
    assert written(stream) == ["one", "two"]


def test_a_busy_process_writes_its_lines_soon_and_in_order() -> None:
    stream = io.StringIO()
    handler = BatchedLines(stream, interval=0.2)
    for n in range(50):
        handler.add(f"line {n}")
    # The first went at once; the others wait for the writer, not for another line.
    assert written(stream) == ["line 0"]
    wait_for(lambda: len(written(stream)) == 50)
    assert written(stream) == [f"line {n}" for n in range(50)]


def test_a_warning_is_written_at_once_after_what_waits() -> None:
    stream = io.StringIO()
    handler = BatchedLines(stream, interval=5.0)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("certseal.test_loglines.warning")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("first")
        logger.info("waits")
        logger.warning("now")
        assert written(stream) == ["INFO first", "INFO waits", "WARNING now"]
    finally:
        logger.removeHandler(handler)


def test_threads_lose_no_line_and_keep_their_own_order() -> None:
    stream = io.StringIO()
    handler = BatchedLines(stream, interval=0.01)

    def add(t: int) -> None:
        for n in range(500):
            handler.add(f"{t} {n}")

    threads = [threading.Thread(target=add, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: len(written(stream)) == 2000)
    lines = written(stream)
    assert sorted(lines) == sorted(f"{t} {n}" for t in range(4) for n in range(500))
    for t in range(4):
        assert [x for x in lines if x.startswith(f"{t} ")] == [f"{t} {n}" for n in range(500)]


EXITING = """
import logging, sys
from verifier.loglines import BatchedLines, OneLineFormatter
handler = BatchedLines(sys.stderr, interval=60.0)
handler.setFormatter(OneLineFormatter())
logging.getLogger().addHandler(handler)
log = logging.getLogger("certseal.exit")
log.setLevel(logging.INFO)
for n in range(300):
    log.info("line %d", n)
"""


def test_a_normal_exit_writes_every_waiting_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXITING], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == [str(n) for n in range(300)]
    assert all(re.fullmatch(rf"{STAMP} INFO certseal\.exit: line \d+", line) for line in lines)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_does_not_write_its_parents_lines_again() -> None:
    read, write = os.pipe()
    stream = os.fdopen(write, "w")
    handler = BatchedLines(stream, interval=60.0)
    handler.add("parent first")  # at once
    handler.add("parent waiting")  # waits: the process wrote a moment ago
    pid = os.fork()
    if pid == 0:  # the child: its own line only, then exit without running the parent's cleanup
        try:
            handler.add("child")
            handler.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    handler.flush()
    stream.close()
    with os.fdopen(read) as r:
        lines = r.read().splitlines()
    assert sorted(lines) == ["child", "parent first", "parent waiting"]


@pytest.fixture
def our_logging() -> Iterator[tuple[logging.Logger, io.StringIO, BatchedLines, logging.Logger]]:
    """A logger tree set up as ``configure_logging`` sets the service's: our handler alone, on
    the root of a private tree (a separate Manager, so the test's own logging is untouched)."""
    root = logging.RootLogger(logging.WARNING)
    manager = logging.Manager(root)
    stream = io.StringIO()
    handler = BatchedLines(stream, interval=0.0)
    handler.setFormatter(OneLineFormatter())
    root.addHandler(handler)
    logger = manager.getLogger("certseal.verifier")
    logger.setLevel(logging.INFO)
    yield logger, stream, handler, root


def test_the_direct_line_is_what_logging_writes(
    our_logging: tuple[logging.Logger, io.StringIO, BatchedLines, logging.Logger],
) -> None:
    logger, stream, _, _ = our_logging
    message = "verify result=success reasons= sha256=ab\ncd"  # a newline is never a new line
    logger.info("%s", message)
    assert write_direct(logger, logging.INFO, message)
    through_logging, direct = written(stream)
    assert re.fullmatch(rf"{STAMP} INFO certseal\.verifier: .*", direct)
    assert direct.split(" ", 2)[2] == through_logging.split(" ", 2)[2]
    assert direct.endswith("sha256=ab\\ncd")


def test_the_direct_line_defers_to_any_other_logging_set_up(
    our_logging: tuple[logging.Logger, io.StringIO, BatchedLines, logging.Logger],
) -> None:
    logger, stream, handler, root = our_logging
    assert write_direct(logger, logging.INFO, "ours")
    other = logging.StreamHandler(io.StringIO())
    sieve = logging.Filter("certseal")
    changes: tuple[tuple[Callable[[], None], Callable[[], None]], ...] = (
        (lambda: logger.removeFilter(sieve), lambda: logger.addFilter(sieve)),
        (lambda: handler.removeFilter(sieve), lambda: handler.addFilter(sieve)),
        (lambda: logger.removeHandler(other), lambda: logger.addHandler(other)),
        (lambda: root.removeHandler(other), lambda: root.addHandler(other)),
        (lambda: setattr(logger, "propagate", True), lambda: setattr(logger, "propagate", False)),
        (lambda: handler.setLevel(logging.NOTSET), lambda: handler.setLevel(logging.WARNING)),
        (
            lambda: handler.setFormatter(OneLineFormatter()),
            lambda: handler.setFormatter(logging.Formatter()),
        ),
    )
    for undo, change in changes:
        change()
        try:
            assert not write_direct(logger, logging.INFO, "not ours")
        finally:
            undo()
    assert write_direct(logger, logging.INFO, "ours again")
    assert written(stream)[-1].endswith(": ours again")
    assert not [line for line in written(stream) if "not ours" in line]
