"""The auditor: checks that a school's published history was never rewritten.

An actor of its own, over the foundation's formats (status list, transparency log): it reads the
published files with the same modules the verifier reads them with, and writes nothing published.

- :mod:`auditor.report`: the report model (checks, violations by stable code);
- :mod:`auditor.state`: what the auditor remembers between runs;
- :mod:`auditor.replay`: one pass over every leaf in bounded memory, then document by document;
- :mod:`auditor.keys`, :mod:`auditor.status`, :mod:`auditor.history`: the key's trust, the status
  list's side and the log's side of a run;
- :mod:`auditor.run`: :func:`audit`, the run itself.
"""

from auditor.keys import PinError
from auditor.report import VIOLATIONS, AuditReport, Violation
from auditor.run import audit
from auditor.state import AuditorState, StateFileError

__all__ = [
    "VIOLATIONS",
    "AuditReport",
    "AuditorState",
    "PinError",
    "StateFileError",
    "Violation",
    "audit",
]
