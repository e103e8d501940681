"""The product's e-mails: built from ``templates/emails/<name>_{subject,body}.txt`` and
``_body.html``, and sent only once the change they announce is committed."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation


def site_url(path: str) -> str:
    """An absolute address of the site, for links in e-mails and documents."""
    return settings.SITE_URL + path


def build_email(name: str, context: dict, *, to, reply_to=None) -> EmailMultiAlternatives:
    """``templates/emails/<name>_subject.txt``, ``_body.txt`` and ``_body.html`` as one message."""
    with translation.override("fr"):
        subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
        text = render_to_string(f"emails/{name}_body.txt", context)
        html = render_to_string(f"emails/{name}_body.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=list(to), reply_to=[r for r in reply_to or [] if r]
    )
    message.attach_alternative(html, "text/html")
    return message


def send_on_commit(message: EmailMultiAlternatives) -> None:
    # Robust: once the change is committed, a mail server failure is logged, not turned into
    # an error page for a submission that did succeed.
    transaction.on_commit(message.send, robust=True)
