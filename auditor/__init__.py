"""The auditor: checks that a school's published history was never rewritten.

An actor of its own, over the foundation's formats (status list, transparency log): it reads the
published files with the same modules the verifier reads them with, and writes nothing published.
"""

from auditor.run import VIOLATIONS, AuditorState, AuditReport, audit

__all__ = ["VIOLATIONS", "AuditReport", "AuditorState", "audit"]
