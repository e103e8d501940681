"""The network's pages: the directory (contacts by opt-in only), discussions and replies,
attachments, moderation seen by participants; anonymous, wrong user (other cycle, not
retained), withdrawn participation read-only; query counts flat."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from candidatures.models import Collectivite
from cerdd_ami.models import Notification
from cerdd_ami.notifications.services import unread_count
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Discussion, MembreBinome, MessageReseau, Participant
from cycle.reseau import services
from tests.candidatures.factories import complete_candidature
from tests.cycle.factories import MembreBinomeFactory, ParticipantFactory
from tests.cycle.reseau.conftest import pdf_upload, url
from tests.factories import UserFactory, charge_de_mission
from tests.utils import page_text

pytestmark = pytest.mark.django_db


def visible_text(response) -> str:
    """The page's text without its tags, white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page_text(response))).replace(" ,", ",")


def withdraw(participant):
    Participant.objects.filter(pk=participant.pk).update(
        statut=Participant.Statut.RETIRE, retire_at=timezone.now()
    )


def start(participant, user, titre="Mobiliser les jeunes", texte="Comment faites-vous ?"):
    return services.start_discussion(participant=participant, auteur=user, titre=titre, texte=texte)


# Access --------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, participant, claire):
    discussion = start(participant, claire)
    for address in [
        url("annuaire", participant),
        url("discussions", participant),
        url("discussion", participant, discussion.pk),
    ]:
        response = client.get(address)
        assert response.status_code == 302
        assert response["Location"].startswith("/connexion/")


def test_another_cycle_or_a_collectivite_not_retained_gets_404(
    client, participant, claire, participant_ailleurs, zoe
):
    discussion = start(participant, claire)
    # Zoé, of another cycle: neither this participation nor this discussion through hers.
    client.force_login(zoe)
    for address in [
        url("annuaire", participant),
        url("discussions", participant),
        url("discussion", participant, discussion.pk),
        url("discussion", participant_ailleurs, discussion.pk),
        url("message_fichier", participant_ailleurs, discussion.pk, discussion.messages.get().pk),
    ]:
        assert client.get(address).status_code == 404
    assert (
        client.post(
            url("discussion", participant_ailleurs, discussion.pk), {"texte": "Hé"}
        ).status_code
        == 404
    )
    # A collectivité of the same call, not retained: no participation at all.
    not_retained = UserFactory(email="mairie@lievin.test")
    complete_candidature(
        appel=participant.cycle.appel,
        collectivite=Collectivite.objects.get(insee="62510"),
        createur=not_retained,
    )
    client.force_login(not_retained)
    assert client.get(url("annuaire", participant)).status_code == 404
    assert client.get(url("discussion", participant, discussion.pk)).status_code == 404
    assert MessageReseau.objects.count() == 1


# Directory -----------------------------------------------------------------------------------


def test_directory_shows_contacts_only_after_the_persons_own_opt_in(
    client, participant, claire, autre_participant, marc
):
    elu = participant.membres.get(role=MembreBinome.Role.ELU)
    elu.telephone = "03 21 50 50 50"
    elu.save()
    client.force_login(marc)
    text = visible_text(client.get(url("annuaire", autre_participant)))
    collectivite = participant.candidature.collectivite
    assert collectivite.nom in text
    assert f"{elu.nom} — Élu·e, {elu.fonction}" in text
    assert elu.email not in text
    assert "03 21 50 50 50" not in text

    client.force_login(claire)
    response = client.post(url("annuaire_accord", participant), {"action": "accepter"})
    assert response.status_code == 302
    # Only Claire's own row: her binôme partner's address stays hidden.
    technicien = participant.membres.get(role=MembreBinome.Role.TECHNICIEN)
    client.force_login(marc)
    text = visible_text(client.get(url("annuaire", autre_participant)))
    assert f"{elu.email} · 03 21 50 50 50" in text
    assert technicien.email not in text

    client.force_login(claire)
    client.post(url("annuaire_accord", participant), {"action": "retirer"})
    client.force_login(marc)
    assert elu.email not in page_text(client.get(url("annuaire", autre_participant)))


def test_directory_lists_registry_facts_and_leaves_out_withdrawn_collectivites(
    client, participant, claire, autre_participant
):
    collectivite = participant.candidature.collectivite
    withdraw(autre_participant)
    client.force_login(claire)
    text = visible_text(client.get(url("annuaire", participant)))
    population = f"{collectivite.population:,}".replace(",", " ")  # folded by page_text
    assert (
        f"{collectivite.nom} Commune · {population} habitant·es · département 62 · "
        f"EPCI : {collectivite.epci.nom}"
    ) in text
    assert autre_participant.candidature.collectivite.nom not in text


