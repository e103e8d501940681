"""The admin's « Préparer l'édition suivante »: the call's button, the list action, the
confirmation page (candidatures/appels/admin_edition.py)."""

import html
import re
import zoneinfo
from datetime import datetime

import pytest
from django.contrib.messages import get_messages

from candidatures.appels.seed import ensure_appel_2021
from candidatures.models import Appel
from cerdd_ami.permissions import sync_role_permissions
from tests.factories import charge_de_mission, juror

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
TITRE_2021 = "Vers des territoires participatifs en Hauts-de-France — 2021"
TITRE_2022 = "Vers des territoires participatifs en Hauts-de-France — 2022"


def text_of(response):
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


@pytest.fixture
def appel():
    sync_role_permissions()
    return ensure_appel_2021()


@pytest.fixture
def staff_client(client, appel):
    client.force_login(charge_de_mission(email="charge@cerdd.test"))
    return client


def url(appel):
    return f"/admin/candidatures/appel/{appel.pk}/edition-suivante/"


def form_data(**overrides):
    return {
        "titre": TITRE_2022,
        "slug": "2022",
        "prefixe_numero": "AMI-2022",
        "offset_months": "12",
        "offset_days": "0",
        **overrides,
    }


def test_call_page_shows_the_button_to_staff_who_may_add_calls(staff_client, appel):
    page = staff_client.get(f"/admin/candidatures/appel/{appel.pk}/change/").content.decode()

    assert f'<a href="{url(appel)}">Préparer l\'édition suivante</a>' in page


def test_confirmation_page_proposes_the_next_year_and_shows_the_moved_dates(staff_client, appel):
    response = staff_client.get(url(appel))

    assert response.status_code == 200
    form = response.context["form"]
    assert {name: form[name].value() for name in form.fields} == {
        "titre": TITRE_2022,
        "slug": "2022",
        "prefixe_numero": "AMI-2022",
        "offset_months": 12,
        "offset_days": 0,
    }
    assert response.context["dates"] == [
        ("Ouverture", "10 décembre 2020 à 0 h 00", "10 décembre 2021 à 0 h 00"),
        (
            "Date limite de dépôt",
            "12 mars 2021 à 23 h 59 min 59 s",
            "12 mars 2022 à 23 h 59 min 59 s",
        ),
        ("Réponse aux collectivités", "15 avril 2021 à 9 h 00", "15 avril 2022 à 9 h 00"),
        ("Première journée du cycle", "18 mai 2021", "18 mai 2022"),
    ]
    text = text_of(response)
    assert "Les dates, décalées de 12 mois" in text
    assert "non publié" in text
    assert Appel.objects.count() == 1


def test_confirming_creates_the_unpublished_call_and_opens_its_page(staff_client, appel):
    response = staff_client.post(url(appel), form_data())

    new = Appel.objects.get(slug="2022")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/candidatures/appel/{new.pk}/change/"
    assert (new.titre, new.prefixe_numero, new.est_publie, new.criteres.count()) == (
        TITRE_2022,
        "AMI-2022",
        False,
        4,
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"L'appel « {TITRE_2022} » est prêt (les textes, les dates et les contacts, "
        "4 critères). Il n'est pas publié : relisez-le, puis cochez « publié sur le site »."
    ]


def test_recalculating_shows_the_dates_of_the_typed_offset_and_creates_nothing(staff_client, appel):
    response = staff_client.post(
        url(appel), form_data(offset_months="0", offset_days="364", preview="1")
    )

    assert response.status_code == 200
    assert response.context["dates"][3] == (
        "Première journée du cycle",
        "18 mai 2021",
        "17 mai 2022",
    )
    assert "Les dates, décalées de 364 jours" in text_of(response)
    assert Appel.objects.count() == 1


def test_a_slug_already_used_is_refused_beside_the_field(staff_client, appel):
    response = staff_client.post(url(appel), form_data(slug="2021"))

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "slug": ["Un appel utilise déjà l'identifiant « 2021 » : choisissez-en un autre."]
    }
    assert "Un appel utilise déjà l'identifiant « 2021 » : choisissez-en un autre." in text_of(
        response
    )
    # What was typed is kept.
    assert response.context["form"]["titre"].value() == TITRE_2022
    assert Appel.objects.count() == 1


def test_a_rule_of_the_call_broken_by_the_offset_is_shown_on_the_page(staff_client, appel):
    # Opening on 30 January at noon, closing on 31 January: one month later both fall on
    # 28 February, the deadline before the opening.
    Appel.objects.filter(pk=appel.pk).update(
        opens_at=datetime(2021, 1, 30, 12, tzinfo=PARIS),
        closes_at=datetime(2021, 1, 31, 10, tzinfo=PARIS),
    )

    response = staff_client.post(url(appel), form_data(offset_months="1"))

    assert response.status_code == 200
    message = (
        "Avec ce décalage, la date limite de dépôt (28 février 2021 à 10 h 00) tomberait avant "
        "l'ouverture (28 février 2021 à 12 h 00) : choisissez un autre décalage."
    )
    assert response.context["form"].non_field_errors() == [message]
    assert message in text_of(response)
    assert Appel.objects.count() == 1


def test_anonymous_is_sent_to_the_login_page(client, appel):
    response = client.get(url(appel))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.post(url(appel), form_data()).status_code == 302
    assert Appel.objects.count() == 1


def test_juror_is_refused(client, appel):
    client.force_login(juror())

    assert client.get(url(appel)).status_code == 403
    assert client.post(url(appel), form_data()).status_code == 403
    assert Appel.objects.count() == 1


def test_unknown_call_is_404(staff_client, appel):
    assert (
        staff_client.get(
            f"/admin/candidatures/appel/{appel.pk + 1000}/edition-suivante/"
        ).status_code
        == 404
    )


def test_list_action_opens_the_confirmation_page_for_one_call(staff_client, appel):
    response = staff_client.post(
        "/admin/candidatures/appel/",
        {"action": "preparer_edition_suivante", "_selected_action": [appel.pk]},
    )

    assert response.status_code == 302
    assert response["Location"] == url(appel)


def test_list_action_refuses_several_calls(staff_client, appel):
    other = Appel.objects.create(
        titre="Autre",
        slug="autre",
        prefixe_numero="X",
        opens_at=appel.opens_at,
        closes_at=appel.closes_at,
        announcement_at=appel.announcement_at,
    )

    response = staff_client.post(
        "/admin/candidatures/appel/",
        {"action": "preparer_edition_suivante", "_selected_action": [appel.pk, other.pk]},
        follow=True,
    )

    assert "Sélectionnez un seul appel : l'édition suivante se prépare à partir de l'un d'eux." in (
        text_of(response)
    )
    assert Appel.objects.count() == 2
