"""What every part of one audit run shares: the site, the time, the memory, the findings."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from auditor.report import Recorder
from auditor.state import AuditorState
from certseal.errors import CertsealError
from certseal.fetch import Fetch, published_fetcher


@dataclass(frozen=True)
class Context:
    """One run: where the site is, what time it is, what was remembered, where findings go."""

    source: str
    now: dt.datetime
    state: AuditorState | None
    workers: int
    record: Recorder

    def fetcher(self, folder: str) -> Fetch:
        """Bounded reads of ``<folder>/...`` of the published site."""
        return published_fetcher(self.source, folder)


_T = TypeVar("_T")
_R = TypeVar("_R")


def prefetch(
    fn: Callable[[_T], _R], items: Iterable[_T], workers: int
) -> Iterator[tuple[_T, _R | CertsealError]]:
    """``fn`` over ``items`` on a few threads, yielded in order, a bounded window ahead (so
    memory stays bounded however many files there are); a CertsealError is yielded in place of
    its item's result."""

    def run(item: _T) -> _R | CertsealError:
        try:
            return fn(item)
        except CertsealError as e:
            return e

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[_T, Future[_R | CertsealError]]] = deque()
        for item in items:
            pending.append((item, pool.submit(run, item)))
            if len(pending) >= 4 * workers:
                first, future = pending.popleft()
                yield first, future.result()
        for first, future in pending:
            yield first, future.result()
