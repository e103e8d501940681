"""Staff side of the cycle and its séances in the admin: the context note's file, a cycle
started from its call."""

import zoneinfo
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from candidatures.models import Issue
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Cycle, Presence
from tests.candidatures.factories import AppelFactory, tiny_pdf_bytes
from tests.cycle.factories import (
    CycleFactory,
    retain,
    submitted_candidature,
)
from tests.factories import charge_de_mission

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
P, A, R = Presence.Statut.PRESENT, Presence.Statut.ABSENT, Presence.Statut.REMPLACE
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def cycle():
    return CycleFactory()


@pytest.fixture
def seance(cycle):
    return cycle.seances.get(numero=1)


@pytest.fixture
def staff(client):
    sync_role_permissions()
    user = charge_de_mission()
    client.force_login(user)
    return user


# -- the context note's file --------------------------------------------------------------------


def _change_form_data(client, url) -> dict:
    """What the admin's change form posts back unchanged, file input aside (no inline rows:
    the séance has no documents here)."""
    context = client.get(url).context
    form = context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if name != "note_contexte_fichier" and value is not None:
            data[name] = value
    for inline in context["inline_admin_formsets"]:
        assert inline.formset.initial_form_count() == 0
        data[f"{inline.formset.prefix}-TOTAL_FORMS"] = 0
        data[f"{inline.formset.prefix}-INITIAL_FORMS"] = 0
    return data


def test_context_note_file_is_checked_like_an_applicants_document(client, staff, seance, settings):
    url = f"/admin/cycle/seance/{seance.pk}/change/"
    data = _change_form_data(client, url)
    note = tiny_pdf_bytes("Note de contexte")
    errors = []
    for clamd_socket, upload in [
        ("", SimpleUploadedFile("note.pdf", b"MZ\x90\x00 un programme, pas un PDF")),
        ("/nonexistent/clamd.ctl", SimpleUploadedFile("note.pdf", note)),
    ]:
        settings.CLAMD_SOCKET = clamd_socket
        response = client.post(url, {**data, "note_contexte_fichier": upload})
        errors += response.context["adminform"].form.errors["note_contexte_fichier"]
    seance.refresh_from_db()
    refused_name = seance.note_contexte_fichier.name

    settings.CLAMD_SOCKET = ""
    accepted = client.post(
        url, {**data, "note_contexte_fichier": SimpleUploadedFile("note.pdf", note)}
    )

    assert errors == [
        "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, quel que soit "
        "son nom.",
        "L'analyse antivirus est momentanément indisponible : le fichier n'a pas été "
        "enregistré. Réessayez dans quelques minutes ; le reste du dossier est conservé.",
    ]
    assert refused_name == ""
    assert accepted["Location"] == "/admin/cycle/seance/"
    seance.refresh_from_db()
    with seance.note_contexte_fichier.open("rb") as stored:
        assert stored.read() == note


# -- starting a cycle from the admin ------------------------------------------------------------


def test_adding_a_cycle_in_the_admin_creates_its_seances_and_enrols_the_retained(client, staff):
    appel = AppelFactory(edition_2021=True)
    retained = submitted_candidature(appel)
    retain(retained)
    retain(submitted_candidature(appel), issue=Issue.NON_RETENUE)
    retain(submitted_candidature(appel), published=False)

    response = client.post(
        "/admin/cycle/cycle/add/",
        {"appel": appel.pk, "titre": "", "seances_min_attestation": 5, "jours_avant_note": 10},
        follow=True,
    )

    assert response.status_code == 200
    cycle = Cycle.objects.get(appel=appel)
    assert cycle.titre == f"Cycle de qualification — {appel.titre}"
    assert list(cycle.seances.values_list("numero", "date", "lieu")) == [
        (1, date(2021, 5, 18), "Loos-en-Gohelle"),
        (2, date(2021, 7, 6), "À définir"),
        (3, date(2021, 9, 28), "À définir"),
        (4, date(2021, 11, 9), "À définir"),
        (5, date(2021, 12, 14), "À définir"),
        (6, date(2022, 2, 8), "À définir"),
        (7, date(2022, 3, 29), "À définir"),
    ]
    assert list(cycle.participants.values_list("candidature", flat=True)) == [retained.pk]
    assert [str(m) for m in response.context["messages"]] == [
        "7 séances créées depuis l'appel ; 1 collectivité(s) retenue(s) inscrite(s) au cycle.",
        f'L\'objet cycle «\xa0<a href="/admin/cycle/cycle/{cycle.pk}/change/">{cycle.titre}</a>'
        "\xa0» a été ajouté avec succès.",
    ]


def test_adding_a_cycle_needs_the_calls_first_session_date(client, staff):
    appel = AppelFactory(edition_2021=True, first_session_date=None)

    response = client.post(
        "/admin/cycle/cycle/add/",
        {"appel": appel.pk, "titre": "", "seances_min_attestation": 5, "jours_avant_note": 10},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "appel": [
            "Indiquez d'abord la date de la première journée du cycle dans l'appel : les "
            "séances sont créées à partir d'elle."
        ]
    }
    assert not Cycle.objects.filter(appel=appel).exists()


def test_action_creates_the_missing_seances_once(client, staff, cycle):
    cycle.seances.filter(numero__in=[6, 7]).delete()
    cycle.seances.filter(numero=1).update(lieu="Arras")
    data = {"action": "creer_seances", "_selected_action": [cycle.pk]}

    first = client.post("/admin/cycle/cycle/", data, follow=True)
    second = client.post("/admin/cycle/cycle/", data, follow=True)

    assert [str(m) for m in first.context["messages"]] == [
        f"{cycle.titre} : 2 séance(s) créée(s) depuis l'appel."
    ]
    assert [str(m) for m in second.context["messages"]] == [
        f"{cycle.titre} : les 7 séances existent déjà, rien n'a été modifié."
    ]
    assert list(cycle.seances.values_list("numero", flat=True)) == [1, 2, 3, 4, 5, 6, 7]
    assert cycle.seances.get(numero=1).lieu == "Arras"
