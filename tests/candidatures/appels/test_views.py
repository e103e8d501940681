import html
import re
import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from candidatures.appels.seed import ensure_appel_2021
from candidatures.models import Appel, Collectivite
from tests.candidatures.factories import AppelFactory
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def text_of(response):
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


@pytest.fixture
def appel_2021():
    return ensure_appel_2021()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (
            datetime(2020, 12, 1, 12, tzinfo=PARIS),
            "L'appel ouvrira le <strong>10 décembre 2020</strong>.",
        ),
        (
            datetime(2021, 3, 13, 0, 0, 0, tzinfo=PARIS),
            "L'appel est clos depuis le 12 mars 2021. Les collectivités candidates recevront une "
            "réponse le <strong>15 avril 2021</strong>.",
        ),
    ],
)
def test_home_without_an_open_call_shows_the_next_or_latest_call(
    client, appel_2021, moment, expected
):
    with time_machine.travel(moment, tick=False):
        response = client.get("/")

    content = text_of(response)
    assert response.status_code == 200
    assert "<h1>Vers des territoires participatifs en Hauts-de-France — 2021</h1>" in content
    assert expected in content
    assert "/candidature/nouvelle/2021/" not in content


def open_calls_of(content) -> list[str]:
    """The titles of the calls the home page lists, in order."""
    listed = content.split('<ul class="list-unstyled appels-ouverts">')[1].split("</ul>")[0]
    return re.findall(r'<h2 class="h4 card-title">(.*?)</h2>', listed)


def test_home_lists_the_one_open_call_with_its_programme_deadline_and_links(client, appel_2021):
    with time_machine.travel(datetime(2021, 3, 12, 20, tzinfo=PARIS), tick=False):
        content = text_of(client.get("/"))

    assert "<h1>Appels à manifestation d'intérêt du Cerdd</h1>" in content
    assert '<p class="lead">Un appel est ouvert aux candidatures.' in content
    assert open_calls_of(content) == [
        "Vers des territoires participatifs en Hauts-de-France — 2021"
    ]
    assert '<p class="text-body-secondary mb-1">Programme « Territoires participatifs »</p>' in (
        content
    )
    assert (
        '<p class="appel-ouvert">Date limite de dépôt : <strong>12 mars 2021 à 23 h 59</strong> '
        "(heure de Paris).</p>"
    ) in content
    assert (
        '<a class="btn btn-primary" href="/candidature/nouvelle/2021/">Candidater<span '
        'class="visually-hidden"> à « Vers des territoires participatifs en Hauts-de-France — '
        "2021 »</span></a>"
    ) in content
    assert (
        '<a class="btn btn-outline-primary" href="/appel/2021/">Voir l\'appel<span '
        'class="visually-hidden"> « Vers des territoires participatifs en Hauts-de-France — '
        "2021 »</span></a>"
    ) in content
    assert 'Déjà un dossier en cours ? <a href="/connexion/">Accéder à mon dossier</a>' in content


def test_home_lists_every_open_call_soonest_deadline_first(client):
    now = timezone.now()
    AppelFactory(
        slug="tard",
        titre="Transition énergétique — 2027",
        programme="Transition énergétique",
        opens_at=now - timedelta(days=3),
        closes_at=now + timedelta(days=40),
    )
    AppelFactory(
        slug="tot",
        titre="Alimentation durable — 2027",
        programme="Alimentation durable",
        opens_at=now - timedelta(days=30),
        closes_at=now + timedelta(days=5),
    )

    content = text_of(client.get("/"))

    assert open_calls_of(content) == [
        "Alimentation durable — 2027",
        "Transition énergétique — 2027",
    ]
    assert "2 appels sont ouverts aux candidatures, du plus proche de sa date limite" in content
    assert re.findall(r"Programme « (.*?) »", content) == [
        "Alimentation durable",
        "Transition énergétique",
    ]
    assert re.findall(r'href="(/candidature/nouvelle/[^"]+)"', content) == [
        "/candidature/nouvelle/tot/",
        "/candidature/nouvelle/tard/",
    ]
    assert re.findall(r'href="(/appel/[^"]+)"', content) == ["/appel/tot/", "/appel/tard/"]


def test_home_never_lists_a_closed_upcoming_or_unpublished_call(client):
    now = timezone.now()
    AppelFactory(slug="ouvert", titre="Ouvert", opens_at=now - timedelta(days=1))
    AppelFactory(slug="brouillon", titre="Pas publié", est_publie=False)
    AppelFactory(slug="a-venir", titre="À venir", opens_at=now + timedelta(days=2))
    AppelFactory(
        slug="clos",
        titre="Clos",
        opens_at=now - timedelta(days=90),
        closes_at=now - timedelta(seconds=1),
    )

    content = text_of(client.get("/"))

    assert open_calls_of(content) == ["Ouvert"]
    for slug in ("brouillon", "a-venir", "clos"):
        assert f"/{slug}/" not in content


