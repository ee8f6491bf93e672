"""certseal: shared core of the signing authority, the verifier and the auditor.

Everything here is free of I/O policy: models validated on construction, one canonical
serializer, and the status-list format that the authority writes and the others read.
"""

__version__ = "0.1.0"
