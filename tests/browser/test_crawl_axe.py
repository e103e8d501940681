"""Guard: the public and participant pages a crawl of the seeded demo reaches pass axe-core
(WCAG 2.1 AA) in real Chromium, with no console error; one page per URL pattern."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import resolve

from tests.browser.axe import assert_accessible
from tests.crawl import crawl, demo_people

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def one_page_per_pattern(urls):
    """The crawl's HTML pages of the public site and the cycle space, one per URL pattern."""
    sample = {}
    for url in urls:
        path = urlsplit(url).path
        if path.startswith("/admin/"):
            continue
        sample.setdefault(resolve(path).route, url)
    return list(sample.values())


def test_public_and_participant_pages_reached_by_a_crawl_pass_axe(live_server, page, demo):
    people = demo_people()
    anonymous = crawl(Client(), ["/"])
    participant_client = Client()
    participant_client.force_login(people["participant·e"][0])
    participant = crawl(participant_client, ["/"])
    public_pages = one_page_per_pattern(anonymous.html_pages)
    participant_pages = one_page_per_pattern(participant.html_pages)
    assert "/" in public_pages
    assert "/cycle/" in participant_pages
    assert len(participant_pages) >= 10

    for url in public_pages:
        page.goto(live_server.url + url)
        assert_accessible(page)

    # The crawl's own session: the natural sign-in path is the participant journeys' business.
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": participant_client.cookies["sessionid"].value,
                "url": live_server.url,
            }
        ]
    )
    for url in participant_pages:
        page.goto(live_server.url + url)
        assert_accessible(page)
