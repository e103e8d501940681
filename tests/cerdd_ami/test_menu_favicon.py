"""The site's frame: the top menu offers « Espace du cycle » only to people with a
participation; every page, the admin's included, has the site's icon, and /favicon.ico works."""

import datetime

import pytest
import time_machine
from django.utils import timezone

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


def test_menu_cycle_space_appears_within_five_minutes_of_an_enrolment(client):
    user = UserFactory()
    client.force_login(user)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert CYCLE_LINK not in page_text(client.get("/"))
        ParticipantFactory(createur=user)  # staff enrol their collectivité meanwhile

        clock.shift(datetime.timedelta(minutes=4, seconds=59))
        assert CYCLE_LINK not in page_text(client.get("/"))  # remembered in the session
        clock.shift(datetime.timedelta(seconds=2))
        assert page_text(client.get("/")).count(CYCLE_LINK) == 1


def test_menu_cycle_space_is_asked_again_at_the_next_sign_in(client):
    user = UserFactory()
    client.force_login(user)
    assert CYCLE_LINK not in page_text(client.get("/"))
    ParticipantFactory(createur=user)

    client.logout()
    client.force_login(user)
    assert page_text(client.get("/")).count(CYCLE_LINK) == 1


def test_menu_cycle_space_remembered_for_one_person_only(client):
    participant = UserFactory()
    ParticipantFactory(createur=participant)
    client.force_login(participant)
    assert page_text(client.get("/")).count(CYCLE_LINK) == 1

    # Another account signs in on the same browser session (no logout in between).
    client.force_login(UserFactory())
    assert CYCLE_LINK not in page_text(client.get("/"))


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
