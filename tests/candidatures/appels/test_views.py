import html
import re
import zoneinfo
from datetime import datetime

import pytest
import time_machine

from candidatures.appels.seed import ensure_appel_2021
from candidatures.models import Appel, Collectivite

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
            datetime(2021, 3, 12, 20, tzinfo=PARIS),
            "L'appel est ouvert jusqu'au <strong>12 mars 2021 à 23 h 59</strong> "
            "(heure de Paris) : il reste 3 heures, 59 minutes.",
        ),
        (
            datetime(2021, 3, 13, 0, 0, 0, tzinfo=PARIS),
            "L'appel est clos depuis le 12 mars 2021. Les collectivités candidates recevront une "
            "réponse le <strong>15 avril 2021</strong>.",
        ),
    ],
)
def test_home_shows_the_call_with_a_state_aware_call_to_action(
    client, appel_2021, moment, expected
):
    with time_machine.travel(moment, tick=False):
        response = client.get("/")

    content = text_of(response)
    assert response.status_code == 200
    assert "<h1>Vers des territoires participatifs en Hauts-de-France — 2021</h1>" in content
    assert expected in content
    assert ('href="/candidature/nouvelle/2021/">Candidater</a>' in content) == (
        "ouvert jusqu" in expected
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
