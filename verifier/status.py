"""The status lists the verifier relies on: fetched from a folder or over HTTP, verified,
refreshed periodically; a bad or older list is refused and the last good one kept.

The trust rules themselves are ``certseal.statuslist.TrustedSet``'s; this module feeds it what
the verifier already trusts: the newest version any worker has seen (the shared store), the
operator's pin, and the state in memory.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certseal.errors import CertsealError, FetchError
from certseal.eventlog import LOG_DIR
from certseal.fetch import published_fetcher
from certseal.keyhistory import KeyHistory, ref_from_snapshot
from certseal.pki import ec_public_key, keys_by_id, load_certificates
from certseal.statuslist import (
    Entry,
    Fetch,
    KeyLookup,
    Pin,
    Seen,
    TrustedState,
    fetch_pinned,
    load_trusted,
    lookup,
)
from certseal.timeutil import format_time
from verifier.store import Store


@dataclass(frozen=True)
class IssuerTrust:
    """One issuer the verifier trusts: its document roots, its pinned status-list keys, and
    the operator's floor for its list (minimum version or issue time)."""

    name: str
    roots: tuple[x509.Certificate, ...]
    status_certs: tuple[x509.Certificate, ...]
    source: str
    pin: Pin = field(default_factory=Pin)

    @classmethod
    def from_files(
        cls,
        name: str,
        roots: list[Path],
        status_certs: list[Path],
        source: str,
        pin: Pin | None = None,
    ) -> IssuerTrust:
        return cls(
            name,
            tuple(c for p in roots for c in load_certificates(p.read_bytes())),
            tuple(c for p in status_certs for c in load_certificates(p.read_bytes())),
            source,
            pin or Pin(),
        )

    def asn1_roots(self) -> list[asn1_x509.Certificate]:
        return [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in self.roots]

    def status_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return keys_by_id(self.status_certs).get(kid)


class _LRU(OrderedDict[str, object]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key: str, value: object) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


@dataclass(frozen=True)
class SourceStatus:
    issuer: str
    issuer_code: str | None
    issuer_name: str | None
    source: str
    loaded: bool
    version: int | None
    issued_at: str | None
    expires: str | None
    stale: bool
    last_checked: str | None
    last_error: str | None


# A worker that finds another one saw a newer list re-reads at most this often (a lagging host
# must not turn every request into a fetch).
BEHIND_RETRY_SECONDS = 1.0


# How long an answer waits for another thread's load when it has no list it may answer from
# (the first load, or a list older than another worker's): then it says the list is
# unavailable rather than wait on a slow host.
LOAD_WAIT_SECONDS = 5.0


def refresh_unless_busy(
    lock: threading.Lock, usable: bool, due: Callable[[], bool], refresh: Callable[[], None]
) -> None:
    """Run ``refresh`` under ``lock`` if it is still ``due`` there (another thread may have
    refreshed meanwhile), unless another thread is running it and what is held is ``usable``:
    then the answer goes on with it.

    A refresh fetches from the issuer's host. Before, every answer that found a refresh due
    waited for the one running, so a host answering slowly held every answer for its list
    (nationally, every answer that reached that school) for as long as the fetch took. Now one
    answer fetches; the others answer from the list held, which stays valid until it expires
    (a stale one is said to be stale). An answer with nothing usable waits at most
    ``LOAD_WAIT_SECONDS``; each file's fetch is itself bounded (``certseal.fetch``)."""
    got = lock.acquire(blocking=False) if usable else lock.acquire(timeout=LOAD_WAIT_SECONDS)
    if not got:
        return
    try:
        if due():
            refresh()
    finally:
        lock.release()