def test_directory_query_count_does_not_grow(client, cycle, participant, claire):
    client.force_login(claire)
    client.get("/")  # the session now remembers the menu's cycle check
    with CaptureQueriesContext(connection) as one:
        assert client.get(url("annuaire", participant)).status_code == 200
    for _ in range(3):
        other = ParticipantFactory(cycle=cycle)
        MembreBinomeFactory(participant=other)
        services.opt_in(
            participant=other,
            user=UserFactory(email=other.membres.filter(titulaire=True).first().email),
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url("annuaire", participant)).status_code == 200
    assert len(many) == len(one)


def test_opt_in_from_a_withdrawn_participation_is_refused_with_a_message(
    client, participant, claire
):
    withdraw(participant)
    client.force_login(claire)
    response = client.post(url("annuaire_accord", participant), {"action": "accepter"}, follow=True)
    assert services.WITHDRAWN in page_text(response)
    assert not participant.membres.filter(consentements_annuaire__isnull=False).exists()


# Discussions ---------------------------------------------------------------------------------


def test_open_a_discussion_and_reply_with_escaped_text_and_line_breaks(
    client, participant, claire, autre_participant, marc
):
    client.force_login(claire)
    response = client.post(
        url("discussions", participant),
        {"titre": "Conseil des jeunes", "theme": "alliances", "seance": "", "texte": "Bonjour"},
    )
    discussion = Discussion.objects.get()
    assert response["Location"] == url("discussion", participant, discussion.pk)
    client.force_login(marc)
    response = client.post(
        url("discussion", autre_participant, discussion.pk),
        {"texte": "<script>alert(1)</script>\nDeuxième ligne", "fichier": pdf_upload()},
    )
    reply = discussion.messages.order_by("pk").last()
    assert (
        response["Location"]
        == f"{url('discussion', autre_participant, discussion.pk)}#message-{reply.pk}"
    )
    html = client.get(url("discussion", autre_participant, discussion.pk)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Deuxième ligne" in html
    assert "<script>alert(1)" not in html
    # Claire downloads Marc's file from her own participation.
    client.force_login(claire)
    response = client.get(url("message_fichier", participant, discussion.pk, reply.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    text = page_text(client.get(url("discussions", participant)))
    assert "Conseil des jeunes" in text
    assert "2 messages" in text


def test_empty_or_oversized_message_is_refused_beside_the_field_and_kept(
    client, participant, claire
):
    discussion = start(participant, claire)
    client.force_login(claire)
    response = client.post(url("discussion", participant, discussion.pk), {"texte": "   "})
    assert response.status_code == 200
    text = page_text(response)
    assert "Votre réponse n'est pas publiée" in text
    assert services.EMPTY_MESSAGE in text
    long_text = "Un long récit. " * 400
    response = client.post(url("discussion", participant, discussion.pk), {"texte": long_text})
    form = response.context["form"]
    assert form.errors == {
        "texte": [
            f"Votre message compte {len(long_text.strip())} caractères : la limite est de 5000. "
            "Raccourcissez-le ou partagez un document en pièce jointe."
        ]
    }
    # Nothing typed is lost: the whole text comes back in the field, no maxlength to cut it.
    assert long_text.strip() in response.content.decode()
    assert "maxlength" not in str(form["texte"])
    assert discussion.messages.count() == 1


def test_disguised_file_is_refused_beside_the_field_with_the_text_kept(client, participant, claire):
    discussion = start(participant, claire)
    client.force_login(claire)
    disguised = SimpleUploadedFile("rapport.pdf", b"MZ\x90\x00 exe", content_type="application/pdf")
    response = client.post(
        url("discussion", participant, discussion.pk),
        {"texte": "Voici le rapport", "fichier": disguised},
    )
    assert response.context["form"].errors == {
        "fichier": [
            "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, PNG, JPEG, "
            "quel que soit son nom."
        ]
    }
    assert "Voici le rapport</textarea>" in response.content.decode()
    assert discussion.messages.count() == 1


def test_withdrawn_participant_reads_but_no_longer_writes(
    client, participant, claire, autre_participant, marc
):
    discussion = start(participant, claire)
    withdraw(autre_participant)
    client.force_login(marc)
    response = client.get(url("discussion", autre_participant, discussion.pk))
    assert response.status_code == 200
    text = page_text(response)
    assert "Comment faites-vous ?" in text
    assert services.WITHDRAWN in text
    assert response.context["form"] is None
    assert client.get(url("discussions", autre_participant)).context["form"] is None
    client.post(url("discussion", autre_participant, discussion.pk), {"texte": "Encore là"})
    client.post(url("discussions", autre_participant), {"titre": "Nouveau", "texte": "Bonjour"})
    assert MessageReseau.objects.count() == 1
    assert Discussion.objects.count() == 1


def test_hidden_message_reads_as_masked_and_its_file_is_gone(
    client, participant, claire, autre_participant, marc
):
    discussion = services.start_discussion(
        participant=participant,
        auteur=claire,
        titre="Outils",
        texte="Un propos déplacé",
        uploaded_file=pdf_upload(),
    )
    message = discussion.messages.get()
    sync_role_permissions()
    services.hide_message(message=message, staff_user=charge_de_mission(), motif="Hors charte")
    client.force_login(marc)
    text = page_text(client.get(url("discussion", autre_participant, discussion.pk)))
    assert "Message masqué par l'équipe." in text
    assert "Un propos déplacé" not in text
    assert "Hors charte" not in text
    address = url("message_fichier", autre_participant, discussion.pk, message.pk)
    assert client.get(address).status_code == 404


def test_follow_and_stop_following(client, participant, claire, autre_participant, marc):
    discussion = start(participant, claire)
    client.force_login(marc)
    address = url("discussion_suivre", autre_participant, discussion.pk)
    assert client.get(address).status_code == 405
    client.post(address, {"action": "suivre"})
    assert list(discussion.abonnements.values_list("user", flat=True).order_by("pk")) == [
        claire.pk,
        marc.pk,
    ]
    client.post(address, {"action": "ne_plus_suivre"})
    assert list(discussion.abonnements.values_list("user", flat=True)) == [claire.pk]


def test_opening_the_discussion_reads_its_notifications_only(
    client, participant, claire, autre_participant, marc
):
    discussion = start(participant, claire)
    other = start(autre_participant, marc, titre="Autre sujet")
    services.set_following(discussion=other, participant=participant, user=claire, follow=True)
    for thread in (discussion, other):
        services.post_message(
            discussion=thread, participant=autre_participant, auteur=marc, texte="Réponse"
        )
    client.force_login(claire)
    claire.refresh_from_db()
    assert unread_count(claire) == 2
    html = client.get("/notifications/").content.decode()
    assert html.count("dans la discussion « Mobiliser les jeunes »") == 1
    assert html.count("dans la discussion « Autre sujet »") == 1

    assert client.get(url("discussion", participant, discussion.pk)).status_code == 200

    assert list(Notification.objects.unread().values_list("url", flat=True)) == [
        Notification.objects.get(url__startswith=url("discussion", participant, other.pk)).url
    ]
    # Marc's own page view reads nothing of Claire's.
    client.force_login(marc)
    client.get(url("discussion", autre_participant, other.pk))
    claire.refresh_from_db()
    assert unread_count(claire) == 1


def test_discussion_pages_query_counts_do_not_grow(
    client, participant, claire, autre_participant, marc
):
    client.force_login(claire)
    client.get("/")  # the session now remembers the menu's cycle check
    discussion = start(participant, claire)
    # A reply for Claire to read on each visit measured: opening the thread marks it read.
    services.post_message(
        discussion=discussion, participant=autre_participant, auteur=marc, texte="Réponse"
    )
    with CaptureQueriesContext(connection) as list_one:
        assert client.get(url("discussions", participant)).status_code == 200
    with CaptureQueriesContext(connection) as thread_one:
        assert client.get(url("discussion", participant, discussion.pk)).status_code == 200
    for index in range(3):
        start(autre_participant, marc, titre=f"Sujet {index}")
        services.post_message(
            discussion=discussion,
            participant=autre_participant,
            auteur=marc,
            texte=f"Réponse {index}",
            uploaded_file=pdf_upload(text=f"Pièce {index}"),
        )
    with CaptureQueriesContext(connection) as list_many:
        assert client.get(url("discussions", participant)).status_code == 200
    with CaptureQueriesContext(connection) as thread_many:
        assert client.get(url("discussion", participant, discussion.pk)).status_code == 200
    assert Discussion.objects.count() == 4
    assert discussion.messages.count() == 5
    assert len(list_many) == len(list_one)
    assert len(thread_many) == len(thread_one)


def test_participant_space_links_the_network(client, participant, claire):
    client.force_login(claire)
    html = client.get("/cycle/").content.decode()
    assert f'href="{url("annuaire", participant)}">Annuaire du cycle</a>' in html
    assert f'href="{url("discussions", participant)}">Discussions</a>' in html
