"""E-mail templates (built by cerdd_ami.emails.build_email): three per message, and the
plain-text parts never HTML-escaped (« d'Ascq », not « d&#x27;Ascq »)."""

from pathlib import Path

import pytest
from django.conf import settings

EMAIL_TEMPLATES = Path(settings.BASE_DIR) / "templates" / "emails"
NAMES = sorted(p.name.removesuffix("_subject.txt") for p in EMAIL_TEMPLATES.glob("*_subject.txt"))


def test_every_email_has_its_three_templates():
    assert (
        sorted(p.name.removesuffix("_body.html") for p in EMAIL_TEMPLATES.glob("*_body.html"))
        == NAMES
    )
    assert (
        sorted(p.name.removesuffix("_body.txt") for p in EMAIL_TEMPLATES.glob("*_body.txt"))
        == NAMES
    )
    # notification, notifications_resume: a new message, at once or in the daily digest;
    # message_reseau, message_masque: the participants' network; export_pret, export_echec:
    # an export prepared by the worker, ready or failed for good; publication_refusee: a
    # programmed publication refused when it came to run.
    assert len(NAMES) == 17


@pytest.mark.parametrize("part", ["subject.txt", "body.txt"])
@pytest.mark.parametrize("name", NAMES)
def test_email_text_parts_turn_autoescape_off(name, part):
    text = (EMAIL_TEMPLATES / f"{name}_{part}").read_text()

    assert text.startswith("{% autoescape off %}")
    assert text.rstrip().endswith("{% endautoescape %}")
