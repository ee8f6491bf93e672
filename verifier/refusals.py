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
