"""Pages on another host calling the verifier: which may read its answers, and which may send it
files (docs/deployment.md, "Pages on another host").

The public site is static and may live on any host, so its pages call the verifier's API from
another origin. The API is anonymous and takes no cookies, so letting a page read an answer
exposes nothing a person could not fetch with curl:

- the reads (``/api/v1/status``, the OpenAPI file, the receipt certificate) answer any origin;
- the uploads count a use of the document's verifications, so only the origins the operator
  lists may read their answers, preflight or not.

CORS only decides whether a page may *read* the answer. A multipart POST is a "simple request"
that a browser sends without asking first, so a page elsewhere could still spend a document's
verifications from its visitors' browsers. So an upload that a browser marks as coming from
another site's page (``Sec-Fetch-Site``, which no page can set) whose origin is not listed is
refused before its body is read, and is not counted; so is a post to the no-JavaScript form
from a frame or a script, but not a person's own form navigation (the site's fallback). Clients
that are not browsers send no such header and are served as before.

Framework-free: the web layer (``verifier.app``) passes the headers in and sets what comes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.result import Check, Reason, Verification

# The API's endpoints that take a file and count a use; with the no-JavaScript form's.
UPLOADS = frozenset({"/api/v1/verify", "/api/v1/verify/batch"})
COUNTED = UPLOADS | {"/verify"}
API_PREFIX = "/api/v1/"
# How long a browser may reuse a preflight's answer: short, so a changed list soon holds.
MAX_AGE_SECONDS = 600
# What the site's pages use: POST, with Content-Type application/pdf (multipart needs no
# preflight). Nothing else is allowed.
ALLOW_METHODS = "POST"
ALLOW_HEADERS = "Content-Type"
# Sec-Fetch-Site values that mean "a page of another origin sent this".
_ELSEWHERE = frozenset({"cross-site", "same-site"})


@dataclass(frozen=True)
class CorsPolicy:
    """The listed origins (``verifier.config.cors_origins`` wrote them as browsers do), or
    ``("*",)`` for any."""

    origins: tuple[str, ...] = ()

    def allows(self, origin: str) -> bool:
        return self.origins == ("*",) or origin in self.origins

    def refuses_upload(self, path: str, environ: Mapping[str, Any]) -> bool:
        """Whether a POST to ``path`` (its WSGI ``environ``) comes from another site's page
        that is not listed, by script or from a frame.

        Decided on what only a browser sends: a request without ``Sec-Fetch-Site`` (an older
        browser, a script, curl) is served, and its answer read only where CORS lets it. The
        form posted to ``/verify`` as the page itself (a person pressing the button of a form
        on another host: the site's no-JavaScript path) is served too: the person sees the
        verifier's own page, and a page cannot do that unseen, over and over."""
        origin = environ.get("HTTP_ORIGIN")
        if path not in COUNTED or origin is None or self.allows(origin):
            return False
        if environ.get("HTTP_SEC_FETCH_SITE") not in _ELSEWHERE:
            return False
        shown = (
            environ.get("HTTP_SEC_FETCH_MODE") == "navigate"
            and environ.get("HTTP_SEC_FETCH_DEST") == "document"
        )
        return path in UPLOADS or not shown

    def preflight(self, path: str, origin: str | None) -> list[tuple[str, str]] | None:
        """The headers of a preflight's 204 answer, or None when it is refused (403)."""
        if path not in UPLOADS or origin is None or not self.allows(origin):
            return None
        return [
            ("Access-Control-Allow-Origin", self._allow_origin(origin)),
            ("Access-Control-Allow-Methods", ALLOW_METHODS),
            ("Access-Control-Allow-Headers", ALLOW_HEADERS),
            ("Access-Control-Max-Age", str(MAX_AGE_SECONDS)),
            ("Vary", "Origin"),
        ]

    def headers(self, path: str, origin: str | None) -> list[tuple[str, str]]:
        """The CORS headers of an answer (not a preflight's) to ``path``."""
        if path in UPLOADS:
            out = [("Vary", "Origin")]  # the answer's headers depend on it
            if origin is not None and self.allows(origin):
                out.append(("Access-Control-Allow-Origin", self._allow_origin(origin)))
            return out
        if path.startswith(API_PREFIX):
            return [("Access-Control-Allow-Origin", "*")]
        return []

    def _allow_origin(self, origin: str) -> str:
        return "*" if self.origins == ("*",) else origin


def origin_not_allowed(origin: str) -> Verification:
    """A file sent from a page whose site is not listed: not read, not counted."""
    return Verification(
        (Check("upload", "failed", "origin_not_listed", {"origin": origin[:200]}),),
        (Reason("origin_not_allowed"),),
        http_status=403,
    )
