"""Real Chromium: the top menu of a participant, its longest, fits one line at 1280 px."""

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from tests.cycle.factories import ParticipantFactory
from tests.factories import UserFactory

# serialized_rollback like every browser module: the collectivités come from a data migration
# that a plain transactional flush would leave empty for the next test.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_participant_menu_fits_one_line_at_1280_px(
    live_server, page, client, tmp_path, load_urlconf
):
    load_urlconf(debug=True)  # the development outbox adds the menu's longest item
    user = UserFactory()
    ParticipantFactory(createur=user)
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(live_server.url + "/")

    menu = page.get_by_role("navigation", name="Navigation principale")
    links = menu.get_by_role("link")
    expect(links).to_have_text(
        [
            "Cerdd Appels à manifestation d'intérêt en Hauts-de-France",
            "Accueil",
            "Mes candidatures",
            "Espace du cycle",
            "Notifications",
            "Espace Cerdd et jury",
            "E-mails (dév.)",
        ]
    )
    page.screenshot(path=tmp_path / "menu-1280.png")  # to look at when it fails
    items = menu.locator(".nav-link")
    tops = {round(items.nth(i).bounding_box()["y"]) for i in range(items.count())}
    heights = {round(items.nth(i).bounding_box()["height"]) for i in range(items.count())}
    assert len(tops) == 1, f"le menu passe à la ligne : {tops}"
    assert max(heights) < 48, f"un lien du menu passe à la ligne : {heights}"
