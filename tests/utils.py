import html
import re
import smtplib

from django.core.mail.backends.locmem import EmailBackend


def page_text(response) -> str:
    """A response's HTML with entities decoded and white space folded, for exact assertions."""
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


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
