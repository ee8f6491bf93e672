"""The one module that touches python-tuf's private client internals.

python-tuf keeps every client trust rule (signature thresholds, versions never going back,
expiry, hashes agreeing with snapshot) in ``ngclient._internal.trusted_metadata_set``, an
I/O-free object that its own ``Updater`` drives. We drive it ourselves, to fetch through our
bounded fetcher and to pass the reference time in instead of letting it read the clock. Both
reach past the public API, so they live here alone, and ``tests/federation`` fails loudly on a
python-tuf version other than :data:`TESTED_VERSION`.
"""

from __future__ import annotations

import datetime as dt
from importlib.metadata import version

from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType

TESTED_VERSION = "7.0.1"


def installed_version() -> str:
    return version("tuf")


def trusted_set(root: bytes, reference_time: dt.datetime) -> TrustedMetadataSet:
    """python-tuf's trusted set, starting from ``root`` and judging expiry at ``reference_time``.

    Raises:
        tuf.api.exceptions.RepositoryError: the root does not verify by itself.
    """
    trusted = TrustedMetadataSet(root, EnvelopeType.METADATA)
    # The set reads the clock once, in its constructor, and only ever uses this attribute.
    trusted.reference_time = reference_time
    return trusted
