"""Kept for code written before the shared store: ``Counter`` is the SQLite store.

New code takes a :class:`verifier.store.Store` (SQLite or PostgreSQL) from
:func:`verifier.store.open_store`.
"""

from __future__ import annotations

from verifier.store import SqliteStore as Counter
from verifier.store import Store

__all__ = ["Counter", "Store"]