class StatusSource:
    """One issuer's status list as the verifier sees it. Thread-safe; refreshes lazily, and at
    once when the shared store says another worker already trusts a newer version."""

    def __init__(
        self,
        trust: IssuerTrust,
        counter: Store,
        *,
        refresh_seconds: float = 60.0,
        fetch: Fetch | None = None,
        log_fetch: Fetch | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.trust = trust
        self.counter = counter
        self.refresh_seconds = refresh_seconds
        self.fetch = fetch or published_fetcher(trust.source, "status")
        self.log_fetch = log_fetch or published_fetcher(trust.source, LOG_DIR)
        self.state: TrustedState | None = None
        self.last_checked: dt.datetime | None = None
        self.last_error: CertsealError | None = None
        # The school's key history the current list pins (docs/key-lifecycle.md), if any.
        self.key_history: KeyHistory | None = None
        self._history_sha256 = ""
        self._lock = threading.Lock()
        self._buckets: _LRU = _LRU(cache_size)
        self._shards: _LRU = _LRU(cache_size)

    def refresh(self, now: dt.datetime) -> None:
        """Load the current list; keep the last good one if the new one is bad or older."""
        with self._lock:
            self._refresh(now, self._shared_seen())

    def _shared_seen(self, stored: Seen | None = None) -> Seen:
        """The newest version any worker or instance trusted, and its time (the shared store;
        ``stored`` when the caller read it already, with other issuers')."""
        return self.counter.seen(self.trust.name) if stored is None else stored

    def _refresh(self, now: dt.datetime, shared: Seen) -> None:
        try:
            # The previous state is an input too: nothing older than it is accepted, and its
            # snapshot is kept without a download while the timestamp still pins it.
            state = load_trusted(
                self.fetch,
                self._key_lookup(now),
                reference_time=now,
                seen=shared,
                pin=self.trust.pin,
                allow_expired=True,
                previous=self.state,
            )
            self._accept(state)
            history = self._history_of(state, now)
        except CertsealError as e:
            self.last_error = self._explain(e)
        except Exception as e:  # a hostile host must not take the service down
            self.last_error = FetchError(f"unexpected error: {type(e).__name__}: {e}")
        else:
            self.last_error = None
            self.state, self.key_history = state, history
            self.counter.record_seen(self.trust.name, state.version, state.timestamp.issued_at)
        # Set last: concurrent requests wait for the first load instead of seeing none.
        self.last_checked = now

    def _history_of(self, state: TrustedState, now: dt.datetime) -> KeyHistory | None:
        """The key history the snapshot pins, fetched again only when its hash changed; a
        list whose history is missing or altered is refused like a bad list."""
        pinned = ref_from_snapshot(state.snapshot.extra)
        if pinned is None:
            return None
        path, ref = pinned
        if self.key_history is not None and self._history_sha256 == ref.sha256:
            return self.key_history
        data = fetch_pinned(self.fetch, path, ref, "key history")
        history = KeyHistory.open(data, self._key_lookup(now))
        self._history_sha256 = ref.sha256
        return history

    def log_keys(self) -> list[ec.EllipticCurvePublicKey]:
        """The keys the issuer's log checkpoints are signed with: its status-list keys."""
        return [ec_public_key(c) for c in self.trust.status_certs]

    def _key_lookup(self, now: dt.datetime) -> KeyLookup:
        """The keys a list may be signed with: the pinned status-list certificates."""
        return self.trust.status_key

    def _accept(self, state: TrustedState) -> None:
        """Refuse a verified list for a reason of the subclass's (a federation's school)."""

    def _explain(self, error: CertsealError) -> CertsealError:
        """The error to show for a refused list (a subclass may name a more specific one)."""
        return error

    def _due(self, now: dt.datetime, shared: Seen) -> bool:
        if self.last_checked is None:
            return True
        age = (now - self.last_checked).total_seconds()
        if age >= self.refresh_seconds:
            return True
        return age >= BEHIND_RETRY_SECONDS and self._behind(shared)

    def _behind(self, shared: Seen) -> bool:
        return self.state is not None and self.state.version < shared.version

    def current(self, now: dt.datetime, stored: Seen | None = None) -> TrustedState | None:
        """The list to answer with; None when none is trusted, or when another worker trusts a
        newer version that this one cannot load (answering from the older list could call a
        revoked document valid). ``stored``: the shared state, read for this answer already."""
        shared = self._shared_seen(stored)  # one cheap read per answer
        if self._due(now, shared):
            refresh_unless_busy(
                self._lock,
                self.state is not None and not self._behind(shared),
                lambda: self._due(now, shared),
                lambda: self._refresh(now, shared),
            )
        return None if self._behind(shared) else self.state

    def lookup(self, state: TrustedState, sha256: str) -> Entry | None:
        return lookup(
            state,
            sha256,
            self.fetch,
            bucket_cache=self._buckets,  # type: ignore[arg-type]
            shard_cache=self._shards,  # type: ignore[arg-type]
        )

    def describe(self, now: dt.datetime) -> SourceStatus:
        st = self.state
        return SourceStatus(
            issuer=self.trust.name,
            issuer_code=st.snapshot.issuer.code if st else None,
            issuer_name=st.snapshot.issuer.name_en if st else None,
            source=self.trust.source,
            loaded=st is not None,
            version=st.version if st else None,
            issued_at=format_time(st.timestamp.issued_at) if st else None,
            expires=format_time(st.expires) if st else None,
            stale=bool(st and st.is_expired(now)),
            last_checked=format_time(self.last_checked) if self.last_checked else None,
            last_error=self.last_error.message("en") if self.last_error else None,
        )
