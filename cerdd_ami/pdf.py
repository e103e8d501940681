"""PDF documents: HTML rendered by WeasyPrint, French typography for their fixed texts, and the
HTTP responses that hand a PDF (or any generated file) to the browser.

Shared by the receipt, the decision letters, the procès-verbal, attestations and the journal
de bord: one renderer that fetches nothing outside the project's static files.
"""

import re
import ssl
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.http import HttpResponse
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from .formats import NBSP, NNBSP

PDF_MEDIA_TYPE = "application/pdf"


_SPACE_BEFORE_COLON = re.compile(r"[ \u00a0\u202f]+:")
_SPACE_BEFORE_HIGH_PUNCT = re.compile(r"[ \u00a0\u202f]+([;!?])")
# A colon glued to a word and followed by a space or the end ("Numéro:"), never "https://" or
# "12:30".
_GLUED_COLON = re.compile(r"(?<=[^\s\d/])(?=:(?:\s|$))")
_GLUED_HIGH_PUNCT = re.compile(r"(?<=[^\s\d/!?;])(?=[;!?]+(?:\s|$))")


def french_typography(text: str) -> str:
    """Non-breaking spaces where French typography wants them, for labels and fixed texts.

    A no-break space before « : » and inside « guillemets », a narrow one before ; ! ?, and one
    after « n° ». Never applied to applicants' answers: the receipt reproduces them verbatim.
    """
    if not text:
        return text or ""
    text = str(text)
    text = _SPACE_BEFORE_COLON.sub(f"{NBSP}:", text)
    text = _GLUED_COLON.sub(NBSP, text)
    text = _SPACE_BEFORE_HIGH_PUNCT.sub(rf"{NNBSP}\1", text)
    text = _GLUED_HIGH_PUNCT.sub(NNBSP, text)
    text = re.sub(r"«[ \u00a0\u202f]*", f"«{NBSP}", text)
    text = re.sub(r"[ \u00a0\u202f]*»", f"{NBSP}»", text)
    text = re.sub(r"\b([nN])° +", rf"\1°{NBSP}", text)
    return text


# HTTPS is refused anyway; without a context, each fetcher built a default one and loaded the
# system's certificates (29 ms per PDF, a tenth of a receipt's rendering).
_UNUSED_TLS_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _LocalOnlyFetcher(URLFetcher):
    """Lets a PDF load data: URLs and the project's own static files, nothing else.

    Templates are rendered with applicants' text; even escaped, nothing in a PDF should make
    the server fetch a remote address or read an arbitrary local file.
    """

    def __init__(self, **kwargs):
        super().__init__(
            allowed_protocols={"data", "file"}, ssl_context=_UNUSED_TLS_CONTEXT, **kwargs
        )
        roots = [Path(settings.BASE_DIR) / "static", Path(settings.STATIC_ROOT)]
        roots += [Path(directory) for directory in settings.STATICFILES_DIRS]
        self._roots = [root.resolve() for root in roots]

    def fetch(self, url, headers=None):
        if url.lower().startswith("file:"):
            path = Path(unquote(urlsplit(url).path)).resolve()
            if not any(path.is_relative_to(root) for root in self._roots):
                raise ValueError(f"Fichier hors des ressources du projet : {url}")
        return super().fetch(url, headers)


def pdf_from_html(html: str, *, base_url=None) -> bytes:
    """Render an HTML document (usually a ``templates/pdf/*.html``) to PDF bytes.

    ``base_url`` resolves relative URLs (images, fonts) against the project's static files;
    anything outside them is refused. The PDF is tagged for screen readers.
    """
    document = HTML(string=html, base_url=base_url, url_fetcher=_LocalOnlyFetcher())
    return document.write_pdf(pdf_tags=True)


def download_response(
    content: bytes, content_type: str, filename: str, *, inline: bool = False
) -> HttpResponse:
    """A generated file handed to the browser, shown (``inline``) or downloaded.

    What we generate names people (letters, attestations, minutes): never kept by shared
    caches or sniffed into something else.
    """
    response = HttpResponse(content, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def pdf_response(pdf: bytes, filename: str, *, inline: bool = False) -> HttpResponse:
    """PDF bytes as a response: see ``download_response``."""
    return download_response(pdf, PDF_MEDIA_TYPE, filename, inline=inline)
