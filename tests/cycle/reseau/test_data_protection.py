"""Data protection of the network: retention 12 months after the cycle's last séance (with the
other rules of ``purger_donnees``), « mes données » of the dossier and of the network, and the
team's moderation page in the admin."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command

from candidatures.appels.models import end_of_day
from candidatures.retention import purge, shift_months
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import (
    Abonnement,
    ConsentementAnnuaire,
    Discussion,
    MessageReseau,
)
from cycle.reseau import services
from cycle.reseau.retention import CONSENTS, MESSAGES
from tests.cycle.reseau.conftest import pdf_upload, url
from tests.factories import StaffFactory, charge_de_mission
from tests.utils import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(participant, claire, autre_participant, marc, django_capture_on_commit_callbacks):
    services.opt_in(participant=participant, user=claire)
    discussion = services.start_discussion(
        participant=participant,
        auteur=claire,
        titre="Mobiliser les jeunes",
        texte="Comment faites-vous ?",
        uploaded_file=pdf_upload(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(
            discussion=discussion, participant=autre_participant, auteur=marc, texte="Ainsi."
        )
    return discussion


def end_of_cycle(cycle):
    return end_of_day(cycle.seances.order_by("-date").first().date)


def test_network_is_deleted_12_months_after_the_last_seance(
    cycle, network, django_capture_on_commit_callbacks
):
    stored = network.messages.exclude(fichier="").get().fichier
    storage, name = stored.storage, stored.name
    assert storage.exists(name)
    limit = shift_months(end_of_cycle(cycle), 12)
    with django_capture_on_commit_callbacks(execute=True):
        counts = purge(now=limit - timedelta(seconds=1))
    assert (counts[MESSAGES], counts[CONSENTS]) == (0, 0)
    assert MessageReseau.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        counts = purge(now=limit + timedelta(seconds=1))
    assert (counts[MESSAGES], counts[CONSENTS]) == (1, 1)
    assert [
        model.objects.count()
        for model in (Discussion, MessageReseau, Abonnement, ConsentementAnnuaire)
    ] == [0, 0, 0, 0]
    assert MessageReseau.history.model.objects.count() == 0
    assert not storage.exists(name)


def test_purger_donnees_reports_the_network_rule(cycle, network, capsys, time_machine):
    time_machine.move_to(shift_months(end_of_cycle(cycle), 12) + timedelta(days=1))
    call_command("purger_donnees", "--dry-run")
    output = capsys.readouterr().out
    assert f"{MESSAGES} à supprimer : 1" in output
    assert f"{CONSENTS} à supprimer : 1" in output
    assert Discussion.objects.count() == 1


def test_my_data_holds_my_messages_consents_and_follows_only(client, participant, claire, network):
    client.force_login(claire)
    for address in (
        f"/candidature/{participant.candidature.pk}/mes-donnees/",
        url("reseau_mes_donnees", participant),
    ):
        response = client.get(address)
        assert response.status_code == 200
        data = json.loads(response.content)
        reseau = data.get("reseau_des_participants", data)
        consent = ConsentementAnnuaire.objects.get()
        assert reseau["accords_annuaire"] == [
            {
                "membre": consent.membre.nom,
                "accord_donne_le": str(consent.consenti_at),
                "accord_retire_le": None,
            }
        ]
        assert reseau["discussions_suivies"] == ["Mobiliser les jeunes"]
        assert [(m["texte"], m["piece_jointe"]) for m in reseau["messages"]] == [
            ("Comment faites-vous ?", "compte-rendu.pdf")
        ]


def test_network_data_download_is_the_participants_own(
    client, participant, network, participant_ailleurs, zoe
):
    assert client.get(url("reseau_mes_donnees", participant)).status_code == 302
    client.force_login(zoe)
    assert client.get(url("reseau_mes_donnees", participant)).status_code == 404


def test_staff_hide_a_message_from_the_admin_with_a_reason(
    client, network, mailoutbox, django_capture_on_commit_callbacks
):
    sync_role_permissions()
    charge = charge_de_mission()
    message = network.messages.order_by("pk").last()
    client.force_login(charge)
    page = page_text(client.get(f"/admin/cycle/discussion/{network.pk}/change/"))
    assert "Ainsi." in page
    address = f"/admin/cycle/messagereseau/{message.pk}/masquer/"
    response = client.post(address, {"motif": ""})
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in page_text(response)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(address, {"motif": "Hors sujet"})
    assert response["Location"] == f"/admin/cycle/discussion/{network.pk}/change/"
    message.refresh_from_db()
    assert (message.masque_par, message.masque_motif) == (charge, "Hors sujet")
    assert [m.to for m in mailoutbox][-1] == ["marc@lens.test"]
    assert "Masqué : Hors sujet" in page_text(
        client.get(f"/admin/cycle/discussion/{network.pk}/change/")
    )


def test_moderation_page_needs_the_permission(client, network, marc):
    message = network.messages.first()
    client.force_login(StaffFactory())
    assert client.get(f"/admin/cycle/messagereseau/{message.pk}/masquer/").status_code == 403
    client.force_login(marc)
    assert client.get(f"/admin/cycle/messagereseau/{message.pk}/masquer/").status_code == 302
    assert MessageReseau.objects.filter(masque_at__isnull=False).count() == 0
