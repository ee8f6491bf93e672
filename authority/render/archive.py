"""The XMP metadata of an archival (PDF/A-3b) document, consistent with its information dictionary.

PDF/A wants the two to agree entry by entry: the title (``dc:title``), the subject
(``dc:description``), the author (``dc:creator``), the creating application
(``xmp:CreatorTool``) and the creation date (``xmp:CreateDate``), with the ``pdfaid`` schema
naming part 3, conformance B. Everything comes from the document's content, so the same
content gives the same bytes; no clock is read.
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape

__all__ = ["xmp"]


def _alt(text: str) -> str:
    return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(text)}</rdf:li></rdf:Alt>'


def xmp(*, title: str, subject: str, author: str, creator: str, created: dt.datetime) -> str:
    """The ``x:xmpmeta`` element of a PDF/A-3b document (fpdf2 wraps it in its packet)."""
    when = created.isoformat(timespec="seconds")
    return "\n".join(
        [
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
            '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">',
            "<pdfaid:part>3</pdfaid:part>",
            "<pdfaid:conformance>B</pdfaid:conformance>",
            "</rdf:Description>",
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">',
            "<dc:format>application/pdf</dc:format>",
            f"<dc:title>{_alt(title)}</dc:title>",
            f"<dc:description>{_alt(subject)}</dc:description>",
            f"<dc:creator><rdf:Seq><rdf:li>{escape(author)}</rdf:li></rdf:Seq></dc:creator>",
            "</rdf:Description>",
            '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">',
            f"<xmp:CreatorTool>{escape(creator)}</xmp:CreatorTool>",
            f"<xmp:CreateDate>{when}</xmp:CreateDate>",
            f"<xmp:ModifyDate>{when}</xmp:ModifyDate>",
            f"<xmp:MetadataDate>{when}</xmp:MetadataDate>",
            "</rdf:Description>",
            "</rdf:RDF>",
            "</x:xmpmeta>",
        ]
    )
