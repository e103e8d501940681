"""The site's frame: the top menu offers « Espace du cycle » only to people with a
participation; every page, the admin's included, has the site's icon, and /favicon.ico works."""

import pytest

from tests.cycle.factories import ParticipantFactory
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db

ICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
CYCLE_LINK = '<a class="nav-link" href="/cycle/">Espace du cycle</a>'
APPLICANT_LINK = '<a class="nav-link" href="/candidature/">Mes candidatures</a>'


def test_menu_of_an_applicant_without_participation_has_no_cycle_space(client):
    client.force_login(UserFactory())
    content = page_text(client.get("/"))
    assert APPLICANT_LINK in content
    assert CYCLE_LINK not in content


def test_menu_of_a_participant_has_the_cycle_space(client):
    user = UserFactory()
    ParticipantFactory(createur=user)
    client.force_login(user)
    content = page_text(client.get("/"))
    assert APPLICANT_LINK in content
    assert content.count(CYCLE_LINK) == 1


def test_menu_of_an_anonymous_visitor_has_neither(client):
    content = page_text(client.get("/"))
    assert APPLICANT_LINK not in content
    assert CYCLE_LINK not in content


def test_site_and_admin_pages_link_the_icon(client):
    assert page_text(client.get("/")).count(ICON) == 1
    assert page_text(client.get("/admin/login/")).count(ICON) == 1


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (302, "/static/favicon.svg")
    icon = client.get("/static/favicon.svg")
    assert (icon.status_code, icon["Content-Type"]) == (200, "image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)
