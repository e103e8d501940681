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
