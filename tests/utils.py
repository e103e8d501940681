import html
import io
import re
import smtplib

import pypdf
import weasyprint
from django.core.mail.backends.locmem import EmailBackend


def page_text(response) -> str:
    """A response's HTML with entities decoded and white space folded, for exact assertions."""
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def pdf_pages(data) -> list[str]:
    """The text of each page of a PDF (bytes or a binary file), white space folded.

    Fails on a PDF without any page, so that an assertion over its pages is never vacuous.
    """
    reader = pypdf.PdfReader(io.BytesIO(data) if isinstance(data, bytes) else data)
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert pages, "the PDF has no page"
    return pages


def pdf_text(data) -> str:
    """The text of a whole PDF (bytes or a binary file), pages joined, white space folded."""
    return " ".join(pdf_pages(data))


def break_weasyprint(monkeypatch, error=None):
    """Make WeasyPrint fail to write any PDF (``HTML.write_pdf`` raises ``error``), as when
    it runs out of memory or misses a library: the failure enters where our code calls it."""
    error = error or RuntimeError("WeasyPrint indisponible")

    def write_pdf(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf)


class FlakyBackend(EmailBackend):
    """The test outbox, except that the mail server refuses the addresses in ``refused``
    (set it with monkeypatch); select it with ``settings.MAILERS = FLAKY_MAILERS``."""

    refused: frozenset[str] = frozenset()

    def send_messages(self, messages):
        for message in messages:
            for address in message.to:
                if address in self.refused:
                    raise smtplib.SMTPRecipientsRefused({address: (550, b"5.1.1 Adresse inconnue")})
        return super().send_messages(messages)


FLAKY_MAILERS = {"default": {"BACKEND": "tests.utils.FlakyBackend"}}
