"""Lay out one document as an unsigned A4 PDF; signing happens afterwards, on these bytes.

Every character that will be printed is checked against the fonts before anything is laid out:
a name with a character no font has is refused with its code point and field, never printed as
an empty box.

The layouts follow what Taiwanese registrars issue: a traditional Chinese diploma (學位證書) with
the wording of the Degree Conferral Act, an English diploma, a bilingual transcript paginated with
the holder and document number on every page, a bachelor's rank certificate, an English degree
certificate and the Chinese-English degree certificate. Every page carries the document number
and the verification site as text and as a QR code; every document carries the school's seal (a
red box where none is configured) and says when it is a reissue.

The modules, along the seams of the work:

- :mod:`.wording`: dates in the ROC calendar, terms, grades; which record text is printed.
- :mod:`.document`: the page, its geometry and colours; text measured, wrapped and placed.
- :mod:`.primitives`: paragraphs that shrink to fit, labelled grids, seal, signature, footer.
- :mod:`.layouts`: one module per document type.
- :mod:`.marks`: the school's seal and emblem images (PNG or SVG), read once.
- :mod:`.archive`: the XMP metadata of archival (PDF/A-3b) documents.
- :mod:`.renderer`: :class:`Renderer`, which checks the characters and runs a layout; a document
  that is not print-locked comes out as PDF/A-3b, with its machine-readable twin attached.
- :mod:`._fpdf`: every use of fpdf2's internals (shared fonts, fast subsets, the print lock),
  guarded by a test that fails on any fpdf2 version but the one it was written for.
"""

from __future__ import annotations

from authority.render.renderer import Attachment, Renderer
from authority.render.wording import roc_date

__all__ = ["Attachment", "Renderer", "roc_date"]
