"""Participants in the admin: read-only status, only dossiers retained by the cycle's call."""

import zoneinfo

import pytest

from candidatures.models import Issue
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Participant, Presence
from tests.cycle.factories import (
    CycleFactory,
    ParticipantFactory,
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
def participant(cycle):
    return ParticipantFactory(cycle=cycle)


@pytest.fixture
def staff(client):
    sync_role_permissions()
    user = charge_de_mission()
    client.force_login(user)
    return user


# -- participants in the admin ------------------------------------------------------------------


def _participant_post(cycle, candidature) -> dict:
    return {
        "cycle": cycle.pk,
        "candidature": candidature.pk,
        "membres-TOTAL_FORMS": 0,
        "membres-INITIAL_FORMS": 0,
        "membres-MIN_NUM_FORMS": 0,
        "membres-MAX_NUM_FORMS": 1000,
    }


def test_participant_status_is_read_only_in_the_admin(client, staff, participant):
    url = f"/admin/cycle/participant/{participant.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert sorted(form.fields) == ["candidature", "cycle"]

    data = {
        "cycle": participant.cycle_id,
        "candidature": participant.candidature_id,
        "statut": Participant.Statut.RETIRE,
        "membres-TOTAL_FORMS": 0,
        "membres-INITIAL_FORMS": 0,
        "membres-MIN_NUM_FORMS": 0,
        "membres-MAX_NUM_FORMS": 1000,
    }
    assert client.post(url, data).status_code == 302
    participant.refresh_from_db()
    assert (participant.statut, participant.retire_at) == (Participant.Statut.A_CONFIRMER, None)


def test_admin_adds_only_a_dossier_retained_by_the_cycles_call(client, staff, cycle):
    not_retained = submitted_candidature(cycle.appel)
    retain(not_retained, issue=Issue.LISTE_ATTENTE)
    staged = submitted_candidature(cycle.appel)
    retain(staged, published=False)
    retained = submitted_candidature(cycle.appel)
    retain(retained)

    errors = []
    for candidature in (not_retained, staged):
        response = client.post(
            "/admin/cycle/participant/add/", _participant_post(cycle, candidature)
        )
        errors.append(response.context["adminform"].form.errors["candidature"])
    accepted = client.post("/admin/cycle/participant/add/", _participant_post(cycle, retained))

    message = (
        "Ce dossier n'a pas de décision « retenue » publiée (sans désistement) pour l'appel du "
        f"cycle « {cycle.appel} » : il ne peut pas participer au cycle."
    )
    assert errors == [[message], [message]]
    assert accepted.status_code == 302
    assert list(Participant.objects.values_list("candidature", "statut")) == [
        (retained.pk, Participant.Statut.A_CONFIRMER)
    ]
