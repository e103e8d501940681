"""The network's workflows: the directory opt-in (own rows only, dated, revocable),
discussions and replies (checks, withdrawn participation, files), following and the e-mails
to followers (once each), the team's moderation."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from cerdd_ami.models import Notification, Preference
from cerdd_ami.notifications.services import send_digests, send_notification, set_preference
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import (
    Abonnement,
    ConsentementAnnuaire,
    Discussion,
    MembreBinome,
    MessageReseau,
    Participant,
)
from cycle.reseau import services
from tests.conftest import run_worker
from tests.cycle.factories import ParticipantFactory
from tests.cycle.reseau.conftest import pdf_upload
from tests.factories import StaffFactory, UserFactory, charge_de_mission

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge():
    sync_role_permissions()
    return charge_de_mission()


def withdraw(participant):
    Participant.objects.filter(pk=participant.pk).update(
        statut=Participant.Statut.RETIRE, retire_at=timezone.now()
    )
    participant.refresh_from_db()


# Directory -----------------------------------------------------------------------------------


def test_opt_in_records_the_persons_own_consent_with_its_date(participant, claire):
    before = timezone.now()
    assert services.opt_in(participant=participant, user=claire) == 1
    consent = ConsentementAnnuaire.objects.get()
    elu = participant.membres.get(role=MembreBinome.Role.ELU)
    assert (consent.membre, consent.user, consent.revoque_at) == (elu, claire, None)
    assert consent.consenti_at >= before
    # Twice: still one active consent.
    assert services.opt_in(participant=participant, user=claire) == 0
    assert ConsentementAnnuaire.objects.count() == 1


def test_revoking_keeps_the_record_and_a_new_opt_in_is_a_new_row(participant, claire):
    services.opt_in(participant=participant, user=claire)
    assert services.revoke_opt_in(participant=participant, user=claire) == 1
    first = ConsentementAnnuaire.objects.get()
    assert first.revoque_at is not None
    assert ConsentementAnnuaire.objects.actifs().count() == 0
    services.opt_in(participant=participant, user=claire)
    assert ConsentementAnnuaire.objects.count() == 2
    assert ConsentementAnnuaire.objects.actifs().get().pk != first.pk


def test_opt_in_only_for_a_binome_member_of_the_participation(participant, autre_participant, marc):
    with pytest.raises(PermissionDenied):
        services.opt_in(participant=participant, user=marc)
    # A référent·e of the dossier who is in no binôme has nothing to show.
    referent = UserFactory(email="dgs@arras.test")
    participant.candidature.acces.create(user=referent, role="coreferent")
    with pytest.raises(ValidationError) as error:
        services.opt_in(participant=participant, user=referent)
    assert error.value.messages == [services.NOT_A_MEMBER]
    assert not ConsentementAnnuaire.objects.exists()


def test_withdrawn_participation_cannot_opt_in_but_can_revoke(participant, claire):
    services.opt_in(participant=participant, user=claire)
    withdraw(participant)
    with pytest.raises(ValidationError):
        services.opt_in(participant=participant, user=claire)
    assert services.revoke_opt_in(participant=participant, user=claire) == 1


# Discussions ---------------------------------------------------------------------------------


def start(participant, user, **kwargs):
    values = {"titre": "Mobiliser les jeunes", "texte": "Comment faites-vous ?"} | kwargs
    return services.start_discussion(participant=participant, auteur=user, **values)


def test_start_discussion_writes_the_first_message_and_follows_it(participant, claire, cycle):
    seance = cycle.seances.get(numero=2)
    discussion = start(participant, claire, theme="alliances", seance=seance)
    assert (discussion.cycle, discussion.seance, discussion.theme) == (cycle, seance, "alliances")
    message = discussion.messages.get()
    elu = participant.membres.get(role=MembreBinome.Role.ELU)
    # Signed with the binôme row's name, never the address.
    assert (message.texte, message.auteur, message.auteur_nom) == (
        "Comment faites-vous ?",
        claire,
        elu.nom,
    )
    assert list(Abonnement.objects.values_list("user", flat=True)) == [claire.pk]


def test_start_discussion_refuses_empty_long_and_foreign_input(
    participant, claire, participant_ailleurs
):
    with pytest.raises(ValidationError) as error:
        start(
            participant,
            claire,
            titre="  ",
            texte=" \n ",
            theme="inconnu",
            seance=participant_ailleurs.cycle.seances.first(),
        )
    assert error.value.message_dict == {
        "titre": [services.EMPTY_TITLE],
        "texte": [services.EMPTY_MESSAGE],
        "theme": ["Choisissez un thème de la liste."],
        "seance": ["Cette séance n'appartient pas au cycle de votre collectivité."],
    }
    with pytest.raises(ValidationError) as error:
        start(participant, claire, texte="x" * 5001)
    assert error.value.message_dict == {
        "texte": [
            "Votre message compte 5001 caractères : la limite est de 5000. Raccourcissez-le ou "
            "partagez un document en pièce jointe."
        ]
    }
    assert not Discussion.objects.exists()


def test_post_message_refuses_strangers_other_cycles_and_withdrawn(
    participant, claire, autre_participant, marc, participant_ailleurs, zoe
):
    discussion = start(participant, claire)
    with pytest.raises(PermissionDenied):
        services.post_message(
            discussion=discussion, participant=participant, auteur=marc, texte="Bonjour"
        )
    with pytest.raises(PermissionDenied):
        services.post_message(
            discussion=discussion, participant=participant_ailleurs, auteur=zoe, texte="Bonjour"
        )
    withdraw(autre_participant)
    with pytest.raises(ValidationError) as error:
        services.post_message(
            discussion=discussion, participant=autre_participant, auteur=marc, texte="Bonjour"
        )
    assert error.value.messages == [services.WITHDRAWN]
    assert discussion.messages.count() == 1


def test_attachment_is_checked_by_content_and_stored(participant, claire):
    discussion = start(participant, claire, uploaded_file=pdf_upload())
    message = discussion.messages.get()
    assert (message.nom_original, message.type_mime) == ("compte-rendu.pdf", "application/pdf")
    with message.fichier.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    disguised = SimpleUploadedFile("photo.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    with pytest.raises(ValidationError) as error:
        services.post_message(
            discussion=discussion,
            participant=participant,
            auteur=claire,
            texte="Voici le fichier",
            uploaded_file=disguised,
        )
    assert error.value.message_dict == {
        "fichier": [
            "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, PNG, JPEG, "
            "quel que soit son nom."
        ]
    }
    assert discussion.messages.count() == 1


# Followers -----------------------------------------------------------------------------------


def reply(discussion, participant, auteur, texte="Nous avons un conseil des jeunes."):
    return services.post_message(
        discussion=discussion, participant=participant, auteur=auteur, texte=texte
    )


def test_a_reply_mails_each_other_follower_once_with_a_link_and_one_click_unsubscribe(
    participant, claire, autre_participant, marc, django_capture_on_commit_callbacks
):
    discussion = start(participant, claire)
    with django_capture_on_commit_callbacks(execute=True):
        message = reply(discussion, autre_participant, marc, texte="Un conseil <b>des jeunes</b>")
        assert mail.outbox == []  # nothing before the commit

    # Claire follows (she opened it); Marc wrote it and is not told of his own message.
    assert [m.to for m in mail.outbox] == [["claire@arras.test"]]
    sent = mail.outbox[0]
    collectivite = autre_participant.candidature.collectivite.nom
    nom = autre_participant.membres.get(role=MembreBinome.Role.TECHNICIEN).nom
    titre = f"Nouveau message de {nom} ({collectivite}) dans la discussion « Mobiliser les jeunes »"
    assert sent.subject == titre
    link = (
        f"http://127.0.0.1:8000/cycle/{participant.pk}/reseau/discussions/{discussion.pk}/"
        f"#message-{message.pk}"
    )
    assert f"{titre}, que vous suivez." in sent.body
    assert link in sent.body
    assert f'href="{link}"' in sent.alternatives[0][0]
    # The message's words stay on the site.
    assert "conseil" not in sent.body
    assert sent.extra_headers["List-Unsubscribe"].startswith(
        "<http://127.0.0.1:8000/notifications/desabonnement/"
    )
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    notification = Notification.objects.get()
    assert (notification.user, notification.titre, notification.url) == (
        claire,
        titre,
        f"/cycle/{participant.pk}/reseau/discussions/{discussion.pk}/#message-{message.pk}",
    )
    assert notification.emailed_at is not None
    # The task run again sends nothing again.
    assert send_notification.call(notification_id=notification.pk) is False
    assert len(mail.outbox) == 1


def test_a_reply_is_mailed_once_by_the_worker_run_twice(
    participant, claire, autre_participant, marc, database_queue
):
    discussion = start(participant, claire)
    with transaction.atomic():
        reply(discussion, autre_participant, marc)
    assert mail.outbox == []

    run_worker()
    run_worker()

    assert [m.to for m in mail.outbox] == [["claire@arras.test"]]
    assert Notification.objects.get().emailed_at is not None


def test_each_follower_is_sent_to_the_discussion_in_their_own_participation(
    participant, claire, autre_participant, marc, cycle, django_capture_on_commit_callbacks
):
    third = ParticipantFactory(cycle=cycle)
    lea = UserFactory(email="lea@bethune.test")
    third.membres.filter(role=MembreBinome.Role.ELU).update(user=lea)
    discussion = start(participant, claire)
    reply(discussion, third, lea, texte="Je suis aussi intéressée.")
    with django_capture_on_commit_callbacks(execute=True):
        message = reply(discussion, autre_participant, marc)

    path = f"/reseau/discussions/{discussion.pk}/#message-{message.pk}"
    notified = Notification.objects.filter(url__endswith=f"#message-{message.pk}")
    assert sorted(notified.values_list("user__email", "url")) == [
        ("claire@arras.test", f"/cycle/{participant.pk}{path}"),
        ("lea@bethune.test", f"/cycle/{third.pk}{path}"),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["claire@arras.test", "lea@bethune.test"]


def test_a_follower_who_chose_the_digest_finds_the_reply_in_it_once(
    participant, claire, autre_participant, marc, django_capture_on_commit_callbacks
):
    set_preference(user=claire, mode=Preference.Mode.RESUME)
    discussion = start(participant, claire)
    with django_capture_on_commit_callbacks(execute=True):
        message = reply(discussion, autre_participant, marc)
    assert mail.outbox == []

    assert send_digests.call() == {"resumes": 1, "notifications": 1, "echecs": 0}
    assert send_digests.call() == {"resumes": 0, "notifications": 0, "echecs": 0}

    assert [m.to for m in mail.outbox] == [["claire@arras.test"]]
    digest = mail.outbox[0]
    assert digest.subject == "1 nouveauté sur votre espace du Cerdd"
    titre = Notification.objects.get(user=claire).titre
    assert titre.endswith("dans la discussion « Mobiliser les jeunes »")
    assert f"- {titre} (" in digest.body
    assert (
        f"http://127.0.0.1:8000/cycle/{participant.pk}/reseau/discussions/{discussion.pk}/"
        f"#message-{message.pk}"
    ) in digest.body
    assert digest.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_follower_who_chose_nothing_gets_no_email_but_sees_it_on_the_site(
    participant, claire, autre_participant, marc, django_capture_on_commit_callbacks
):
    set_preference(user=claire, mode=Preference.Mode.AUCUN)
    discussion = start(participant, claire)
    with django_capture_on_commit_callbacks(execute=True):
        reply(discussion, autre_participant, marc)

    assert send_digests.call() == {"resumes": 0, "notifications": 0, "echecs": 0}
    assert mail.outbox == []
    notification = Notification.objects.get()
    assert (notification.user, notification.read_at, notification.emailed_at) == (
        claire,
        None,
        None,
    )


def test_followers_who_stopped_or_withdrew_get_nothing(
    participant, claire, autre_participant, marc, django_capture_on_commit_callbacks
):
    discussion = start(participant, claire)
    services.set_following(
        discussion=discussion, participant=participant, user=claire, follow=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply(discussion, autre_participant, marc, texte="Bonjour")
    assert mail.outbox == []
    services.set_following(discussion=discussion, participant=participant, user=claire, follow=True)
    withdraw(participant)
    with django_capture_on_commit_callbacks(execute=True):
        reply(discussion, autre_participant, marc, texte="Encore")
    assert mail.outbox == []
    assert Notification.objects.count() == 0


# Moderation ----------------------------------------------------------------------------------


def test_hide_message_logs_it_and_tells_the_author(
    participant, claire, charge, mailoutbox, django_capture_on_commit_callbacks
):
    message = start(participant, claire, texte="Un propos déplacé").messages.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.hide_message(message=message, staff_user=charge, motif="Propos injurieux")
    message.refresh_from_db()
    assert (message.masque_par, message.masque_motif) == (charge, "Propos injurieux")
    assert message.masque_at is not None
    record = message.history.first()
    assert (record.history_user, record.history_change_reason) == (
        charge,
        "Masqué : Propos injurieux",
    )
    assert [m.to for m in mailoutbox] == [["claire@arras.test"]]
    assert mailoutbox[0].subject == (
        "Votre message dans la discussion « Mobiliser les jeunes » a été masqué"
    )
    assert "Propos injurieux" in mailoutbox[0].body
    with pytest.raises(ValidationError):
        services.hide_message(message=message, staff_user=charge, motif="Encore")
    assert len(mailoutbox) == 1


def test_hide_message_withdraws_its_digest_line_not_what_was_already_sent(
    participant, claire, autre_participant, marc, charge, django_capture_on_commit_callbacks
):
    set_preference(user=claire, mode=Preference.Mode.RESUME)
    discussion = start(participant, claire)
    with django_capture_on_commit_callbacks(execute=True):
        hidden = reply(discussion, autre_participant, marc, texte="Un propos déplacé")
        kept = reply(discussion, autre_participant, marc, texte="Un message correct")
    sent_at = timezone.now()
    # Claire already received the other one (as if by an earlier digest).
    Notification.objects.filter(user=claire, url__endswith=f"#message-{kept.pk}").update(
        emailed_at=sent_at
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.hide_message(message=hidden, staff_user=charge, motif="Propos injurieux")

    assert list(Notification.objects.filter(user=claire).values_list("url", "emailed_at")) == [
        (
            f"/cycle/{participant.pk}/reseau/discussions/{discussion.pk}/#message-{kept.pk}",
            sent_at,
        )
    ]
    claire.refresh_from_db()
    assert claire.notifications_non_lues == 1
    assert send_digests.call() == {"resumes": 0, "notifications": 0, "echecs": 0}


def test_hide_message_needs_staff_with_permission_and_a_reason(participant, claire, charge):
    message = start(participant, claire).messages.get()
    for user in (claire, StaffFactory()):
        with pytest.raises(PermissionDenied):
            services.hide_message(message=message, staff_user=user, motif="Hors sujet")
    with pytest.raises(ValidationError) as error:
        services.hide_message(message=message, staff_user=charge, motif=" ")
    assert error.value.message_dict == {
        "motif": ["Indiquez le motif : son auteur·rice le recevra."]
    }
    assert MessageReseau.objects.get().masque_at is None
