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


def table_rows(response, table_id: str = "result_list") -> list[list[str]]:
    """The text of each body row's cells of an HTML table (the admin's change list by default),
    white space folded; the row's selection checkbox gives an empty first cell."""
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.depth, self.in_body, self.cell = [], 0, False, None

        def handle_starttag(self, tag, attrs):
            if tag == "table" and (self.depth or dict(attrs).get("id") == table_id):
                self.depth += 1
            elif self.depth and tag == "tbody":
                self.in_body = True
            elif self.depth and self.in_body and tag == "tr":
                self.rows.append([])
            elif self.depth and self.in_body and tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag == "table" and self.depth:
                self.depth -= 1
            elif tag == "tbody":
                self.in_body = False
            elif tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Rows()
    parser.feed(response.content.decode())
    return parser.rows
