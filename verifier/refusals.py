"""The verifier's answers when it does not get to verify: one definition for the web layer and for
the error pages the front (nginx) serves in its place, so a client sees the same body either way.
"""

from __future__ import annotations

from verifier.result import Check, Reason, Verification


def bad_request() -> Verification:
    """No single readable file: missing, short of its declared length, or badly chunked."""
    return Verification(
        (Check("upload", "failed", "bad_upload"),), (Reason("bad_request"),), http_status=400
    )


def form_unreadable() -> Verification:
    """A multipart form that cannot be read (broken parts, a file name not in UTF-8): said as
    such, since the file in it was sent."""
    return Verification(
        (Check("upload", "failed", "form_broken"),), (Reason("form_unreadable"),), http_status=400
    )


def too_large(max_upload_bytes: int) -> Verification:
    """Over the upload limit, refused before any of it is parsed."""
    limit_mb = max_upload_bytes // (1024 * 1024)
    return Verification(
        (Check("size", "failed", "size_too_large", {"limit_mb": limit_mb}),),
        (Reason("too_large", {"limit_mb": limit_mb}),),
        http_status=413,
    )


def unavailable() -> Verification:
    """The service could not answer now (an error, or too busy): try again later."""
    return Verification(
        (Check("verifier", "failed", "internal_error"),),
        (Reason("status_unavailable"),),
        http_status=503,
    )


def not_found() -> Verification:
    """An address the verifier does not serve (404): said as such, not as a missing upload."""
    return Verification(
        (Check("upload", "failed", "no_such_address"),), (Reason("not_found"),), http_status=404
    )


def method_not_allowed() -> Verification:
    """A method the address does not take (405): the answer names what the addresses take."""
    return Verification(
        (Check("upload", "failed", "method_not_taken"),),
        (Reason("method_not_allowed"),),
        http_status=405,
    )
