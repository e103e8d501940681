"""The strict CSP (no 'unsafe-inline') holds in every template: no style attribute, no event
handler attribute, no <style>/<script> block without the request's nonce. A browser refuses
them silently for users (console error, collapsed line breaks); this scan refuses them at once."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Engagement, EntreeJournal
from tests.cycle.factories import ParticipantFactory
from tests.factories import UserFactory, charge_de_mission

# WeasyPrint renders these to PDF on the server: no browser, no CSP, and it needs its styles inline.
NOT_SERVED_TO_BROWSERS = ("pdf/",)

STYLE_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.S)
HANDLER_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S)
BLOCK_WITHOUT_NONCE = re.compile(r"<(style|script)\b(?![^>]*(nonce|csp_nonce_attr|\ssrc=))[^>]*>")


def project_templates() -> list[tuple[str, str]]:
    folders = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]
    folders += [Path(settings.BASE_DIR) / app / "templates" for app in ("candidatures", "cycle")]
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.html")):
            name = path.relative_to(folder).as_posix()
            if not name.startswith(NOT_SERVED_TO_BROWSERS):
                found.append((name, path.read_text()))
    return found


def inline_code(source: str) -> list[str]:
    return [
        match.group(0)
        for pattern in (STYLE_ATTRIBUTE, HANDLER_ATTRIBUTE, BLOCK_WITHOUT_NONCE)
        for match in pattern.finditer(source)
    ]


def test_templates_scan_finds_every_template():
    names = [name for name, _ in project_templates()]
    assert "base.html" in names
    assert "cycle/engagements/_engagement.html" in names
    assert "admin/cycle/entreejournal/repondre.html" in names
    assert "cycle/widgets/document_file_input.html" in names


def test_inline_code_spots_each_kind():
    assert inline_code('<p class="a" style="color: red">') == ['<p class="a" style=']
    assert inline_code('<a href="#" onclick="go()">') == ['<a href="#" onclick=']
    assert inline_code("<style>p {}</style><script>go()</script>") == ["<style>", "<script>"]
    assert inline_code('<style nonce="{{ csp_nonce }}"><style {% csp_nonce_attr %}>') == []
    assert inline_code("<script src=\"{% static 'js/x.js' %}\"></script>") == []
    assert inline_code('<input aria-describedby="x" data-online="1">') == []


def test_templates_have_no_inline_style_or_script():
    offenders = {
        name: found for name, source in project_templates() if (found := inline_code(source))
    }
    assert offenders == {}


@pytest.mark.django_db
def test_reply_page_keeps_line_breaks_with_a_class_from_the_admin_stylesheet(client):
    sync_role_permissions()
    author = UserFactory()
    participant = ParticipantFactory(createur=author)
    entree = EntreeJournal.objects.create(
        participant=participant,
        auteur=author,
        seance=participant.cycle.seances.get(numero=1),
        points_forts="Première ligne\nDeuxième ligne",
        visibilite=EntreeJournal.Visibilite.PARTAGEE,
    )
    client.force_login(charge_de_mission())
    response = client.get(reverse("admin:cycle_entreejournal_repondre", args=[entree.pk]))
    content = response.content.decode()
    assert '<dd class="texte-saisi">Première ligne\nDeuxième ligne</dd>' in content
    assert 'href="/static/css/admin.css"' in content
    stylesheet = (Path(settings.BASE_DIR) / "static/css/admin.css").read_text()
    assert ".texte-saisi {\n  white-space: pre-line;\n}" in stylesheet


@pytest.mark.django_db
def test_commitment_keeps_line_breaks_with_a_class_from_the_site_stylesheet(client):
    author = UserFactory()
    participant = ParticipantFactory(createur=author)
    Engagement.objects.create(
        participant=participant,
        nature=Engagement.Nature.OUTIL,
        description="Carto Party\nà la gare",
        created_by=author,
    )
    client.force_login(author)
    response = client.get(reverse("cycle:engagements", args=[participant.pk]))
    assert '<p class="mb-1 texte-saisi">Carto Party\nà la gare</p>' in response.content.decode()
    stylesheet = (Path(settings.BASE_DIR) / "static/css/cerdd.css").read_text()
    assert ".texte-saisi {\n  white-space: pre-line;\n}" in stylesheet
