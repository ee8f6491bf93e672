"""Render and sign documents, in this process or in worker processes.

Each worker unlocks the signing key and parses the fonts once, then turns document contents into
signed PDFs; the parent keeps the registry, so only it writes to SQLite.

Each process also opens its own connection to the time-stamping service (and, for B-LT/B-LTA,
the OCSP/CRL fetchers): the home's ``signing.json`` says which PAdES profile each document type
gets. A failing outside service is not one document's failure: :class:`ServiceError` stops the
batch (it is raised, not yielded), and the documents of the group being written are not
registered; the re-run issues them once the service is back.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from authority.content import DocumentContent
from authority.fonts import default_font_set
from authority.keys import Identity, load_identity
from authority.ltv import LtvServices, ServiceError, load_signing_settings
from authority.render import Renderer
from authority.signing import DocumentSealer
from authority.twin import TwinSigner
from certseal.errors import CertsealError, RenderError

Job = tuple[DocumentContent, bool]


class Producer:
    """Renders and seals in the current process."""

    def __init__(self, keys_dir: Path, passphrase: str) -> None:
        self.renderer = Renderer(default_font_set())
        identity = load_identity(keys_dir, "signing", passphrase)
        self.settings = load_signing_settings(keys_dir.parent)
        services = LtvServices.build(keys_dir.parent, self.settings, identity)
        self.sealer = DocumentSealer(identity)
        self.twins = TwinSigner(identity)  # the machine-readable twin of archival documents
        self._sealers = {"B-B": self.sealer}
        self._identity, self._services = identity, services

    def sealer_for(self, doc_type: str) -> DocumentSealer:
        """The sealer of the document type's profile, made on first use."""
        profile = self.settings.profile(doc_type)
        sealer = self._sealers.get(profile)
        if sealer is None:
            sealer = self._sealers[profile] = _sealer(self._identity, profile, self._services)
        return sealer

    def make(self, job: Job) -> bytes | CertsealError:
        """The signed PDF, or the error of this one document; raises :class:`ServiceError`."""
        content, print_locked = job
        try:
            twin = None if print_locked else self.twins.attachment(content)
            pdf = self.renderer.render(content, print_locked=print_locked, attachment=twin)
            return self.sealer_for(content.doc_type.code).seal(pdf)
        except ServiceError:
            raise
        except CertsealError as e:
            return e

    def __call__(self, jobs: Iterable[Job]) -> Iterator[bytes | CertsealError]:
        for job in jobs:
            yield self.make(job)


def _sealer(identity: Identity, profile: str, services: LtvServices | None) -> DocumentSealer:
    return DocumentSealer(identity, profile=profile, services=services)


_worker: Producer | None = None


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a killed batch: ask Linux to kill it with its parent."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _init_worker(keys_dir: Path, passphrase: str, parent: int) -> None:
    global _worker
    _die_with_parent(parent)
    _worker = Producer(keys_dir, passphrase)


def _work(job: Job) -> bytes | tuple[str, str] | tuple[str, str, str]:
    assert _worker is not None
    try:
        result = _worker.make(job)
    except ServiceError as e:
        return ("service", e.en, e.zh)
    # Errors cross the process boundary as their two messages.
    return (result.en, result.zh) if isinstance(result, CertsealError) else result


# Up to this many documents in one call are produced in this process: starting the workers
# (a fresh interpreter each, fonts parsed, key unlocked) took about 10 s, far more than one or
# two documents cost (issue 15).
IN_PROCESS_MAX = 4


class ParallelProducer:
    """Renders and seals on all cores; results come back in the order of the jobs.

    The workers start on the first call of more than ``in_process_max`` documents; smaller
    calls before that are produced in this process."""

    def __init__(
        self,
        keys_dir: Path,
        passphrase: str,
        workers: int | None = None,
        in_process_max: int = IN_PROCESS_MAX,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        # Check the passphrase here, so a typo fails at once with a clear message.
        load_identity(keys_dir, "signing", passphrase)
        self._keys_dir, self._passphrase = keys_dir, passphrase
        self.in_process_max = in_process_max
        self._pool: ProcessPoolExecutor | None = None
        self._local: Producer | None = None

    def _start_pool(self) -> ProcessPoolExecutor:
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            # Fresh interpreters: forked workers would inherit the authority's lock and keep it
            # after the parent is killed.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._keys_dir, self._passphrase, os.getpid()),
        )
        return self._pool

    @property
    def started_workers(self) -> bool:
        """Whether the worker processes were started (a small job never starts them)."""
        return self._pool is not None

    def __call__(self, jobs: Iterable[Job]) -> Iterator[bytes | CertsealError]:
        jobs = list(jobs)
        if self._pool is None and len(jobs) <= self.in_process_max:
            if self._local is None:
                self._local = Producer(self._keys_dir, self._passphrase)
            yield from self._local(jobs)
            return
        pool = self._pool or self._start_pool()
        chunk = max(1, min(32, len(jobs) // (self.workers * 4)))
        for result in pool.map(_work, jobs, chunksize=chunk):
            if isinstance(result, bytes):
                yield result
            elif len(result) == 3:
                raise ServiceError(result[1], result[2])
            else:
                yield RenderError(*result)

    def worker_pids(self) -> list[int]:
        """For measuring the workers (bench/issuance.py); none before they start."""
        return list(self._pool._processes or {}) if self._pool is not None else []

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def __enter__(self) -> ParallelProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