def test_home_asks_as_many_queries_for_one_open_call_as_for_three(
    client, django_assert_num_queries
):
    now = timezone.now()
    AppelFactory(opens_at=now - timedelta(days=1), questionnaire=False)
    with django_assert_num_queries(1):
        one = client.get("/")
    AppelFactory.create_batch(2, opens_at=now - timedelta(days=1), questionnaire=False)
    with django_assert_num_queries(1):
        three = client.get("/")

    assert len(open_calls_of(text_of(one))) == 1
    assert len(open_calls_of(text_of(three))) == 3


def test_home_offers_a_signed_in_applicant_their_dossiers_and_staff_neither(client):
    AppelFactory(opens_at=timezone.now() - timedelta(days=1))

    client.force_login(UserFactory())
    applicant = text_of(client.get("/"))
    client.force_login(StaffFactory())
    staff = text_of(client.get("/"))

    assert '<p><a href="/candidature/">Mes candidatures</a></p>' in applicant
    assert "Accéder à mon dossier" not in applicant
    assert "Mes candidatures</a></p>" not in staff
    assert "Accéder à mon dossier" not in staff


def test_call_page_names_its_programme(client):
    AppelFactory(slug="alim", programme="Alimentation durable", presentation="Le Cerdd…")

    content = text_of(client.get("/appel/alim/"))

    assert '<h2 id="s-presentation" class="h4 mt-4">Le programme « Alimentation durable »</h2>' in (
        content
    )


def test_home_after_publication_says_decisions_are_out(client, appel_2021):
    Appel.objects.filter(pk=appel_2021.pk).update(
        decisions_published_at=datetime(2021, 4, 15, 9, tzinfo=PARIS)
    )

    content = text_of(client.get("/"))

    assert "Les décisions ont été publiées." in content


def test_home_lists_the_calls_texts_and_calendar(client, appel_2021):
    content = text_of(client.get("/"))

    assert "5 bonnes raisons de candidater" in content
    assert "Construire une vision ambitieuse et motivante" in content
    assert "<li>Date limite de dépôt : 12 mars 2021 à 23 h 59</li>" in content
    assert "1<sup>re</sup> journée du cycle : 18 mai 2021 à Loos-en-Gohelle" in content
    assert "amontaigne@cerdd.org" in content


def test_home_without_any_published_call_says_so(client):
    content = text_of(client.get("/"))

    assert "Aucun appel à manifestation d'intérêt n'est publié pour le moment." in content


def test_unpublished_call_page_is_404(client, appel_2021):
    Appel.objects.filter(pk=appel_2021.pk).update(est_publie=False)

    assert client.get("/appel/2021/").status_code == 404


def test_collectivite_search_by_name_insee_and_postcode(client, appel_2021):
    by_name = text_of(
        client.get("/collectivites/recherche/", {"appel": "2021", "q": "loos en goh"})
    )
    by_insee = text_of(client.get("/collectivites/recherche/", {"appel": "2021", "q": "62528"}))
    by_postcode = text_of(client.get("/collectivites/recherche/", {"appel": "2021", "q": "62750"}))

    assert "1 résultat pour « loos en goh »" in by_name
    assert 'value="216205286"' in by_name
    assert (
        '<strong>Loos-en-Gohelle</strong> <span class="d-block small">commune, INSEE 62528, 62 · '
        "CA de Lens - Liévin</span>"
    ) in by_insee
    assert "Loos-en-Gohelle" in by_postcode


def test_collectivite_search_ignores_accents_and_hyphens(client, appel_2021):
    content = text_of(
        client.get("/collectivites/recherche/", {"appel": "2021", "q": "metropole europeenne"})
    )

    assert "<strong>Métropole Européenne de Lille</strong>" in content


def test_collectivite_search_shows_ineligible_with_reason(client, appel_2021):
    Appel.objects.filter(pk=appel_2021.pk).update(epci_interregionaux_eligibles=False)

    content = text_of(
        client.get("/collectivites/recherche/", {"appel": "2021", "q": "villes soeurs"})
    )

    assert (
        "Non éligible : Cette intercommunalité s'étend hors des Hauts-de-France : elle n'est "
        "pas éligible à cet appel." in content
    )
    assert 'value="247600588"' not in content


def test_collectivite_search_never_lists_inactive_ones(client, appel_2021):
    Collectivite.objects.filter(insee="62528").update(active=False)

    content = text_of(
        client.get("/collectivites/recherche/", {"appel": "2021", "q": "Loos-en-Gohelle"})
    )

    assert "Aucune collectivité des Hauts-de-France ne correspond à « Loos-en-Gohelle »" in content


def test_collectivite_search_of_unknown_call_is_404(client):
    assert (
        client.get("/collectivites/recherche/", {"appel": "1999", "q": "arras"}).status_code == 404
    )
