"""The run: prove, from the published folder or its URL alone, that history was not rewritten.

Like a Certificate Transparency monitor, the auditor replays the whole log and remembers what
it saw (:class:`~auditor.state.AuditorState`), so that the next run can tell a log that was only
extended from one that was rewritten. One run checks, in order:

- the status-list key: pinned (given, compared with a fingerprint, or remembered), or said
  plainly to be trusted as found (:mod:`auditor.keys`);
- the status list and every earlier snapshot still published (:mod:`auditor.status`);
- the checkpoints, their listing, the leaves, the tiles and the consistency proofs
  (:mod:`auditor.history`), the leaves replayed once in bounded memory (:mod:`auditor.replay`);
- the history rules between events, the status list against the log shard by shard and every
  pinned file, and what was revoked or superseded in a log seen before.

Every finding is a :class:`~auditor.report.Violation` with a stable code;
:class:`~auditor.report.AuditReport` carries every check, passed or failed, and ``ok`` is its
one summary.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric import ec

from auditor import history
from auditor.context import Context
from auditor.keys import normalize_pin, trusted_key
from auditor.replay import Replay
from auditor.report import AuditReport, LeafFindings, Recorder
from auditor.state import AuditorState, SeenCheckpoint
from auditor.status import StatusList, compare_with_log, status_list
from certseal import tlog
from certseal.eventlog import LOG_DIR, PublishedLog, checkpoint_time
from certseal.fetch import published_fetcher
from certseal.pki import key_id

_AFTER_THE_LOG = ("consistency", "log_entries", "tiles", "event_history", "status_vs_log")


def audit(
    source: str,
    *,
    reference_time: dt.datetime,
    state: AuditorState | None = None,
    key: ec.EllipticCurvePublicKey | None = None,
    pin: str | None = None,
    require_pinned_key: bool = False,
    workers: int | None = None,
) -> AuditReport:
    """Audit the site published at ``source`` (a folder or an http(s) URL).

    Args:
        reference_time: now, to tell an expired status list.
        state: what an earlier audit of this site remembered, if any (it pins the key).
        key: the status-list key to trust. Without it, the published ``certs/statuslist.pem``
            is used: checked against ``pin`` or the remembered key id if there is one, else
            trusted as found, which the report says plainly.
        pin: the SHA-256 fingerprint of the status-list certificate, or its key id.
        require_pinned_key: make a key pinned by nothing a violation (``key_unpinned``).
        workers: parallel reads; by default 8 over http(s), where each waits on the network,
            and 3 from a folder, where more threads only contend with the replay for the GIL
            (measured at 3,000,000 events: 8 threads cost a third more CPU time than 3).

    Raises:
        PinError: ``pin`` is not a fingerprint (bad input, said before anything is read).
    """
    if pin is not None:
        normalize_pin(pin)
    if workers is None:
        workers = 8 if source.startswith(("http://", "https://")) else 3
    ctx = Context(source, reference_time, state, workers, Recorder())
    return _run(ctx, key, pin, require_pinned_key)


def _run(
    ctx: Context, given: ec.EllipticCurvePublicKey | None, pin: str | None, require: bool
) -> AuditReport:
    record = ctx.record
    key = trusted_key(ctx, given, pin, require)
    found = status_list(ctx, key) if key is not None else None
    ref = found.log if found else None
    older = [(s.version, s.log) for s in found.older if s.log is not None] if found else []
    log = PublishedLog(published_fetcher(ctx.source, LOG_DIR))
    cps = history.checkpoints(ctx, log, key, ref, older) if key is not None else {}
    events: Replay | None = None
    if cps:
        latest = max(cps.values(), key=lambda c: c.size)
        counted = [r.size for _, r in older] + ([ref.size] if ref else [])
        events, _ = history.replay(ctx, log, latest, cps, counted)
        _fold(ctx, events, found)
    else:
        for name in _AFTER_THE_LOG:
            record.done(name, "skipped: no checkpoint could be trusted", "skipped")
        record.done("remembered", "skipped: the log could not be replayed", "skipped")
    new_state = None
    if not record.violations and key is not None and found is not None and cps:
        new_state = _new_state(ctx, key, found, cps, events)
    return record.report(ctx.source, new_state)


def _fold(ctx: Context, events: Replay, found: StatusList | None) -> None:
    """The second pass: the rules between one document's events, the status list against the
    log, what was remembered."""
    record = ctx.record
    ref = found.log if found else None
    state = ctx.state
    fold_findings = LeafFindings()
    compare_at = ref.size if ref is not None and ref.size <= events.count else None
    implied = events.fold(
        fold_findings,
        compare_at,
        found.trusted.snapshot.shard_prefix_len if found else 1,
        state.revoked if state else {},
        state.superseded if state else {},
    )
    if found is not None and ref is not None and compare_at is not None:
        at = compare_at
        compare_with_log(ctx, found, implied, lambda: events.counts_at(at))
        for older in found.older:
            if older.log is None or older.log.size > events.count:
                continue
            counts = events.counts_at(older.log.size)
            if dict(older.snapshot.counts) != counts:
                record.flag(
                    "status_vs_log",
                    "status_mismatch",
                    f"snapshot {older.version} counts {dict(older.snapshot.counts)}; the log at "
                    f"checkpoint {older.log.size} says {counts}",
                )
    else:
        for _ in implied:
            pass  # the rules still run; there is no status list to compare
    fold_findings.flush(record)
    record.facts["replayed"] = f"{events.count} leaves: {events.documents} documents; " + ", ".join(
        f"{k} {v}" for k, v in events.kinds.items()
    )
    record.done("event_history", "no event contradicts an earlier one, none is back-dated")
    if ref is None or found is None:
        record.done("status_vs_log", "skipped: no status list to compare", "skipped")
    elif compare_at is None:
        record.flag(
            "status_vs_log",
            "truncated_log",
            f"the status list relies on checkpoint {ref.size}, but the log holds "
            f"{events.count} leaves",
        )
        record.done("status_vs_log", "")
    else:
        total = sum(events.counts_at(ref.size).values())
        record.done(
            "status_vs_log",
            f"status list version {found.trusted.version} ({total} documents) is exactly "
            f"the log at checkpoint {ref.size}; every file it pins is published",
        )
    if state is None:
        record.done("remembered", "first audit of this site: nothing remembered yet", "skipped")
    else:
        record.done(
            "remembered",
            f"revocations seen before: {len(state.revoked)}, supersessions: "
            f"{len(state.superseded)}; all still in the log",
        )


def _new_state(
    ctx: Context,
    key: ec.EllipticCurvePublicKey,
    found: StatusList,
    cps: dict[int, tlog.Checkpoint],
    events: Replay | None,
) -> AuditorState:
    state = ctx.state
    seen = {c.size: c for c in state.checkpoints} if state else {}
    for cp in cps.values():
        seen[cp.size] = SeenCheckpoint(cp.size, cp.root_hash, checkpoint_time(cp))
    return AuditorState(
        key_id(key),
        next(iter(cps.values())).origin,
        found.trusted.version,
        tuple(seen[s] for s in sorted(seen)),
        events.revoked if events else {},
        events.superseded if events else {},
        {**(state.snapshots if state else {}), **found.snapshot_hashes},
    )
