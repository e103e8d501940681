"""« Préparer l'édition suivante » takes the call's séance plan along (copy_seance_plan, through
candidatures.appels.hooks): séances moved by the offset, last year's context notes left behind."""

import zoneinfo
from datetime import date, datetime, time

import pytest
from django.core.files.base import ContentFile

from candidatures.appels.seed import ensure_appel_2021
from candidatures.appels.services import prepare_next_edition
from candidatures.models import Appel, Collectivite
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Cycle, DocumentSeance, Seance
from cycle.seances.services import ensure_cycle
from tests.cycle.factories import ParticipantFactory
from tests.factories import charge_de_mission

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PLAN = [
    "numero",
    "date",
    "heure_debut",
    "heure_fin",
    "lieu",
    "adresse",
    "collectivite_hote",
    "themes",
    "programme_matin",
    "programme_dejeuner",
    "programme_apres_midi",
    "etat",
    "note_contexte",
    "note_contexte_fichier",
    "note_envoyee_at",
]


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission()


def test_next_edition_copies_the_seance_plan_with_dates_moved(staff):
    appel = ensure_appel_2021()
    cycle = ensure_cycle(appel)
    cycle.seances_min_attestation = 4
    cycle.jours_avant_note = 14
    cycle.save()
    arras = Collectivite.objects.get(insee="62041")
    seance = cycle.seances.get(numero=3)
    seance.lieu = "Hôtel de ville d'Arras"
    seance.adresse = "Place des Héros, 62000 Arras"
    seance.collectivite_hote = arras
    seance.heure_debut, seance.heure_fin = time(9, 0), time(17, 0)
    seance.themes = "Budget participatif"
    seance.etat = Seance.Etat.TENUE
    seance.note_contexte = "Note de 2021"
    seance.note_contexte_fichier.save("note.pdf", ContentFile(b"%PDF-1.4"), save=False)
    seance.note_envoyee_at = datetime(2021, 9, 18, 10, tzinfo=PARIS)
    seance.save()
    DocumentSeance.objects.create(
        seance=seance,
        titre="Support",
        fichier=ContentFile(b"x", name="support.pdf"),
        nom_original="support.pdf",
        type_mime="application/pdf",
        taille=1,
    )
    ParticipantFactory(cycle=cycle)
    before = list(cycle.seances.order_by("numero").values_list(*PLAN))

    result = prepare_next_edition(
        source=appel, staff_user=staff, titre="Territoires participatifs — 2022", slug="2022"
    )

    copy = Cycle.objects.get(appel=result.appel)
    assert (copy.titre, copy.seances_min_attestation, copy.jours_avant_note) == (
        "Cycle de qualification — Territoires participatifs — 2022",
        4,
        14,
    )
    assert [row[:2] for row in copy.seances.order_by("numero").values_list(*PLAN)] == [
        (1, date(2022, 5, 18)),
        (2, date(2022, 7, 6)),
        (3, date(2022, 9, 28)),
        (4, date(2022, 11, 9)),
        (5, date(2022, 12, 14)),
        (6, date(2023, 2, 8)),
        (7, date(2023, 3, 29)),
    ]
    moved = {row[0]: row for row in copy.seances.values_list(*PLAN)}
    assert moved[3] == (
        3,
        date(2022, 9, 28),
        time(9, 0),
        time(17, 0),
        "Hôtel de ville d'Arras",
        "Place des Héros, 62000 Arras",
        arras.pk,
        "Budget participatif",
        seance.programme_matin,
        seance.programme_dejeuner,
        seance.programme_apres_midi,
        # Last year's séance keeps its state, note and sending.
        Seance.Etat.PREVUE,
        "",
        "",
        None,
    )
    for old in before:
        assert moved[old[0]][2:11] == old[2:11]
    assert DocumentSeance.objects.filter(seance__cycle=copy).count() == 0
    assert copy.participants.count() == 0
    assert "le cycle et ses 7 séances" in result.copied
    # The source's plan is untouched.
    assert list(cycle.seances.order_by("numero").values_list(*PLAN)) == before


def test_next_edition_of_a_call_without_cycle_creates_none(staff):
    appel = ensure_appel_2021()

    result = prepare_next_edition(source=appel, staff_user=staff, titre="2022", slug="2022")

    assert Cycle.objects.filter(appel=result.appel).exists() is False
    assert result.copied == ["4 critères"]
    # The plan follows from the moved first session date when staff create the cycle.
    new = Appel.objects.get(slug="2022")
    assert ensure_cycle(new).seances.order_by("numero").first().date == date(2022, 5, 18)
