"""verifier/_pyhanko.py replaces the clock of two pyhanko-certvalidator modules: it must be the
version that was read, reading the clock exactly where it was read, and the pin must hold only
inside its block."""

from __future__ import annotations

import datetime as dt
import inspect
import re
import threading
from importlib.metadata import version

import pyhanko_certvalidator.ltv.ades_past as ades_past
import pyhanko_certvalidator.ltv.poe as poe
import pytest
from pyhanko_certvalidator.ltv.poe import POEManager

from verifier._pyhanko import PYHANKO_CERTVALIDATOR_VERSION, pinned_clock

AT = dt.datetime(2076, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_pinned_certvalidator_version() -> None:
    """On any other version, re-read ``ltv/poe.py`` and ``ltv/ades_past.py`` for every read of
    the clock (and every other use of the name ``datetime``) before moving the pin."""
    assert version("pyhanko-certvalidator") == PYHANKO_CERTVALIDATOR_VERSION


@pytest.mark.parametrize(("module", "reads"), [(poe, 2), (ades_past, 1)])
def test_the_clock_is_read_only_through_datetime_now(module: object, reads: int) -> None:
    source = inspect.getsource(module)  # type: ignore[arg-type]
    assert len(re.findall(r"\bdatetime\.now\(", source)) == reads
    assert not re.search(r"\b(utcnow|time\.time|date\.today)\b", source)
    assert "from datetime import datetime, timezone" in source


def test_undated_proofs_of_existence_take_the_validation_time() -> None:
    before = dt.datetime.now(dt.UTC)
    with pinned_clock(AT):
        assert POEManager()[b"looked up while validating"] == AT
    assert POEManager()[b"looked up later"] >= before  # the host's clock again


def test_the_pin_is_per_thread() -> None:
    seen: list[dt.datetime] = []
    worker = threading.Thread(target=lambda: seen.append(POEManager()[b"elsewhere"]))
    with pinned_clock(AT):
        worker.start()
        worker.join()
    assert seen and seen[0] < AT


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"), pinned_clock(AT.replace(tzinfo=None)):
        pass
