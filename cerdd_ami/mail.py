"""Development outbox: every outgoing message is kept as an .eml file in DEV_OUTBOX_DIR.

A tester follows sign-in links from /dev/outbox/ without any mail server. Only used when
DEBUG is on and no SMTP host is configured (see settings).
"""

import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        directory = Path(settings.DEV_OUTBOX_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            # Sortable names: newest first is a reverse sort of the file names.
            name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
            # Written aside then renamed: a reader never sees half a message.
            partial = directory / f".{name}.part"
            partial.write_bytes(message.message().as_bytes())
            partial.rename(directory / name)
        return len(email_messages)


class OutboxMessage:
    """A stored message, parsed for display."""

    def __init__(self, path: Path):
        self.id = path.stem
        with path.open("rb") as handle:
            self.message = BytesParser(policy=policy.default).parse(handle)

    @property
    def subject(self):
        return self.message["subject"] or ""

    @property
    def to(self):
        return self.message["to"] or ""

    @property
    def sender(self):
        return self.message["from"] or ""

    @property
    def date(self):
        return self.message["date"] or ""

    @property
    def text(self):
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part else ""

    @property
    def attachments(self):
        return [
            {"name": part.get_filename(), "type": part.get_content_type()}
            for part in self.message.iter_attachments()
        ]

    def attachment(self, index: int):
        parts = list(self.message.iter_attachments())
        if not 0 <= index < len(parts):
            return None
        part = parts[index]
        return part.get_filename(), part.get_content_type(), part.get_payload(decode=True)


def outbox_messages(limit: int = 200) -> list[OutboxMessage]:
    directory = Path(settings.DEV_OUTBOX_DIR)
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    return [OutboxMessage(path) for path in paths]


def outbox_message(message_id: str) -> OutboxMessage | None:
    # The id comes from the URL: only plain file stems, never a path.
    if not message_id.replace("-", "").isalnum():
        return None
    path = Path(settings.DEV_OUTBOX_DIR) / f"{message_id}.eml"
    return OutboxMessage(path) if path.is_file() else None
